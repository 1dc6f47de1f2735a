"""The attack-surface predicates case by case: every way each one fails, and what it must let through (what the
stack itself declares, and what AWS itself keeps)."""

from __future__ import annotations

import pytest

from platform_spec.context import Context
from platform_spec.registry import BY_ID
from platform_spec.result import Status
from platform_spec.rules import stk_api_auth, stk_ecs_task, stk_iam_trust, stk_net_egress, stk_policy

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
    (allow("*", Condition={"ArnEquals": {"aws:SourceArn": f"arn:aws:events:ap-northeast-1:{OWN}:rule/intake"}}),
     OWN, Status.PASS),
    (allow("*", Condition={"ArnEquals": {"aws:SourceArn": "arn:aws:events:ap-northeast-1:999999999999:rule/x"}}),
     OWN, Status.FAIL),  # a source resource in another account is another account's caller
    (allow("*", Condition={"StringEquals": {"AWS:SourceAccount": OWN}}), None, Status.PASS),  # keys ignore case
    (allow("*", Condition={"Bool": {"aws:SecureTransport": "true"}}), None, Status.FAIL),  # TLS pins nobody
    (allow({"AWS": "arn:aws:iam::999999999999:root"}), OWN, Status.FAIL),
    (allow({"AWS": "999999999999"}), OWN, Status.FAIL),
    (allow({"AWS": f"arn:aws:iam::{OWN}:role/task"}), OWN, Status.PASS),
    (allow({"AWS": {"Fn::Join": ["", ["arn:aws:iam::", {"Ref": "AWS::AccountId"}, ":root"]]}}), OWN, Status.PASS),
    (allow({"AWS": "arn:aws:iam::999999999999:root"}), None, Status.PASS),  # account unknown: not judged
    (allow({"Service": "events.amazonaws.com"}), OWN, Status.PASS),
    ({**allow("*"), "Effect": "Deny"}, None, Status.PASS),
    # Wildcards that pin nothing: any organization's member, any VPC endpoint, any organization's path.
    (allow("*", Condition={"StringLike": {"aws:PrincipalOrgID": "o-*"}}), OWN, Status.FAIL),
    (allow("*", Condition={"StringLike": {"aws:SourceVpce": "vpce-*"}}), OWN, Status.FAIL),
    (allow("*", Condition={"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-*/*"}}), OWN, Status.FAIL),
    (allow("*", Condition={"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-abc123/*"}}), OWN, Status.PASS),
    # An account id written as a number is judged as the same id written as text.
    (allow({"AWS": 111122223333}), OWN, Status.FAIL),
    (allow({"AWS": [int(OWN), 999999999999]}), OWN, Status.FAIL),
    (allow({"AWS": int(OWN)}), OWN, Status.PASS),
    # Operators in another case are none of IAM's: they pin nothing.
    (allow("*", Condition={"stringnotequals": {"aws:PrincipalAccount": OWN}}), OWN, Status.FAIL),
    (allow("*", Condition={"stringequalsifexists": {"aws:PrincipalAccount": OWN}}), OWN, Status.FAIL),
    # The same digits in another partition are another account.
    (allow({"AWS": f"arn:aws-cn:iam::{OWN}:root"}), OWN, Status.FAIL),
    (allow({"AWS": f"arn:aws-us-gov:iam::{OWN}:role/task"}), OWN, Status.FAIL),
    (allow({"Service": "events.amazonaws.com"}, Condition={"ArnEquals": {
        "aws:SourceArn": f"arn:aws-cn:events:cn-north-1:{OWN}:rule/x"}}), OWN, Status.FAIL),
    # An Effect that is not exactly Deny admits; element names IAM does not know make the policy unreadable.
    ({**allow("*"), "Effect": "allow"}, None, Status.FAIL),
    ({**allow("*"), "Effect": "DENY"}, None, Status.FAIL),
    ({"effect": "Allow", "principal": "*", "action": "sqs:SendMessage", "resource": "*"}, None, Status.FAIL),
    ({"Effect": "Allow", "principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}, None, Status.FAIL),
    ({**allow("*"), "condition": {"StringEquals": {"aws:PrincipalAccount": OWN}}}, OWN, Status.FAIL),
    ({**allow("*"), "Condition": {"StringEquals": {"aws:PrincipalAccount": OWN}}}, OWN, Status.PASS),
    # A Principal that is neither "*" nor a map of principals cannot be read as IAM reads it.
    (allow(["*"]), None, Status.FAIL),
    (allow("arn:aws:iam::999999999999:root"), OWN, Status.FAIL),
    (allow({"AWS": None}), OWN, Status.FAIL),
])
def test_resource_policies(statement, account, status):
    properties = {"PolicyDocument": {"Statement": [statement]}}
    assert judge(stk_policy.RULE_ID, "AWS::SQS::QueuePolicy", properties, account) is status


