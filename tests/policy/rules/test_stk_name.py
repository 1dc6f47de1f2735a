"""The cases of platform_spec/rules/stk_name.py (STK-NAME-001), run by the shared tests (tests/policy/fixtures.py
gathers every rule's); and its predicate on plain values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from platform_spec.result import Status
from platform_spec.rules import stk_name
from tests.policy.mutations import props
from tests.policy.templates import log_group, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-NAME-001": {"pass": template({"Logs": log_group()}),
                     "fail": template({"Logs": log_group(LogGroupName="/ecs/Worker_FX")})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "rds-renamed": (lambda t: props(t, "AWS::RDS::DBInstance").update(DBInstanceIdentifier="database-x"),
                    "STK-NAME-001"),
}


@pytest.mark.parametrize("type_, props, status", [
    ("AWS::RDS::DBInstance", {"DBInstanceIdentifier": "rds-prod"}, Status.PASS),
    ("AWS::RDS::DBInstance", {"DBInstanceIdentifier": "rds-staging"}, Status.FAIL),
    ("AWS::RDS::DBInstance", {}, Status.FAIL),
    ("AWS::RDS::DBSubnetGroup", {}, Status.PASS),
    ("AWS::ElastiCache::ReplicationGroup", {"ReplicationGroupId": "redis-" + "x" * 30 + "-prod"}, Status.FAIL),
    ("AWS::EFS::FileSystem", {"FileSystemTags": [{"Key": "Name", "Value": "efs-prod"}]}, Status.PASS),
    ("AWS::Logs::LogGroup", {"LogGroupName": {"Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": "A"}, "/v1"]]}},
     Status.PASS),
    ("AWS::Logs::LogGroup", {"LogGroupName": {"Fn::Join": ["", ["/ecs/", {"Ref": "A"}]]}}, Status.FAIL),
    ("AWS::Logs::LogGroup", {"LogGroupName": 42}, Status.FAIL),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", {"Name": "internal-nlb-prod"}, Status.FAIL),
    ("AWS::EC2::VPC", {}, Status.NOT_APPLICABLE),
])
def test_name_predicate(type_, props, status):
    assert stk_name.check(type_, props, "prod").status is status
