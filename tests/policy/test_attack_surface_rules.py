"""The attack-surface predicates case by case: every way each one fails, and what it must let through (what the
stack itself declares, and what AWS itself keeps)."""

from __future__ import annotations

import pytest

from platform_spec.context import Context
from platform_spec.registry import BY_ID
from platform_spec.result import Status
from platform_spec.rules import live_only, stk_api_auth, stk_ecs_task, stk_iam_trust, stk_resource_policy

OWN = "123456789012"


def judge(rule_id: str, resource_type: str, properties: dict, account: str | None = None) -> Status:
    return BY_ID[rule_id].evaluate(resource_type, properties, Context(account=account)).status


def container(**changes) -> dict:
    return {"Name": "app", "ReadonlyRootFilesystem": True, **changes}


@pytest.mark.parametrize(("task", "status"), [
    ({"NetworkMode": "awsvpc", "ContainerDefinitions": [container()]}, Status.PASS),
    ({"NetworkMode": "host", "ContainerDefinitions": [container()]}, Status.FAIL),
    ({"PidMode": "host", "ContainerDefinitions": [container()]}, Status.FAIL),
    ({"IpcMode": "host", "ContainerDefinitions": [container()]}, Status.FAIL),
    ({"ContainerDefinitions": [container(Privileged="true")]}, Status.FAIL),
    ({"ContainerDefinitions": [container(LinuxParameters={"Capabilities": {"Add": ["sys_admin"]}})]}, Status.FAIL),
    ({"ContainerDefinitions": [container(LinuxParameters={"Capabilities": {"Add": ["NET_BIND_SERVICE"]}})]},
     Status.PASS),
])
def test_host_isolation(task, status):
    assert judge(stk_ecs_task.HOST_ID, stk_ecs_task.TYPE, task) is status


def test_read_only_root_needs_containers_and_every_one_read_only():
    assert judge(stk_ecs_task.READ_ONLY_ID, stk_ecs_task.TYPE, {}) is Status.FAIL
    assert judge(stk_ecs_task.READ_ONLY_ID, stk_ecs_task.TYPE, {"ContainerDefinitions": [
        container(), {"Name": "sidecar"}]}) is Status.FAIL


def trust(*principals) -> dict:
    return {"AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": p} for p in principals]}}