def test_a_secret_policy_given_as_text_is_read_and_garbage_fails():
    import json

    text = json.dumps({"Statement": [allow("*")]})
    assert judge(stk_policy.RULE_ID, "AWS::SecretsManager::ResourcePolicy", {"ResourcePolicy": text}) \
        is Status.FAIL
    assert judge(stk_policy.RULE_ID, "AWS::SecretsManager::ResourcePolicy", {"ResourcePolicy": "{"}) \
        is Status.FAIL  # unreadable: nothing shows it grants nobody


def test_a_policy_holding_a_key_twice_is_unreadable_not_read_as_its_last_value():
    """Python's json keeps the last of two keys, another reader the first: a document with a key twice has no one
    meaning, and nothing shows it grants nobody."""
    text = '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "x", "Resource": "*", "Effect": "Deny"}]}'
    assert judge(stk_policy.RULE_ID, "AWS::SecretsManager::ResourcePolicy", {"ResourcePolicy": text}) \
        is Status.FAIL
    result = stk_policy.secret_policy(text, OWN)
    assert result.status is Status.FAIL and "'Effect' twice" in result.reason, result.reason


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


def _waf_rule(name: str, *, action: str | None = None, group_override: str | None = None, **group: object) -> dict:
    rule = {"Name": name, "Priority": 0, "VisibilityConfig": {}}
    if action:
        rule |= {"Action": {action: {}}, "Statement": {"RateBasedStatement": {"Limit": 100}}}
    if group_override:
        rule |= {"OverrideAction": {group_override: {}},
                 "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": name, **group}}}
    return rule


