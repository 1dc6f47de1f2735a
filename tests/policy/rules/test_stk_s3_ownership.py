"""The cases of platform_spec/rules/stk_s3_ownership.py (STK-S3-003), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props
from tests.policy.templates import bucket, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-S3-003": {"pass": template({"Bucket": bucket(OwnershipControls={
                       "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})}),
                   "fail": template({"Bucket": bucket(OwnershipControls={
                       "Rules": [{"ObjectOwnership": "ObjectWriter"}]})})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "bucket-acls-on": (lambda t: props(t, "AWS::S3::Bucket").update(
        OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}), "STK-S3-003"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-S3-003", "ACLs on", lambda p: props(p, "AWS::S3::Bucket").update(
        OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})),
]
