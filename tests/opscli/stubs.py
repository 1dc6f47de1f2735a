"""What the tests on stubbed answers share (botocore's Stubber, for answers moto cannot give or gives otherwise):
one boto3 session for all of them in a process (the `stubbed` fixture of tests/opscli/conftest.py), the small
stacks they read, and the answers several of them give."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from opscli import livestack, stackcheck, targets
from opscli.aws import Aws, new_session
from opscli.stack import build
from platform_spec.tagging import REQUIRED_TAG_KEYS

T = targets.from_suffix("fault")
ACCOUNT = "123456789012"
CMK = f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
NOW = datetime(2026, 11, 26, tzinfo=UTC)
TAGS = [{"Key": k, "Value": "fault" if k == "Environment" else "x"} for k in REQUIRED_TAG_KEYS]


def scope(**resources):
    """A stack of the given resources: logical id -> (type, physical id, declared properties). A resource they
    refer to but the test leaves out (the key a log group names) is declared as a wait-condition handle, which
    no reader reads: a template must declare what it refers to, and the test reads only its own resources."""
    from platform_spec.intrinsics import references

    referred = {lid for _, _, p in resources.values() for lid in references(p)} - set(resources)
    resources = {**resources, **{lid: ("AWS::CloudFormation::WaitConditionHandle", lid, {}) for lid in referred}}
    template = {"Resources": {lid: {"Type": t, "Properties": p} for lid, (t, _, p) in resources.items()}}
    summaries = [{"LogicalResourceId": lid, "ResourceType": t, "PhysicalResourceId": pid,
                  "ResourceStatus": "CREATE_COMPLETE"} for lid, (t, pid, _) in resources.items()]
    return build("TapStackfault", template, summaries, "test")


DB = ("AWS::RDS::DBInstance", "rds-fault", {"Engine": "postgres", "MultiAZ": True})
LOGS = ("AWS::Logs::LogGroup", "/ecs/fault", {"LogGroupName": "/ecs/fault", "RetentionInDays": 30,
                                              "KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}})


def log_answers(stub) -> None:
    stub.add_response("describe_log_groups", {"logGroups": [
        {"logGroupName": "/ecs/fault", "retentionInDays": 30, "kmsKeyId": CMK,
         "arn": f"arn:aws:logs:ap-northeast-1:{ACCOUNT}:log-group:/ecs/fault:*"}]})
    stub.add_response("list_tags_for_resource", {"tags": {t["Key"]: t["Value"] for t in TAGS}})
    stub.add_response("describe_subscription_filters", {"subscriptionFilters": []})


@functools.cache
def session():
    """One boto3 session for every stubbed test of this process (a session registers botocore's hundreds of
    handlers when it is made): each Aws takes the previous one's handlers off it, and its clients are its own. Its
    credentials are the fake ones every stubbed test sets (aws_credentials)."""
    return new_session(region_name="ap-northeast-1")


def read(aws: Aws, **resources) -> livestack.LiveStack:
    """The stack of `resources` (see scope) read as the audit reads it, one reader at a time."""
    return livestack.read_stack(aws, scope(**resources), account=ACCOUNT, max_workers=1)


def subnet(subnet_id: str) -> dict:
    return {"SubnetId": subnet_id, "VpcId": "vpc-1", "CidrBlock": "10.0.0.0/24", "AvailabilityZone": "ap-northeast-1a",
            "MapPublicIpOnLaunch": False, "Tags": TAGS}


def reader_context(aws: Aws, declared, refs: dict[str, str]):
    """What a reader is given, with each {"Ref": id} resolved through `refs` (anything else as it is)."""
    from opscli.readers import ReadContext

    def resolve(value):
        return refs.get(value["Ref"], value) if isinstance(value, dict) and "Ref" in value else value
    return ReadContext(aws=aws, scope=declared, resolve=resolve)


def web_acl_answer() -> dict:
    arn = "arn:aws:wafv2:ap-northeast-1:123456789012:regional/webacl/waf-fault/1"
    return {"WebACL": {"Name": "waf-fault", "Id": "1", "ARN": arn, "DefaultAction": {"Allow": {}}, "Rules": [],
                       "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True,
                                            "MetricName": "m"}}, "LockToken": "t"}


LB_ARN = f"arn:aws:elasticloadbalancing:ap-northeast-1:{ACCOUNT}:loadbalancer/net/nlb-fault/1"


def read_one(aws: Aws, lid: str, rtype: str, pid: str) -> livestack.LiveStack:
    """One resource declared without properties in a stack of its own, read: it must read (state READ)."""
    template = {"Resources": {lid: {"Type": rtype, "Properties": {}}}}
    summaries = [{"LogicalResourceId": lid, "ResourceType": rtype, "PhysicalResourceId": pid,
                  "ResourceStatus": "CREATE_COMPLETE"}]
    live = livestack.read_stack(aws, build("TapStackres", template, summaries, "res"), account=ACCOUNT,
                                max_workers=1)
    assert live.resources[lid].state == livestack.ReadState.READ, live.resources[lid].detail
    return live


def judged(live: livestack.LiveStack, rule_id: str) -> list:
    """The findings of `rule_id` on the read stack."""
    return [f for f in stackcheck.judge(live) if f.rule_id == rule_id]
