"""The cases of platform_spec/rules/stk_api_waf.py (STK-API-005), run by the shared tests (tests/policy/fixtures.py
gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from platform_spec.result import Status
from tests.policy.mutations import drop, drop_first
from tests.policy.templates import guarded_stage, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-API-005": {"pass": template(guarded_stage(True)), "fail": template(guarded_stage(False))},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "waf-association-removed": (lambda t: drop(t, "AWS::WAFv2::WebACLAssociation"), "STK-API-005"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-API-005", "no web ACL", lambda p: drop_first(p, "AWS::WAFv2::WebACLAssociation")),
]


def _associated_through_sub(web_acl_arn: Any) -> dict[str, Any]:
    resources = guarded_stage(True)
    resources["Association"]["Properties"] = {
        "ResourceArn": {"Fn::Sub": "arn:aws:apigateway:${AWS::Region}::/restapis/${Api}/stages/${Stage}"},
        "WebACLArn": web_acl_arn}
    return resources


def test_a_stage_associated_through_fn_sub_is_associated():
    """A reference made through Fn::Sub is a reference: the stage an association names in a Sub is guarded."""
    from platform_spec.rules.stk_api_waf import check_associated

    verdicts = dict(check_associated(_associated_through_sub({"Fn::Sub": "${Acl.Arn}"})))
    assert verdicts["Stage"].status is Status.PASS and "Acl" in verdicts["Stage"].reason


def test_an_acl_arn_spelled_with_pseudo_parameters_is_an_acl_by_arn():
    """${AWS::Region} and ${AWS::AccountId} in the ACL's ARN name no resource: the ACL is one given by ARN, as the
    same ARN written out is, not one of this stack's that is missing."""
    from platform_spec.rules.stk_api_waf import check_associated

    arn = {"Fn::Sub": "arn:aws:wafv2:${AWS::Region}:${AWS::AccountId}:regional/webacl/shared/1"}
    verdicts = dict(check_associated(_associated_through_sub(arn)))
    assert verdicts["Stage"].status is Status.PASS and "(an ACL by ARN)" in verdicts["Stage"].reason