@pytest.mark.parametrize(("properties", "status"), [
    (trust({"Service": "ecs-tasks.amazonaws.com"}), Status.PASS),
    (trust({"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]}), Status.PASS),
    (trust("*"), Status.FAIL),
    (trust({"AWS": "*"}), Status.FAIL),
    (trust({"AWS": f"arn:aws:iam::{OWN}:root"}), Status.FAIL),  # even the own account: the roles are services'
    (trust({"Federated": "cognito-identity.amazonaws.com"}), Status.FAIL),
    (trust({"Service": "evil.example.com"}), Status.FAIL),
    (trust({}), Status.FAIL),
    ({"AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                  "NotPrincipal": {"AWS": "x"}}]}}, Status.FAIL),
    ({}, Status.FAIL),
])
def test_trust(properties, status):
    assert judge(stk_iam_trust.RULE_ID, stk_iam_trust.TYPE, properties) is status


def allow(principal, **extra) -> dict:
    return {"Effect": "Allow", "Principal": principal, "Action": "sqs:SendMessage", "Resource": "*", **extra}


@pytest.mark.parametrize(("statement", "account", "status"), [
    (allow("*"), None, Status.FAIL),
    (allow({"AWS": ["*"]}), None, Status.FAIL),
    (allow("*", Condition={"ArnEquals": {"aws:SourceArn": "arn:aws:events:x"}}), None, Status.PASS),
    (allow("*", Condition={"StringEquals": {"AWS:SourceAccount": OWN}}), None, Status.PASS),  # keys ignore case
    (allow("*", Condition={"Bool": {"aws:SecureTransport": "true"}}), None, Status.FAIL),  # TLS pins nobody
    (allow({"AWS": "arn:aws:iam::999999999999:root"}), OWN, Status.FAIL),
    (allow({"AWS": "999999999999"}), OWN, Status.FAIL),
    (allow({"AWS": f"arn:aws:iam::{OWN}:role/task"}), OWN, Status.PASS),
    (allow({"AWS": {"Fn::Join": ["", ["arn:aws:iam::", {"Ref": "AWS::AccountId"}, ":root"]]}}), OWN, Status.PASS),
    (allow({"AWS": "arn:aws:iam::999999999999:root"}), None, Status.PASS),  # account unknown: not judged
    (allow({"Service": "events.amazonaws.com"}), OWN, Status.PASS),
    ({**allow("*"), "Effect": "Deny"}, None, Status.PASS),
])
def test_resource_policies(statement, account, status):
    properties = {"PolicyDocument": {"Statement": [statement]}}
    assert judge(stk_resource_policy.RULE_ID, "AWS::SQS::QueuePolicy", properties, account) is status


def test_a_secret_policy_given_as_text_is_read_and_garbage_fails():
    import json

    text = json.dumps({"Statement": [allow("*")]})
    assert judge(stk_resource_policy.RULE_ID, "AWS::SecretsManager::ResourcePolicy", {"ResourcePolicy": text}) \
        is Status.FAIL
    assert judge(stk_resource_policy.RULE_ID, "AWS::SecretsManager::ResourcePolicy", {"ResourcePolicy": "{"}) \
        is Status.FAIL  # unreadable: nothing shows it grants nobody


@pytest.mark.parametrize(("method", "status"), [
    ({"HttpMethod": "GET", "AuthorizationType": "AWS_IAM"}, Status.PASS),
    ({"HttpMethod": "GET", "AuthorizationType": "COGNITO_USER_POOLS", "ApiKeyRequired": False}, Status.PASS),
    ({"HttpMethod": "GET", "AuthorizationType": "NONE", "ApiKeyRequired": "true"}, Status.PASS),
    ({"HttpMethod": "GET"}, Status.FAIL),
    ({"HttpMethod": "OPTIONS", "AuthorizationType": "NONE", "Integration": {"Type": "MOCK"}}, Status.PASS),
    ({"HttpMethod": "OPTIONS", "AuthorizationType": "NONE", "Integration": {"Type": "HTTP_PROXY"}}, Status.FAIL),
])
def test_method_authorization(method, status):
    assert judge(stk_api_auth.RULE_ID, stk_api_auth.TYPE, method) is status


@pytest.mark.parametrize(("statement", "status"), [
    ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::1:role/task"}, Status.PASS),
    ({"Effect": "Allow", "Action": "iam:Pass*", "Resource": "*"}, Status.FAIL),
    ({"Effect": "Allow", "Action": ["iam:AttachRolePolicy"], "Resource": "arn:aws:iam::1:role/x"}, Status.FAIL),
    ({"Effect": "Allow", "Action": "iam:Put*", "Resource": "arn:aws:iam::1:role/x"}, Status.FAIL),
    ({"Effect": "Deny", "Action": "iam:*", "Resource": "*"}, Status.PASS),
    ({"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}, Status.PASS),
])
def test_escalation(statement, status):
    properties = {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [statement]}}]}
    assert judge("STK-IAM-003", "AWS::IAM::Role", properties) is status


def test_alarm_and_waf_and_ownership_edges():
    assert judge("STK-ALARM-001", "AWS::CloudWatch::Alarm", {"AlarmActions": ["arn"], "ActionsEnabled": "false"}) \
        is Status.FAIL
    assert judge("STK-ALARM-001", "AWS::CloudWatch::Alarm", {}) is Status.FAIL
    assert judge("STK-WAF-001", "AWS::WAFv2::WebACL", {"DefaultAction": {"Block": {}}, "Rules": []}) is Status.FAIL
    assert judge("STK-S3-003", "AWS::S3::Bucket", {}) is Status.FAIL
    assert judge("STK-ECS-006", "AWS::ECS::Service", {"NetworkConfiguration": {"AwsvpcConfiguration": {
        "AssignPublicIp": "ENABLED"}}}) is Status.FAIL


def test_what_grows_next_to_the_declaration_is_named_up_to_five():
    found = [f"grant {n}" for n in range(7)]
    result = live_only.nothing_undeclared({}, {"Undeclared": found})
    assert result.status is Status.FAIL and "7 undeclared" in result.reason and "grant 4" in result.reason \
        and "grant 5" not in result.reason
    assert live_only.nothing_undeclared({}, {"Undeclared": []}).status is Status.PASS


@pytest.mark.parametrize(("rules", "extra", "status"), [
    ({"AutomaticallyAfterDays": 30}, {}, Status.PASS),
    ({"AutomaticallyAfterDays": 365}, {}, Status.FAIL),
    ({"ScheduleExpression": "rate(10 days)"}, {}, Status.PASS),
    ({"ScheduleExpression": "rate(2160 hours)"}, {}, Status.FAIL),  # 90 days > 30
    ({"ScheduleExpression": "cron(0 0 1 */6 ? *)"}, {"NextRotationDate": "+180"}, Status.FAIL),
    ({"ScheduleExpression": "cron(0 0 * * ? *)"}, {"NextRotationDate": "+1"}, Status.PASS),
])
def test_a_rotation_schedule_longer_than_the_policy_fails(rules, extra, status):
    """STK-SECRET-004: a schedule stretched past the allowed age fails before the age itself runs out."""
    from datetime import datetime, timedelta, timezone

    from platform_spec.rules.secrets_live import secret_rotation_age

    now = datetime(2026, 12, 4, tzinfo=timezone.utc)
    last = now - timedelta(days=1)
    secret = {"RotationRules": rules, "LastRotatedDate": last, "NextRotationDate": now + timedelta(days=5)}
    if "NextRotationDate" in extra:
        secret["NextRotationDate"] = last + timedelta(days=int(extra["NextRotationDate"]))
    assert secret_rotation_age(secret, now, 30).status is status
