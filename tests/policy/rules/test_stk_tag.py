"""The cases of platform_spec/rules/stk_tag.py (STK-TAG-001), run by the shared tests (tests/policy/fixtures.py
gathers every rule's); and its predicate on plain values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from platform_spec.result import Status
from platform_spec.rules import stk_tag
from tests.policy.mutations import props
from tests.policy.templates import TAGS, log_group, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-TAG-001": {"pass": template({"Logs": log_group()}),
                    "fail": template({"Logs": log_group(Tags=[t for t in TAGS if t["Key"] != "Owner"])})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "tag-removed": (lambda t: props(t, "AWS::EC2::VPC").update(
        Tags=[x for x in props(t, "AWS::EC2::VPC")["Tags"] if x["Key"] != "CostCenter"]), "STK-TAG-001"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-TAG-001", "EC2 tag gone", lambda p: props(p, "AWS::EC2::VPC").update(
        Tags=[t for t in props(p, "AWS::EC2::VPC")["Tags"] if t["Key"] != "CostCenter"])),
    ("STK-TAG-001", "queue tag gone", lambda p: props(p, "AWS::SQS::Queue").update(
        Tags=[t for t in props(p, "AWS::SQS::Queue")["Tags"] if t["Key"] != "Owner"])),
]


def test_tag_predicate():
    required = ("Project", "Owner")
    good = {"Tags": [{"Key": "Project", "Value": "p"}, {"Key": "Owner", "Value": "o"}]}
    assert stk_tag.check("AWS::EC2::VPC", good, required).status is Status.PASS
    assert stk_tag.check("AWS::EC2::VPC", {"Tags": [{"Key": "Project", "Value": "p"}]}, required).failed
    assert stk_tag.check("AWS::EC2::VPC", good, required, {"Owner": "someone-else"}).failed
    assert stk_tag.check("AWS::EFS::FileSystem", {"FileSystemTags": good["Tags"]}, required).status is Status.PASS
    assert stk_tag.check("AWS::EC2::Route", {}, required).status is Status.NOT_APPLICABLE
