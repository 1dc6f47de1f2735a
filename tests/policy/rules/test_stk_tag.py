"""The cases of platform_spec/rules/stk_tag.py (STK-TAG-001), run by the shared tests (tests/policy/fixtures.py
gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
