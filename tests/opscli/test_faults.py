"""Fault injection: every way a reader can fail to look ends as ERROR (never PASS or FAIL), and the others go on.

moto cannot produce these faults, so the answers are stubbed (botocore.stub.Stubber) or the network is real:
a closed port on 127.0.0.1 (connection refused) and a local socket that never answers (read timeout).
"""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from opscli import core, livestack, stackcheck, targets
from opscli.aws import Aws, new_session
from opscli.checks import Context, run_collector
from opscli.checks import collectors as c
from opscli.errors import CredentialsError
from opscli.model import exit_code
from opscli.stack import build
from platform_spec.result import Status
from platform_spec.tagging import REQUIRED_TAG_KEYS

T = targets.from_suffix("fault")
ACCOUNT = "123456789012"
CMK = f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
NOW = datetime(2026, 11, 26, tzinfo=UTC)
TAGS = [{"Key": k, "Value": "fault" if k == "Environment" else "x"} for k in REQUIRED_TAG_KEYS]


def ctx(aws: Aws) -> Context:
    return Context(aws=aws, targets=T, now=NOW)


def scope(**resources):
    """A stack of the given resources: logical id -> (type, physical id, declared properties). A resource they
    refer to but the test leaves out (the key a log group names) is declared as a wait-condition handle, which
    no reader reads: a template must declare what it refers to, and the test reads only its own resources."""
    from platform_spec.rules.intrinsics import references

    referred = {lid for _, _, p in resources.values() for lid in references(p)} - set(resources)
    resources = {**resources, **{lid: ("AWS::CloudFormation::WaitConditionHandle", lid, {}) for lid in referred}}
    template = {"Resources": {lid: {"Type": t, "Properties": p} for lid, (t, _, p) in resources.items()}}
    summaries = [{"LogicalResourceId": lid, "ResourceType": t, "PhysicalResourceId": pid,
                  "ResourceStatus": "CREATE_COMPLETE"} for lid, (t, pid, _) in resources.items()]
    return build("TapStackfault", template, summaries, "test")


