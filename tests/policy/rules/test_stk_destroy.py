"""The cases of platform_spec/rules/stk_destroy.py (STK-DESTROY-001, STK-DESTROY-002), run by the shared tests
(tests/policy/fixtures.py gathers every rule's); and its predicates on plain values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from platform_spec.result import Status
from platform_spec.rules import stk_destroy
from tests.policy.mutations import first, props
from tests.policy.templates import db, log_group, params, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-DESTROY-001": {"pass": template({"Logs": {**log_group(), "DeletionPolicy": "Delete"}}),
                        "fail": template({"Logs": {**log_group(), "DeletionPolicy": "Retain"}})},
    "STK-DESTROY-002": {"pass": template({"Params": params(), "Db": db()}),
                        "fail": template({"Params": params(), "Db": db(DeletionProtection=True)})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "rds-deletion-protection": (lambda t: props(t, "AWS::RDS::DBInstance").update(DeletionProtection=True),
                                "STK-DESTROY-002"),
    "log-group-retained": (lambda t: first(t, "AWS::Logs::LogGroup").update(DeletionPolicy="Retain"),
                           "STK-DESTROY-001"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-DESTROY-002", "database protected", lambda p: props(p, "AWS::RDS::DBInstance").update(
        DeletionProtection=True)),
    ("STK-DESTROY-002", "load balancer protected", lambda p: props(
        p, "AWS::ElasticLoadBalancingV2::LoadBalancer").setdefault("LoadBalancerAttributes", []).append(
        {"Key": "deletion_protection.enabled", "Value": "true"})),
]


@pytest.mark.parametrize("resource, status", [
    ({"Type": "AWS::S3::Bucket"}, Status.PASS),
    ({"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"}, Status.FAIL),
    ({"Type": "AWS::Logs::LogGroup", "UpdateReplacePolicy": "RetainExceptOnCreate"}, Status.FAIL),
    ({"Type": "AWS::RDS::DBInstance"}, Status.FAIL),
    ({"Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Snapshot"}, Status.FAIL),
    ({"Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Delete"}, Status.PASS),
])
def test_destroy_policy_predicate(resource, status):
    assert stk_destroy.check_policies(resource).status is status


def test_deletion_protection_predicate():
    lb = "AWS::ElasticLoadBalancingV2::LoadBalancer"
    on = {"LoadBalancerAttributes": [{"Key": "deletion_protection.enabled", "Value": "true"}]}
    assert stk_destroy.check_protection(lb, on).status is Status.FAIL
    assert stk_destroy.check_protection("AWS::RDS::DBInstance", {"DeletionProtection": True}).failed
    assert stk_destroy.check_protection("AWS::Logs::LogGroup", {"DeletionProtectionEnabled": "true"}).failed
    assert stk_destroy.check_protection("AWS::RDS::DBInstance", {"DeletionProtection": False}).status is Status.PASS