@pytest.mark.parametrize(("rules", "status"), [
    ([_waf_rule("rate", action="Block")], Status.PASS),
    ([_waf_rule("rate", action="Challenge")], Status.PASS),
    ([_waf_rule("common", group_override="None")], Status.PASS),
    ([_waf_rule("rate", action="Count")], Status.FAIL),
    ([_waf_rule("rate", action="Allow"), _waf_rule("common", group_override="Count")], Status.FAIL),
    ([_waf_rule("common", group_override="Count"), _waf_rule("bad-inputs", group_override="Count"),
      _waf_rule("rate", action="Block")], Status.PASS),
    # a group whose own rules are switched off one by one, while its OverrideAction still says None
    ([_waf_rule("common", group_override="None", RuleActionOverrides=[
        {"Name": "NoUserAgent_HEADER", "ActionToUse": {"Count": {}}}]), _waf_rule("rate", action="Block")],
     Status.FAIL),
    ([_waf_rule("common", group_override="None", RuleActionOverrides=[
        {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Allow": {}}}])], Status.FAIL),
    ([_waf_rule("common", group_override="None", ExcludedRules=[{"Name": "CrossSiteScripting_BODY"}])],
     Status.FAIL),
    ([_waf_rule("common", group_override="None", RuleActionOverrides=[
        {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Challenge": {}}}])], Status.PASS),
])
def test_a_web_acl_counts_only_when_a_rule_acts(rules, status):
    """Rules that all count (an Action or a group's OverrideAction switched to Count) block nothing: FAIL."""
    assert judge("STK-WAF-001", "AWS::WAFv2::WebACL", {"DefaultAction": {"Allow": {}}, "Rules": rules}) is status


def egress_verdicts(resources: dict) -> dict[str, Status]:
    return {lid: result.status for lid, result in stk_net_egress.check(resources)}


def group(egress=None) -> dict:
    props = {"GroupDescription": "guarded", "VpcId": "vpc-1"}
    if egress is not None:
        props["SecurityGroupEgress"] = egress
    return {"Type": "AWS::EC2::SecurityGroup", "Properties": props}


def guarded_by(kind: str, key: str, **props) -> dict:
    return {"Type": kind, "Properties": {key: [{"Fn::GetAtt": ["Sg", "GroupId"]}], **props}}


NO_TRAFFIC = {"CidrIp": "255.255.255.255/32", "IpProtocol": "icmp", "FromPort": 252, "ToPort": 86}
TO_WORKER = {"DestinationSecurityGroupId": "sg-worker", "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080}


@pytest.mark.parametrize(("egress", "status"), [
    ([NO_TRAFFIC], Status.PASS),
    ([TO_WORKER], Status.PASS),
    ([{"CidrIp": "10.0.0.0/16", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}], Status.PASS),
    ([NO_TRAFFIC, {"CidrIp": "0.0.0.0/0", "IpProtocol": "-1"}], Status.FAIL),
    ([{"CidrIpv6": "::/0", "IpProtocol": "-1"}], Status.FAIL),
    ([{"CidrIp": "203.0.113.7/32", "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432}], Status.PASS),
    ([{"CidrIp": "8.8.8.8/32", "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432}], Status.FAIL),
    ([{"CidrIp": "not-a-range", "IpProtocol": "-1"}], Status.FAIL),
    ("not a list", Status.FAIL),
    ([], Status.PASS),
])
def test_egress_of_a_guarded_group(egress, status):
    # 203.0.113.0/24 is TEST-NET-3 (documentation, not global); 8.8.8.8 is a public host
    assert egress_verdicts({"Sg": group(egress), "Db": guarded_by("AWS::RDS::DBInstance", "VPCSecurityGroups")}) == {
        "Sg": status}


@pytest.mark.parametrize(("kind", "key", "props"), [
    ("AWS::RDS::DBCluster", "VpcSecurityGroupIds", {}),
    ("AWS::ElastiCache::ReplicationGroup", "SecurityGroupIds", {}),
    ("AWS::ElastiCache::CacheCluster", "VpcSecurityGroupIds", {}),
    ("AWS::EFS::MountTarget", "SecurityGroups", {}),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "SecurityGroups", {"Scheme": "internal"}),
])
def test_every_guard_makes_its_group_judged(kind, key, props):
    assert egress_verdicts({"Sg": group([{"CidrIp": "0.0.0.0/0", "IpProtocol": "-1"}]),
                            "Guarded": guarded_by(kind, key, **props)}) == {"Sg": Status.FAIL}


def test_unguarded_and_foreign_groups_are_not_judged():
    worker = group([{"CidrIp": "0.0.0.0/0", "IpProtocol": "-1"}])
    assert egress_verdicts({"Sg": worker}) == {}  # the workers' groups allow all egress by design
    facing = guarded_by("AWS::ElasticLoadBalancingV2::LoadBalancer", "SecurityGroups", Scheme="internet-facing")
    assert egress_verdicts({"Sg": worker, "Lb": facing}) == {}
    assert egress_verdicts({"Db": guarded_by("AWS::RDS::DBInstance", "VPCSecurityGroups")}) == {}


def test_a_group_declaring_no_egress_gets_allow_all_unless_a_standalone_rule_replaces_it():
    db = guarded_by("AWS::RDS::DBInstance", "VPCSecurityGroups")
    assert egress_verdicts({"Sg": group(), "Db": db}) == {"Sg": Status.FAIL}
    standalone = {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
        "GroupId": {"Fn::GetAtt": ["Sg", "GroupId"]}, **TO_WORKER}}
    assert egress_verdicts({"Sg": group(), "Db": db, "Rule": standalone}) == {"Sg": Status.PASS}
    standalone["Properties"].update(CidrIp="0.0.0.0/0", IpProtocol="-1")
    del standalone["Properties"]["DestinationSecurityGroupId"]
    assert egress_verdicts({"Sg": group(), "Db": db, "Rule": standalone}) == {"Sg": Status.FAIL}