DB = ("AWS::RDS::DBInstance", "rds-fault", {"Engine": "postgres", "MultiAZ": True})
LOGS = ("AWS::Logs::LogGroup", "/ecs/fault", {"LogGroupName": "/ecs/fault", "RetentionInDays": 30,
                                              "KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}})


def db_answer(**overrides) -> dict:
    db = {"DBInstanceIdentifier": "rds-fault", "DBInstanceArn": f"arn:aws:rds:ap-northeast-1:{ACCOUNT}:db:rds-fault",
          "Engine": "postgres", "MultiAZ": True, "BackupRetentionPeriod": 1, "PubliclyAccessible": False,
          "StorageEncrypted": True, "KmsKeyId": CMK, "VpcSecurityGroups": [], "DBInstanceStatus": "available",
          "DBParameterGroups": [{"DBParameterGroupName": "rds-params-fault", "ParameterApplyStatus": "in-sync"}],
          "ReadReplicaDBInstanceIdentifiers": [],
          "CertificateDetails": {"CAIdentifier": "rds-ca-rsa2048-g1",
                                 "ValidTill": datetime(2061, 5, 25, tzinfo=UTC)},
          "TagList": TAGS}
    db.update(overrides)
    return {"DBInstances": [{k: v for k, v in db.items() if v is not None}]}


def log_answers(stub) -> None:
    stub.add_response("describe_log_groups", {"logGroups": [
        {"logGroupName": "/ecs/fault", "retentionInDays": 30, "kmsKeyId": CMK,
         "arn": f"arn:aws:logs:ap-northeast-1:{ACCOUNT}:log-group:/ecs/fault:*"}]})
    stub.add_response("list_tags_for_resource", {"tags": {t["Key"]: t["Value"] for t in TAGS}})
    stub.add_response("describe_subscription_filters", {"subscriptionFilters": []})


@pytest.fixture
def stubbed(aws_credentials):
    """A fresh guarded access (its own clients, call log and handlers) on the module's one session."""
    return Aws(session=_session(), max_attempts=1)


@functools.cache
def _session():
    """One boto3 session for the module's stubbed tests (a session registers botocore's hundreds of handlers when
    it is made): each Aws takes the previous one's handlers off it, and its clients are its own. Its credentials
    are the fake ones every stubbed test sets (aws_credentials)."""
    return new_session(region_name="ap-northeast-1")


def read(aws: Aws, **resources) -> livestack.LiveStack:
    return livestack.read_stack(aws, scope(**resources), account=ACCOUNT, max_workers=1)


def by_check(findings):
    return {f.check_id: f for f in findings}


def test_access_denied_on_one_resource_is_error_and_the_others_are_judged(stubbed):
    with Stubber(stubbed.client("rds")) as rds, Stubber(stubbed.client("logs")) as logs:
        rds.add_client_error("describe_db_instances", "AccessDenied", "User is not authorized", 403)
        log_answers(logs)
        live = read(stubbed, Db=DB, Logs=LOGS)
    assert live.resources["Db"].state == livestack.ReadState.ERROR
    assert "access denied to DescribeDBInstances" in live.resources["Db"].detail
    findings = stackcheck.judge(live)
    on_db = [f for f in findings if "rds-fault" in f.resource]
    assert [(f.rule_id, f.status) for f in on_db] == [("STK-STACK-001", Status.ERROR)]  # no verdict without evidence
    assert {f.status for f in findings if "/ecs/fault" in f.resource and f.rule_id == "STK-LOG-001"} == {Status.PASS}
    assert exit_code(findings) == 3


def test_throttling_after_retries_is_error(stubbed):
    with Stubber(stubbed.client("elasticache")) as stub:
        stub.add_client_error("describe_replication_groups", "Throttling", "Rate exceeded", 400)
        live = read(stubbed, Redis=("AWS::ElastiCache::ReplicationGroup", "redis-fault", {}))
    assert live.resources["Redis"].state == livestack.ReadState.ERROR
    assert "throttled on DescribeReplicationGroups" in live.resources["Redis"].detail


@pytest.mark.parametrize("field", ["MultiAZ", "DBParameterGroups", "BackupRetentionPeriod"])
def test_an_answer_without_a_judged_field_is_error_not_a_verdict(stubbed, field):
    """An answer without MultiAZ cannot prove Multi-AZ (nor disprove it): ERROR for the resource, no PASS/FAIL."""
    with Stubber(stubbed.client("rds")) as stub:
        stub.add_response("describe_db_instances", db_answer(**{field: None}))
        live = read(stubbed, Db=DB)
    assert live.resources["Db"].state == livestack.ReadState.ERROR
    assert f"DescribeDBInstances answered without '{field}'" in live.resources["Db"].detail
    assert {f.status for f in stackcheck.judge(live)} == {Status.ERROR}


@pytest.mark.parametrize("field, value", [("MultiAZ", "yes"), ("BackupRetentionPeriod", "7"),
                                          ("DBParameterGroups", {"not": "a list"})])
def test_a_wrong_typed_field_is_error(stubbed, field, value):
    """An answer that parses but holds the wrong type (the Stubber refuses to send one, so the parsed answer is
    changed after the call, as a broken endpoint or proxy would): ERROR, no verdict."""
    client = stubbed.client("rds")

    def garble(parsed, **_):
        parsed["DBInstances"][0][field] = value
    client.meta.events.register("after-call.rds.DescribeDBInstances", garble)
    with Stubber(client) as stub:
        stub.add_response("describe_db_instances", db_answer())
        live = read(stubbed, Db=DB)
    assert live.resources["Db"].state == livestack.ReadState.ERROR, live.resources["Db"]
    assert "could not look" in live.resources["Db"].detail
    assert {f.status for f in stackcheck.judge(live)} == {Status.ERROR}


def test_pagination_reads_every_page(stubbed):
    """rds.force_ssl is on the third page of parameters: the reader must read all pages."""
    group = ("AWS::RDS::DBParameterGroup", "rds-params-fault", {})
    with Stubber(stubbed.client("rds")) as stub:
        stub.add_response("describe_db_parameter_groups", {"DBParameterGroups": [
            {"DBParameterGroupName": "rds-params-fault", "DBParameterGroupFamily": "postgres16"}]})
        stub.add_response("describe_db_parameters", {"Parameters": [{"ParameterName": "a", "ParameterValue": "1"}],
                                                     "Marker": "p2"})
        stub.add_response("describe_db_parameters", {"Parameters": [{"ParameterName": "b", "ParameterValue": "1"}],
                                                     "Marker": "p3"})
        stub.add_response("describe_db_parameters", {"Parameters": [
            {"ParameterName": "rds.force_ssl", "ParameterValue": "1"}]})
        live = read(stubbed, Params=group)
        stub.assert_no_pending_responses()
    assert live.resources["Params"].properties["Parameters"] == {"a": "1", "b": "1", "rds.force_ssl": "1"}
    assert stubbed.log.calls.count("rds:DescribeDBParameters") == 3


def _subnet(subnet_id: str) -> dict:
    return {"SubnetId": subnet_id, "VpcId": "vpc-1", "CidrBlock": "10.0.0.0/24", "AvailabilityZone": "ap-northeast-1a",
            "MapPublicIpOnLaunch": False, "Tags": TAGS}


def test_declared_subnets_are_read_in_one_call_over_every_page_and_a_missing_one_is_missing(stubbed):
    """One DescribeSubnets for every declared subnet (by id filter, every page), where there was one per subnet;
    the subnet the answer leaves out is MISSING, the others are read."""
    subnets = {f"Subnet{n}": ("AWS::EC2::Subnet", f"subnet-{n}", {}) for n in range(3)}
    ids = ["subnet-0", "subnet-1", "subnet-2"]
    with Stubber(stubbed.client("ec2")) as stub:
        stub.add_response("describe_subnets", {"Subnets": [_subnet("subnet-0")], "NextToken": "p2"},
                          {"Filters": [{"Name": "subnet-id", "Values": ids}]})
        stub.add_response("describe_subnets", {"Subnets": [_subnet("subnet-2")]},
                          {"Filters": [{"Name": "subnet-id", "Values": ids}], "NextToken": "p2"})
        live = livestack.read_stack(stubbed, scope(**subnets), account=ACCOUNT, max_workers=3)
        stub.assert_no_pending_responses()
    assert stubbed.log.calls == ["ec2:DescribeSubnets"] * 2
    assert {lid: r.state for lid, r in live.resources.items()} == {
        "Subnet0": livestack.ReadState.READ, "Subnet1": livestack.ReadState.MISSING,
        "Subnet2": livestack.ReadState.READ}
    assert live.resources["Subnet1"].detail == "subnet subnet-1 not found"
    assert live.resources["Subnet2"].properties["CidrBlock"] == "10.0.0.0/24"


@pytest.mark.parametrize("answer, said", [
    ({"Subnets": [_subnet("subnet-0"), _subnet("subnet-0")]}, "answered subnet subnet-0 twice"),
    ({"Subnets": [{k: v for k, v in _subnet("subnet-0").items() if k != "SubnetId"}]}, "without 'SubnetId'"),
])
def test_a_batched_answer_it_cannot_attribute_is_error_for_every_resource_of_it(stubbed, answer, said):
    """An item without its id, or one id answered twice: no subnet of the answer gets a verdict."""
    subnets = {f"Subnet{n}": ("AWS::EC2::Subnet", f"subnet-{n}", {}) for n in range(2)}
    with Stubber(stubbed.client("ec2")) as stub:
        stub.add_response("describe_subnets", answer)
        stub.add_response("describe_subnets", answer)  # the second reader asks again: an error is not remembered
        live = livestack.read_stack(stubbed, scope(**subnets), account=ACCOUNT, max_workers=1)
    for resource in live.resources.values():
        assert resource.state == livestack.ReadState.ERROR and said in resource.detail, resource.detail


def _reader_context(aws: Aws, declared, refs: dict[str, str]):
    """What a reader is given, with each {"Ref": id} resolved through `refs` (anything else as it is)."""
    from opscli.readers import ReadContext

    def resolve(value):
        return refs.get(value["Ref"], value) if isinstance(value, dict) and "Ref" in value else value
    return ReadContext(aws=aws, scope=declared, resolve=resolve)


def test_an_alarm_outside_the_declared_ones_is_asked_on_its_own(stubbed):
    """Batched reads ask for the declared alarms together; a name that is not among them goes alone."""
    from opscli.readers.cloudwatch import alarm
    from opscli.stack import Declared

    declared = scope(A=("AWS::CloudWatch::Alarm", "alarm-a", {}), B=("AWS::CloudWatch::Alarm", "alarm-b", {}))
    context = _reader_context(stubbed, declared, {})
    arn = f"arn:aws:cloudwatch:ap-northeast-1:{ACCOUNT}:alarm:"
    with Stubber(stubbed.client("cloudwatch")) as stub:
        stub.add_response("describe_alarms", {"MetricAlarms": [{"AlarmName": "alarm-x", "AlarmArn": arn + "x"}]},
                          {"AlarmNames": ["alarm-x"], "AlarmTypes": ["MetricAlarm"]})
        stub.add_response("list_tags_for_resource", {"Tags": TAGS})
        stub.add_response("describe_alarms", {"MetricAlarms": [{"AlarmName": "alarm-a", "AlarmArn": arn + "a"},
                                                               {"AlarmName": "alarm-b", "AlarmArn": arn + "b"}]},
                          {"AlarmNames": ["alarm-a", "alarm-b"], "AlarmTypes": ["MetricAlarm"]})
        stub.add_response("list_tags_for_resource", {"Tags": TAGS})
        stub.add_response("list_tags_for_resource", {"Tags": TAGS})
        alarm(context, Declared("X", "AWS::CloudWatch::Alarm", "alarm-x", "CREATE_COMPLETE"))
        for resource in declared.resources:
            alarm(context, resource)
        stub.assert_no_pending_responses()
    assert stubbed.log.calls.count("cloudwatch:DescribeAlarms") == 2


def test_mount_targets_are_read_in_one_call_per_file_system_and_one_left_out_is_missing(stubbed):
    """One DescribeMountTargets by file system (every page) for all its mount targets; a target the answer
    leaves out is not found, and a file system that is gone makes its targets not found too."""
    from opscli.readers import NotFound
    from opscli.readers.efs import mount_target

    on_fs = {"FileSystemId": {"Ref": "Fs"}}
    declared = scope(A=("AWS::EFS::MountTarget", "fsmt-0000000a", on_fs),
                     B=("AWS::EFS::MountTarget", "fsmt-0000000b", on_fs))
    context = _reader_context(stubbed, declared, {"Fs": "fs-00000001"})
    target = {"MountTargetId": "fsmt-0000000a", "FileSystemId": "fs-00000001", "SubnetId": "subnet-00000001",
              "LifeCycleState": "available", "AvailabilityZoneName": "ap-northeast-1a", "OwnerId": ACCOUNT}
    with Stubber(stubbed.client("efs")) as stub:
        stub.add_response("describe_mount_targets", {"MountTargets": [], "NextMarker": "p2"},
                          {"FileSystemId": "fs-00000001"})
        stub.add_response("describe_mount_targets", {"MountTargets": [target]}, {"FileSystemId": "fs-00000001",
                                                                                 "Marker": "p2"})
        stub.add_response("describe_mount_target_security_groups", {"SecurityGroups": ["sg-00000002", "sg-00000001"]},
                          {"MountTargetId": "fsmt-0000000a"})
        a, b = declared.of_type("AWS::EFS::MountTarget")
        assert mount_target(context, a)["SecurityGroups"] == ["sg-00000001", "sg-00000002"]
        with pytest.raises(NotFound, match="mount target fsmt-0000000b not found"):
            mount_target(context, b)
        stub.assert_no_pending_responses()
    assert stubbed.log.calls.count("efs:DescribeMountTargets") == 2  # two pages, asked once for both targets
    gone = _reader_context(stubbed, declared, {"Fs": "fs-00000001"})
    with Stubber(stubbed.client("efs")) as stub:
        stub.add_client_error("describe_mount_targets", "FileSystemNotFound", http_status_code=404)
        with pytest.raises(NotFound, match="file system fs-00000001 not found"):
            mount_target(gone, a)


def test_scaling_policies_of_one_resource_are_read_in_one_call_and_one_left_out_is_missing(stubbed):
    from opscli.readers import NotFound
    from opscli.readers.autoscaling import scaling_policy

    target = ("AWS::ApplicationAutoScaling::ScalableTarget", "service/c/s|ecs:service:DesiredCount|ecs",
              {"ServiceNamespace": "ecs", "ResourceId": "service/c/s", "ScalableDimension": "ecs:service:DesiredCount"})
    policy = {"ScalingTargetId": {"Ref": "Target"}, "PolicyType": "TargetTrackingScaling"}
    declared = scope(Target=target, Cpu=("AWS::ApplicationAutoScaling::ScalingPolicy", "cpu", {**policy,
                                                                                               "PolicyName": "cpu"}),
                     Gone=("AWS::ApplicationAutoScaling::ScalingPolicy", "gone", {**policy, "PolicyName": "gone"}))
    context = _reader_context(stubbed, declared, {})
    answer = {"ScalingPolicies": [
        {"PolicyARN": "arn:p", "PolicyName": name, "ServiceNamespace": "ecs", "ResourceId": "service/c/s",
         "ScalableDimension": "ecs:service:DesiredCount", "PolicyType": "TargetTrackingScaling",
         "CreationTime": NOW} for name in ("cpu", "memory")]}
    with Stubber(stubbed.client("application-autoscaling")) as stub:
        stub.add_response("describe_scaling_policies", answer, {"ServiceNamespace": "ecs", "ResourceId": "service/c/s"})
        _, cpu, gone = declared.resources
        assert scaling_policy(context, cpu) == {"PolicyName": "cpu", "PolicyType": "TargetTrackingScaling"}
        with pytest.raises(NotFound, match="scaling policy gone not found"):
            scaling_policy(context, gone)
        stub.assert_no_pending_responses()


def test_a_queue_and_its_policy_share_one_answer_of_every_attribute(stubbed):
    url = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/intake-fault"
    declared = scope(Queue=("AWS::SQS::Queue", url, {}),
                     Policy=("AWS::SQS::QueuePolicy", "policy-1", {"Queues": [{"Ref": "Queue"}]}))
    policy = {"Version": "2012-10-17", "Statement": []}
    with Stubber(stubbed.client("sqs")) as stub:
        stub.add_response("get_queue_attributes", {"Attributes": {
            "QueueArn": f"arn:aws:sqs:ap-northeast-1:{ACCOUNT}:intake-fault", "KmsMasterKeyId": CMK,
            "Policy": json.dumps(policy)}}, {"QueueUrl": url, "AttributeNames": ["All"]})
        stub.add_response("list_queue_tags", {"Tags": {"Environment": "fault"}}, {"QueueUrl": url})
        live = livestack.read_stack(stubbed, declared, account=ACCOUNT, max_workers=2)
        stub.assert_no_pending_responses()
    assert live.resources["Queue"].properties["KmsMasterKeyId"] == CMK
    assert live.resources["Policy"].properties == {"Queues": [url], "PolicyDocument": policy}
    assert stubbed.log.calls.count("sqs:GetQueueAttributes") == 1


def test_a_queue_policy_naming_a_key_twice_is_error_not_read_as_its_last_value(stubbed):
    """json keeps the last "Effect" of two (a Deny here), another reader the first (an Allow to everyone): the
    policy has no one meaning, so its checks could not look; the queue's own attributes are still judged."""
    url = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/intake-fault"
    declared = scope(Queue=("AWS::SQS::Queue", url, {}),
                     Policy=("AWS::SQS::QueuePolicy", "policy-1", {"Queues": [{"Ref": "Queue"}]}))
    twice = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:*", '
             '"Resource": "*", "Effect": "Deny"}]}')
    with Stubber(stubbed.client("sqs")) as stub:
        stub.add_response("get_queue_attributes", {"Attributes": {
            "QueueArn": f"arn:aws:sqs:ap-northeast-1:{ACCOUNT}:intake-fault", "KmsMasterKeyId": CMK,
            "Policy": twice}}, {"QueueUrl": url, "AttributeNames": ["All"]})
        stub.add_response("list_queue_tags", {"Tags": {"Environment": "fault"}}, {"QueueUrl": url})
        live = livestack.read_stack(stubbed, declared, account=ACCOUNT, max_workers=2)
    assert live.resources["Policy"].state == livestack.ReadState.ERROR
    assert "GetQueueAttributes answered 'Policy' with the key 'Effect' twice in one object" in \
        live.resources["Policy"].detail
    assert live.resources["Queue"].state == livestack.ReadState.READ
    on_policy = [f for f in stackcheck.judge(live) if "policy-1" in f.resource]
    assert on_policy and {f.status for f in on_policy} == {Status.ERROR}, on_policy


def test_redis_transit_mode_and_members_from_stubbed_answers(stubbed):
    """moto reports every member in one AZ whatever was asked: the live-only spread rule on recorded shapes."""
    group = {"ReplicationGroupId": "redis-fault", "Description": "d",
             "ARN": f"arn:aws:elasticache:ap-northeast-1:{ACCOUNT}:replicationgroup:redis-fault",
             "MultiAZ": "enabled", "AutomaticFailover": "enabled", "TransitEncryptionEnabled": True,
             "TransitEncryptionMode": "preferred", "AuthTokenEnabled": True, "AtRestEncryptionEnabled": True,
             "KmsKeyId": CMK, "MemberClusters": ["redis-fault-001", "redis-fault-002"],
             "NodeGroups": [{"NodeGroupId": "0001", "NodeGroupMembers": [
                 {"CacheClusterId": "redis-fault-001", "PreferredAvailabilityZone": "ap-northeast-1a"},
                 {"CacheClusterId": "redis-fault-002", "PreferredAvailabilityZone": "ap-northeast-1a"}]}]}
    with Stubber(stubbed.client("elasticache")) as stub:
        stub.add_response("describe_replication_groups", {"ReplicationGroups": [group]})
        stub.add_response("list_tags_for_resource", {"TagList": TAGS})
        live = read(stubbed, Redis=("AWS::ElastiCache::ReplicationGroup", "redis-fault", {}))
    findings = stackcheck.judge(live, expected_tags={"Environment": "fault"})
    failed = {(f.check_id, f.rule_id): f.reason for f in findings if f.status is Status.FAIL}
    assert "'preferred'" in failed[("STK-REDIS-002", "STK-REDIS-002")]
    assert "in 1 AZ(s)" in failed[("redis.members_spread", "STK-REDIS-001")]
    assert ("STK-REDIS-001", "STK-REDIS-001") not in failed  # two members, Multi-AZ, failover: the declared part holds


def test_an_unreadable_key_alias_makes_whole_stack_rules_error_not_fail(stubbed):
    """Without the alias nobody can say which key is the project's: STK-KMS-001 is ERROR, never FAIL or PASS."""
    alias = ("AWS::KMS::Alias", "alias/kms-key-fault", {"AliasName": "alias/kms-key-fault",
                                                        "TargetKeyId": {"Fn::GetAtt": ["Key", "Arn"]}})
    with Stubber(stubbed.client("kms")) as kms, Stubber(stubbed.client("logs")) as logs:
        kms.add_client_error("describe_key", "AccessDeniedException", "no", 403)
        log_answers(logs)
        live = read(stubbed, Alias=alias, Logs=LOGS)
    kms_findings = [f for f in stackcheck.judge(live) if f.rule_id == "STK-KMS-001"]
    assert kms_findings and {f.status for f in kms_findings} == {Status.ERROR}
    assert "could not judge: 1 declared resources it depends on could not be read (Alias)" in kms_findings[0].reason


def test_efs_policy_lookup_denied_is_error_for_the_file_system(stubbed):
    fs = {"FileSystemId": "fs-1",
          "FileSystemArn": f"arn:aws:elasticfilesystem:ap-northeast-1:{ACCOUNT}:file-system/fs-1",
          "Encrypted": True, "KmsKeyId": CMK, "Tags": TAGS, "OwnerId": "1", "CreationToken": "t",
          "CreationTime": NOW, "LifeCycleState": "available", "NumberOfMountTargets": 0,
          "SizeInBytes": {"Value": 0}, "PerformanceMode": "generalPurpose"}
    with Stubber(stubbed.client("efs")) as stub:
        stub.add_response("describe_file_systems", {"FileSystems": [fs]})
        stub.add_client_error("describe_file_system_policy", "AccessDeniedException", "no", 403)
        live = read(stubbed, Fs=("AWS::EFS::FileSystem", "fs-1", {}))
    assert live.resources["Fs"].state == livestack.ReadState.ERROR
    assert "access denied to DescribeFileSystemPolicy" in live.resources["Fs"].detail


def test_secret_last_accessed_from_stubbed_answer(stubbed):
    """moto omits LastAccessedDate; the unused-secret judgement is tested on a stubbed describe."""
    described = {"ARN": "arn:aws:secretsmanager:ap-northeast-1:1:secret:s-AbCdEf", "Name": "s",
                 "RotationEnabled": True, "RotationLambdaARN": "arn:aws:lambda:ap-northeast-1:1:function:rot",
                 "LastRotatedDate": NOW - timedelta(days=10), "NextRotationDate": NOW + timedelta(days=20),
                 "LastAccessedDate": NOW - timedelta(days=200), "KmsKeyId": CMK}
    with Stubber(stubbed.client("secretsmanager")) as sm, Stubber(stubbed.client("kms")) as kms:
        sm.add_response("describe_secret", described)
        sm.add_response("list_secret_version_ids", {"Versions": [
            {"VersionId": "v" * 32, "VersionStages": ["AWSPENDING"], "CreatedDate": NOW - timedelta(days=3)}]})
        kms.add_response("describe_key", {"KeyMetadata": {"KeyId": "k", "KeyManager": "CUSTOMER"}})
        findings = by_check(run_collector(c.SECRET, c.secret, ctx(stubbed), "s"))
    assert findings["secret.last_accessed"].status is Status.FAIL
    assert findings["secret.last_accessed"].reason == "last accessed 200 days ago: the secret may be unused"
    pending = findings["secret.pending"]
    assert pending.status is Status.FAIL and "stuck in AWSPENDING" in pending.reason
    assert findings["secret.rotation_age"].status is Status.PASS and findings["secret.cmk"].status is Status.PASS


def test_connection_refused_is_error_for_every_check(aws_credentials):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens there
    aws = Aws(session=new_session(region_name="ap-northeast-1"), endpoint_url=f"http://127.0.0.1:{port}",
              max_attempts=1)
    report = core.audit(aws, T)
    assert [f.status for f in report.findings] == [Status.ERROR]
    assert "could not read stack TapStackfault: endpoint unreachable" in report.findings[0].reason
    assert exit_code(report.findings) == 3
    secrets = core.rotate_secrets(aws, T)
    assert secrets.findings and {f.status for f in secrets.findings} == {Status.ERROR}


def test_read_timeout_is_error(aws_credentials):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []
    stop = threading.Event()

    def accept_and_stay_silent():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_stay_silent, daemon=True)
    thread.start()
    try:
        aws = Aws(session=new_session(region_name="ap-northeast-1"),
                  endpoint_url=f"http://127.0.0.1:{server.getsockname()[1]}", max_attempts=1)
        aws._config = aws._config.merge(__import__("botocore.config").config.Config(read_timeout=1))
        live = read(aws, Db=DB)
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()
    assert live.resources["Db"].state == livestack.ReadState.ERROR
    assert "timed out" in live.resources["Db"].detail


