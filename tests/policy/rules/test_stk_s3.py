"""The cases of platform_spec/rules/stk_s3.py (STK-S3-001, STK-S3-002), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props, without_tls_deny
from tests.policy.templates import bucket, bucket_policy, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-S3-001": {"pass": template({"Bucket": bucket(), "BucketPolicy": bucket_policy(True)}),
                   "fail": template({"Bucket": bucket(block=False), "BucketPolicy": bucket_policy(True)})},
    "STK-S3-002": {"pass": template({"Bucket": bucket(), "BucketPolicy": bucket_policy(True)}),
                   "fail": template({"Bucket": bucket(), "BucketPolicy": bucket_policy(False)})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "bucket-public": (lambda t: props(t, "AWS::S3::Bucket")["PublicAccessBlockConfiguration"].update(
        BlockPublicPolicy=False), "STK-S3-001"),
    "bucket-tls-policy-removed": (lambda t: [t["Resources"].pop(k) for k, v in list(t["Resources"].items())
                                             if v["Type"] == "AWS::S3::BucketPolicy"], "STK-S3-002"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-S3-001", "public policy allowed", lambda p: props(p, "AWS::S3::Bucket")[
        "PublicAccessBlockConfiguration"].update(BlockPublicPolicy=False)),
    ("STK-S3-002", "TLS deny gone", lambda p: without_tls_deny(props(p, "AWS::S3::BucketPolicy"), "PolicyDocument")),
]