def test_no_credentials_stops_the_audit(monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(CredentialsError, match="no AWS credentials found"):
        core.audit(Aws(region="ap-northeast-1"), T)


def test_failure_classification_covers_every_kind():
    import botocore.exceptions as bex

    from opscli.checks import ANSWERS, GRANT, LATER, REACH, RENEW, describe_failure

    def client_error(code):
        return bex.ClientError({"Error": {"Code": code, "Message": "m"}}, "DescribeThings")
    assert describe_failure(client_error("InternalFailure")) == (Status.ERROR,
                                                                 "DescribeThings failed: InternalFailure m")
    assert describe_failure(client_error("ResourceNotFoundException"))[0] is Status.FAIL
    assert describe_failure(bex.ConnectTimeoutError(endpoint_url="http://x"))[0] is Status.ERROR
    assert describe_failure(bex.PaginationError(message="bad"))[1].startswith("AWS SDK error")
    assert describe_failure(KeyError("MultiAZ")) == (Status.ERROR, f"malformed answer: KeyError 'MultiAZ': {ANSWERS}")
    # Each way of not being able to look ends with what the operator does about it.
    assert describe_failure(client_error("AccessDenied"))[1] == \
        f"access denied to DescribeThings (AccessDenied): m: {GRANT}"
    assert describe_failure(client_error("ExpiredToken"))[1].endswith(f"(ExpiredToken): m: {RENEW}")
    assert describe_failure(client_error("Throttling"))[1] == \
        f"throttled on DescribeThings after retries (Throttling): {LATER}"
    assert describe_failure(bex.EndpointConnectionError(endpoint_url="http://x"))[1].endswith(f"\"http://x\": {REACH}")
    with pytest.raises(ZeroDivisionError):
        describe_failure(ZeroDivisionError())


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a hung endpoint)."""

    current: SilentServer | None = None

    def __enter__(self):
        SilentServer.current = self
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.accepted, self.stop = [], threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.server.getsockname()[1]}"

    def _accept(self):
        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                self.accepted.append(self.server.accept()[0])
            except OSError:
                continue

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(2)
        for conn in self.accepted:
            conn.close()
        self.server.close()


def _opscli(*args: str, **popen):
    import os
    import subprocess
    import sys

    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "NO_COLOR": "1"}
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.Popen([sys.executable, "-m", "opscli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


@pytest.mark.parametrize("command", [["audit"], ["drift"], ["rotate-check", "secrets"]])
def test_a_hung_endpoint_ends_at_the_timeout_with_a_report_and_exit_3(command):
    import json

    with SilentServer() as endpoint:
        proc = _opscli(*command, "--suffix", "hang", "--endpoint-url", endpoint, "--timeout", "1", "-o", "json")
        # The endpoint never answers: only opscli's own --timeout can end the run (communicate's bound turns a
        # regression into a failure instead of a hang; it does not measure opscli).
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, (proc.returncode, err)
    document = json.loads(out)
    assert document["findings"] and {f["status"] for f in document["findings"]} == {"ERROR"}
    assert all("--timeout" in f["reason"] for f in document["findings"])
    assert "timed out" in err


@contextlib.contextmanager
def _ctrl_c_reaches_children() -> Iterator[None]:
    """Children started inside the block get SIGINT at its default, as a command typed at a terminal does, even
    when this test process ignores it. A background job of a non-interactive shell (`... &`, nohup, some CI
    runners) starts with SIGINT ignored; an ignored signal stays ignored across exec, and Python then installs
    no KeyboardInterrupt handler, so opscli rightly keeps ignoring it. A handled signal is reset to its default
    by exec."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_ctrl_c_stops_without_waiting_for_the_call_with_the_partial_report_and_exit_130():
    import time

    with SilentServer() as endpoint:
        with _ctrl_c_reaches_children():
            proc = _opscli("audit", "--suffix", "hang", "--endpoint-url", endpoint, "--timeout", "600", "-o",
                           "json")
        server = SilentServer.current
        waited = time.monotonic()
        while not server.accepted and time.monotonic() - waited < 60:  # started, and waiting on the endpoint
            time.sleep(0.05)
        assert server.accepted, "opscli never reached the endpoint"
        proc.send_signal(signal.SIGINT)
        # The endpoint never answers and --timeout is 600 s: an exit at all means Ctrl-C ended the run without
        # waiting for the call (communicate's bound only turns a regression into a failure).
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, err)
    document = json.loads(out)
    assert [f["status"] for f in document["findings"]] == ["ERROR"]
    assert "interrupted" in document["findings"][0]["reason"] and "interrupted" in err


def test_ctrl_c_before_any_check_exits_130_at_once_without_a_traceback():
    """Seen under load: a SIGINT while opscli was still starting became click's Abort, exit 2, and the
    interpreter then waited for a thread stuck on the hung endpoint (30 s and more). Here a thread that never
    ends stands for that call, and Ctrl-C comes while the command sets up its AWS access."""
    import subprocess
    import sys

    harness = (
        "import sys, threading\n"
        "import opscli.cli as cli\n"
        "threading.Thread(target=threading.Event().wait).start()  # a call that never answers\n"
        "def ctrl_c(*a, **k):\n"
        "    raise KeyboardInterrupt\n"
        "cli.Aws = ctrl_c\n"
        "sys.exit(cli.main(['audit', '--suffix', 'dev', '-o', 'json']))\n")
    proc = subprocess.run([sys.executable, "-c", harness], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 130, (proc.returncode, proc.stderr)
    assert "interrupted" in proc.stderr and "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("describe, versions, broken", [
    ({}, {"Versions": []}, "DescribeSecret answered without 'ARN'"),  # an empty or HTML 200 parses to nothing
    ({"ARN": "arn:aws:secretsmanager:ap-northeast-1:1:secret:s-AbCdEf", "Name": "s", "RotationEnabled": True,
      "RotationLambdaARN": "arn:aws:lambda:ap-northeast-1:1:function:rot"}, {}, "without 'Versions'"),
])
def test_a_secret_answer_it_cannot_fully_read_is_error_never_pass_or_fail(stubbed, describe, versions, broken):
    """Issue 12: a garbage DescribeSecret made 'never rotated' FAILs, an answer without Versions made 'nothing
    stuck in AWSPENDING' a PASS. Without the fields there is no evidence either way."""
    client = stubbed.client("secretsmanager")

    def garble(parsed, model, **_):
        if model.name == "DescribeSecret" and not describe:
            parsed.clear()
        if model.name == "ListSecretVersionIds" and not versions:
            parsed.pop("Versions", None)
    client.meta.events.register("after-call.secretsmanager.*", garble)
    full = {"ARN": "arn:aws:secretsmanager:ap-northeast-1:1:secret:s-AbCdEf", "Name": "s"}
    with Stubber(client) as stub:
        stub.add_response("describe_secret", describe or full)
        if describe:
            stub.add_response("list_secret_version_ids", {"Versions": []})
        findings = run_collector(c.SECRET, c.secret, ctx(stubbed), "s")
    by = by_check(findings)
    if not describe:
        assert {f.status for f in findings} == {Status.ERROR} and all(broken in f.reason for f in findings)
    else:
        assert by["secret.pending"].status is Status.ERROR and broken in by["secret.pending"].reason
        assert by["secret.last_accessed"].status is Status.ERROR
    assert exit_code(findings) == 3


def _web_acl_answer() -> dict:
    arn = "arn:aws:wafv2:ap-northeast-1:123456789012:regional/webacl/waf-fault/1"
    return {"WebACL": {"Name": "waf-fault", "Id": "1", "ARN": arn, "DefaultAction": {"Allow": {}}, "Rules": [],
                       "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True,
                                            "MetricName": "m"}}, "LockToken": "t"}


def test_web_acl_tags_are_read_over_every_page(stubbed):
    """WAF pages its tags with NextMarker and botocore has no paginator for it: found by the emulator's paged mode
    (the web ACL failed STK-TAG-001 there, its tags cut to the first page)."""
    acl = ("AWS::WAFv2::WebACL", "waf-fault|1|REGIONAL", {})
    with Stubber(stubbed.client("wafv2")) as stub:
        stub.add_response("get_web_acl", _web_acl_answer())
        stub.add_response("list_tags_for_resource", {"TagInfoForResource": {"TagList": [
            {"Key": "Project", "Value": "p"}]}, "NextMarker": "m2"})
        stub.add_response("list_tags_for_resource", {"TagInfoForResource": {"TagList": [
            {"Key": "Owner", "Value": "o"}]}})
        live = read(stubbed, Acl=acl)
        stub.assert_no_pending_responses()
    assert sorted(t["Key"] for t in live.resources["Acl"].properties["Tags"]) == ["Owner", "Project"]


def test_a_byte_match_is_read_in_its_template_form_and_the_stack_judged(stubbed):
    """WAF answers a byte-match statement's SearchString as a blob (bytes): copied as it was, it crashed the
    whole audit when the picture was serialized. It reads as the template writes it: SearchString as text, or
    SearchStringBase64 where the bytes are not text."""
    answer = _web_acl_answer()
    statement = {"FieldToMatch": {"UriPath": {}}, "PositionalConstraint": "STARTS_WITH",
                 "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}
    answer["WebACL"]["Rules"] = [
        {"Name": n, "Priority": i, "Action": {"Block": {}},
         "Statement": {"ByteMatchStatement": {**statement, "SearchString": search}},
         "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": n}}
        for i, (n, search) in enumerate((("admin", b"/admin"), ("binary", b"\xff\xfe")))]
    acl = ("AWS::WAFv2::WebACL", "waf-fault|1|REGIONAL", {})
    with Stubber(stubbed.client("wafv2")) as stub:
        stub.add_response("get_web_acl", answer)
        stub.add_response("list_tags_for_resource", {"TagInfoForResource": {"TagList": [
            {"Key": "Project", "Value": "p"}]}})
        live = read(stubbed, Acl=acl)
    assert live.resources["Acl"].state == livestack.ReadState.READ, live.resources["Acl"].detail
    matches = [r["Statement"]["ByteMatchStatement"] for r in live.resources["Acl"].properties["Rules"]]
    assert matches[0]["SearchString"] == "/admin" and matches[1]["SearchStringBase64"] == "//4="
    json.dumps(live.live_template())  # the picture every report and rule reads is plain data
    assert {f.rule_id: f.status for f in stackcheck.judge(live) if f.rule_id == "STK-WAF-001"} == \
        {"STK-WAF-001": Status.PASS}


def test_binary_data_a_reader_leaves_is_error_not_a_crash(stubbed, monkeypatch):
    """A blob no reader turned into its CloudFormation form: ERROR for that resource, never a crash of the run."""
    from opscli.readers import wafv2

    monkeypatch.setattr(wafv2, "_search_strings", lambda rules: [{"Name": "raw", "Blob": b"\x00"}])
    with Stubber(stubbed.client("wafv2")) as stub:
        stub.add_response("get_web_acl", _web_acl_answer())
        stub.add_response("list_tags_for_resource", {"TagInfoForResource": {"TagList": [
            {"Key": "Project", "Value": "p"}]}})
        live = read(stubbed, Acl=("AWS::WAFv2::WebACL", "waf-fault|1|REGIONAL", {}))
    assert live.resources["Acl"].state == livestack.ReadState.ERROR
    assert "Rules.0.Blob is binary data" in live.resources["Acl"].detail


def test_an_endpoint_that_pages_in_a_circle_is_error_not_a_hang(stubbed):
    acl = ("AWS::WAFv2::WebACL", "waf-fault|1|REGIONAL", {})
    with Stubber(stubbed.client("wafv2")) as stub:
        stub.add_response("get_web_acl", _web_acl_answer())
        for _ in range(2):
            stub.add_response("list_tags_for_resource", {"TagInfoForResource": {"TagList": [
                {"Key": "Project", "Value": "p"}]}, "NextMarker": "m2"})
        live = read(stubbed, Acl=acl)
    assert live.resources["Acl"].state == livestack.ReadState.ERROR
    assert "answered NextMarker 'm2' twice" in live.resources["Acl"].detail


# --- answers misshapen in AWS's own terms, which only the reader can tell ---------------------------------------

LB_ARN = f"arn:aws:elasticloadbalancing:ap-northeast-1:{ACCOUNT}:loadbalancer/net/nlb-fault/1"


@pytest.mark.parametrize("service, method, answer, resource", [
    ("rds", "describe_db_instances", {"DBInstances": []}, ("AWS::RDS::DBInstance", "rds-fault", {})),
    ("elasticache", "describe_replication_groups", {"ReplicationGroups": []},
     ("AWS::ElastiCache::ReplicationGroup", "redis-fault", {})),
    ("efs", "describe_file_systems", {"FileSystems": []}, ("AWS::EFS::FileSystem", "fs-00000001", {})),
    ("ec2", "describe_vpcs", {"Vpcs": []}, ("AWS::EC2::VPC", "vpc-00000001", {})),
    ("elbv2", "describe_load_balancers", {"LoadBalancers": []},
     ("AWS::ElasticLoadBalancingV2::LoadBalancer", LB_ARN, {})),
    ("ecs", "describe_services", {"services": [], "failures": []},
     ("AWS::ECS::Service", "svc-fault", {"Cluster": "ecs-cluster-fault"})),
], ids=lambda value: value if isinstance(value, str) else None)
def test_a_describe_by_id_answered_with_an_empty_list_is_error_not_missing(stubbed, service, method, answer,
                                                                           resource):
    """AWS answers a not-found error for an id that does not exist (ECS: a failure MISSING), so an empty list is
    no answer: the resource is ERROR, where it was MISSING with "not found" FAILs."""
    with Stubber(stubbed.client(service)) as stub:
        stub.add_response(method, answer)
        live = read(stubbed, R=resource)
    assert live.resources["R"].state == livestack.ReadState.ERROR, live.resources["R"]
    assert live.resources["R"].detail.startswith("could not look")
    assert {f.status for f in stackcheck.judge(live)} == {Status.ERROR}


def test_an_ecs_service_answered_missing_under_failures_is_missing():
    """The way ECS says a name is not there (a failure MISSING, no service) stays MISSING."""
    from opscli.readers import NotFound
    from opscli.readers.ecs import _described

    with pytest.raises(NotFound, match=r"service s not found \(DescribeServices: MISSING\)"):
        _described({"services": [], "failures": [{"arn": "arn:s", "reason": "MISSING"}]}, "services", "service s",
                   ("ACTIVE", "DRAINING", "INACTIVE"), "DescribeServices")


@pytest.mark.parametrize("status", ["inactive", "Active"])
def test_an_ecs_status_in_another_case_is_error(stubbed, status):
    """ECS's statuses are strings its model does not enumerate: "inactive" would count as not INACTIVE."""
    with Stubber(stubbed.client("ecs")) as stub:
        stub.add_response("describe_clusters", {"clusters": [{"clusterName": "c", "status": status}],
                                                "failures": []})
        live = read(stubbed, C=("AWS::ECS::Cluster", "c", {}))
    assert live.resources["C"].state == livestack.ReadState.ERROR
    assert f"answered status {status!r}, which AWS spells otherwise" in live.resources["C"].detail


def test_a_parameter_apply_status_in_another_case_is_error(stubbed):
    with Stubber(stubbed.client("rds")) as stub:
        answer = db_answer()
        answer["DBInstances"][0]["DBParameterGroups"][0]["ParameterApplyStatus"] = "IN-SYNC"
        stub.add_response("describe_db_instances", answer)
        stub.add_response("describe_db_snapshots", {"DBSnapshots": []})
        live = read(stubbed, Db=DB)
    assert live.resources["Db"].state == livestack.ReadState.ERROR
    assert "ParameterApplyStatus 'IN-SYNC', which AWS spells otherwise" in live.resources["Db"].detail


def test_a_page_token_seen_before_in_one_pagination_is_error(stubbed):
    """A, B, A: botocore's paginator stops only on one token twice in a row; around the circle the reader would
    read the same parameters again as new ones (or forever). The reader refuses the token it has seen."""
    group = ("AWS::RDS::DBParameterGroup", "rds-params-fault", {})
    with Stubber(stubbed.client("rds")) as stub:
        stub.add_response("describe_db_parameter_groups", {"DBParameterGroups": [
            {"DBParameterGroupName": "rds-params-fault", "DBParameterGroupFamily": "postgres16"}]})
        for marker in ("A", "B", "A", None):
            page = {"Parameters": [{"ParameterName": f"p{marker}", "ParameterValue": "1"}]}
            stub.add_response("describe_db_parameters", {**page, **({"Marker": marker} if marker else {})})
        live = read(stubbed, Params=group)
    assert live.resources["Params"].state == livestack.ReadState.ERROR, live.resources["Params"]
    assert "answered the page token" in live.resources["Params"].detail and "a second time" in \
        live.resources["Params"].detail


def test_a_page_that_says_there_is_more_without_a_token_is_error(stubbed):
    """IAM's IsTruncated with no Marker: botocore's paginator ends there, and the policy on the missing page
    (an inline `kms:*` beside the declared ones) would read as absent: a clean PASS."""
    from opscli.readers import MalformedAnswer
    from opscli.readers.base import pages

    iam = stubbed.client("iam")
    with Stubber(iam) as stub:
        stub.add_response("list_role_policies", {"PolicyNames": ["declared"], "IsTruncated": True})
        with pytest.raises(MalformedAnswer, match="more results, without a page token"):
            list(pages(iam, "list_role_policies", "ListRolePolicies", RoleName="r"))
    with Stubber(iam) as stub:  # the last page of a real pagination: IsTruncated false, no Marker
        stub.add_response("list_role_policies", {"PolicyNames": ["declared"], "IsTruncated": False})
        assert [p["PolicyNames"] for p in pages(iam, "list_role_policies", "ListRolePolicies", RoleName="r")] == \
            [["declared"]]


def test_a_page_token_seen_before_in_a_batched_read_is_error(stubbed):
    subnets = {"Subnet0": ("AWS::EC2::Subnet", "subnet-0", {})}
    with Stubber(stubbed.client("ec2")) as stub:
        for token in ("A", "B", "A", None):
            stub.add_response("describe_subnets", {"Subnets": [_subnet("subnet-0")] if token is None else [],
                                                   **({"NextToken": token} if token else {})})
        live = read(stubbed, **subnets)
    assert live.resources["Subnet0"].state == livestack.ReadState.ERROR
    assert "answered the page token 'A' a second time" in live.resources["Subnet0"].detail


def _log_group(name: str) -> dict:
    return {"logGroupName": name, "retentionInDays": 30, "kmsKeyId": CMK,
            "arn": f"arn:aws:logs:ap-northeast-1:{ACCOUNT}:log-group:{name}:*"}


def test_a_log_group_is_found_on_any_page_and_a_circle_of_tokens_is_error(stubbed):
    """The groups a name is a prefix of are read to the last page (the name itself on page 2 was "not
    found"); reading to the end is also what sees a circle of tokens."""
    group = ("AWS::Logs::LogGroup", "/ecs/fault", {"LogGroupName": "/ecs/fault", "RetentionInDays": 30})
    with Stubber(stubbed.client("logs")) as stub:
        stub.add_response("describe_log_groups", {"logGroups": [_log_group("/ecs/fault-a")], "nextToken": "A"})
        stub.add_response("describe_log_groups", {"logGroups": [_log_group("/ecs/fault")]})
        stub.add_response("list_tags_for_resource", {"tags": {}})
        stub.add_response("describe_subscription_filters", {"subscriptionFilters": []})
        live = read(stubbed, Logs=group)
    assert live.resources["Logs"].state == livestack.ReadState.READ, live.resources["Logs"]
    with Stubber(stubbed.client("logs")) as stub:
        for token in ("A", "B", "A", None):
            stub.add_response("describe_log_groups", {"logGroups": [_log_group("/ecs/fault")] if token else [],
                                                      **({"nextToken": token} if token else {})})
        stub.add_response("list_tags_for_resource", {"tags": {}})
        live = read(stubbed, Logs=group)
    assert live.resources["Logs"].state == livestack.ReadState.ERROR
    assert "answered the page token" in live.resources["Logs"].detail


@pytest.mark.parametrize("value", ["TRUE", "1", ""])
def test_an_elb_boolean_attribute_spelled_otherwise_is_error(stubbed, value):
    """DescribeLoadBalancerAttributes answers Key/Value strings: a boolean one is exactly true or false."""
    lb = {"LoadBalancerArn": LB_ARN, "LoadBalancerName": "nlb-fault", "Scheme": "internal", "Type": "network",
          "AvailabilityZones": [], "DNSName": "d"}
    declared = {"LoadBalancerAttributes": [{"Key": "deletion_protection.enabled", "Value": "false"}]}
    with Stubber(stubbed.client("elbv2")) as stub:
        stub.add_response("describe_load_balancers", {"LoadBalancers": [lb]})
        stub.add_response("describe_load_balancer_attributes", {"Attributes": [
            {"Key": "deletion_protection.enabled", "Value": "false"},
            {"Key": "load_balancing.cross_zone.enabled", "Value": value}]})
        stub.add_response("describe_tags", {"TagDescriptions": [{"ResourceArn": LB_ARN, "Tags": TAGS}]})
        live = read(stubbed, Lb=("AWS::ElasticLoadBalancingV2::LoadBalancer", LB_ARN, declared))
    assert live.resources["Lb"].state == livestack.ReadState.ERROR
    assert f"load_balancing.cross_zone.enabled = {value!r}, not true or false" in live.resources["Lb"].detail


@pytest.mark.parametrize("value", ["TRUE", "1"])
def test_a_queue_boolean_attribute_spelled_otherwise_is_error(stubbed, value):
    url = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/intake-fault"
    with Stubber(stubbed.client("sqs")) as stub:
        stub.add_response("get_queue_attributes", {"Attributes": {
            "QueueArn": f"arn:aws:sqs:ap-northeast-1:{ACCOUNT}:intake-fault", "SqsManagedSseEnabled": value}})
        stub.add_response("list_queue_tags", {"Tags": {}})
        live = read(stubbed, Queue=("AWS::SQS::Queue", url, {}))
    assert live.resources["Queue"].state == livestack.ReadState.ERROR
    assert f"SqsManagedSseEnabled = {value!r}, not true or false" in live.resources["Queue"].detail


def test_a_secrets_page_token_seen_before_is_error_never_a_verdict(stubbed):
    """rotate-check pages ListSecretVersionIds by hand: a circle of tokens is ERROR for what the versions decide."""
    described = {"ARN": "arn:aws:secretsmanager:ap-northeast-1:1:secret:s-AbCdEf", "Name": "s"}
    with Stubber(stubbed.client("secretsmanager")) as stub:
        stub.add_response("describe_secret", described)
        for token in ("A", "B", "A", None):
            stub.add_response("list_secret_version_ids", {"Versions": [], **({"NextToken": token} if token else {})})
        findings = by_check(run_collector(c.SECRET, c.secret, ctx(stubbed), "s"))
    assert findings["secret.pending"].status is Status.ERROR
    assert "answered the page token 'A' a second time" in findings["secret.pending"].reason
