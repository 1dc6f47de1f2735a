"""The readers and the secrets' checks on answers the emulator cannot give, through botocore's Stubber: automated
backups replicated to another region (moto has no StartDBInstanceAutomatedBackupsReplication), a server
certificate days from expiry, an EFS replication to another account, a multi-Region project key with a replica
outside Tokyo (AWS cannot make the declared single-Region key multi-Region: MultiRegion is fixed at creation), and
a secret replicated and scheduled for deletion. The answers follow AWS's documented shapes (the AWS CLI reference's
examples); no public recording of DescribeReplicationConfigurations exists to replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from opscli import livestack, stackcheck
from opscli.aws import Aws, new_session
from opscli.checks import Context, run_collector
from opscli.checks import collectors as c
from opscli.stack import build
from opscli.targets import from_suffix
from platform_spec.result import Status
from platform_spec.rules import secrets_live, stk_rds
from platform_spec.rules import stk_residency_stores as residency

ACCOUNT = "123456789012"
NOW = datetime.now(UTC)
DB_ARN = f"arn:aws:rds:ap-northeast-1:{ACCOUNT}:db:rds-res"


@pytest.fixture
def aws(aws_credentials) -> Aws:
    return Aws(session=new_session(region_name="ap-northeast-1"), max_attempts=1)


def read_one(aws: Aws, lid: str, rtype: str, pid: str) -> livestack.LiveStack:
    template = {"Resources": {lid: {"Type": rtype, "Properties": {}}}}
    summaries = [{"LogicalResourceId": lid, "ResourceType": rtype, "PhysicalResourceId": pid,
                  "ResourceStatus": "CREATE_COMPLETE"}]
    live = livestack.read_stack(aws, build("TapStackres", template, summaries, "res"), account=ACCOUNT,
                                max_workers=1)
    assert live.resources[lid].state == livestack.ReadState.READ, live.resources[lid].detail
    return live


def judged(live: livestack.LiveStack, rule_id: str) -> list:
    return [f for f in stackcheck.judge(live) if f.rule_id == rule_id]


def db_answer(**extra) -> dict:
    return {"DBInstances": [{
        "DBInstanceIdentifier": "rds-res", "DBInstanceArn": DB_ARN, "Engine": "postgres", "MultiAZ": True,
        "BackupRetentionPeriod": 1, "PubliclyAccessible": False, "StorageEncrypted": True, "VpcSecurityGroups": [],
        "DBParameterGroups": [{"DBParameterGroupName": "rds-params-res", "ParameterApplyStatus": "in-sync"}],
        "DBInstanceStatus": "available", "ReadReplicaDBInstanceIdentifiers": [],
        "CertificateDetails": {"CAIdentifier": "rds-ca-rsa2048-g1", "ValidTill": NOW + timedelta(days=400)},
        **extra}]}


def test_backups_replicated_to_another_region_and_a_replica_there_fail_named(aws):
    replica = f"arn:aws:rds:us-east-1:{ACCOUNT}:db:rds-res-virginia"
    backups = f"arn:aws:rds:us-west-2:{ACCOUNT}:auto-backup:ab-0123456789abcdefghijklmnopqrst"
    with Stubber(aws.client("rds")) as stub:
        stub.add_response("describe_db_instances", db_answer(
            ReadReplicaDBInstanceIdentifiers=[replica],
            DBInstanceAutomatedBackupsReplications=[{"DBInstanceAutomatedBackupsArn": backups}]))
        stub.add_response("describe_db_snapshots", {"DBSnapshots": []})
        live = read_one(aws, "Db", "AWS::RDS::DBInstance", "rds-res")
    found = judged(live, residency.RDS_COPIES_ID)
    assert sorted(f.status for f in found) == [Status.FAIL, Status.FAIL]
    reasons = " | ".join(f.reason for f in found)
    assert "automated backups are replicated to us-west-2" in reasons
    assert f"read replica {replica} in us-east-1" in reasons
    # the replica is beside the declaration too
    assert any(f"read replica {replica}" in f.reason for f in judged(live, "STK-STACK-002"))


def test_a_server_certificate_days_from_expiry_fails_and_one_without_details_is_error(aws):
    with Stubber(aws.client("rds")) as stub:
        stub.add_response("describe_db_instances", db_answer(CertificateDetails={
            "CAIdentifier": "rds-ca-rsa2048-g1", "ValidTill": NOW + timedelta(days=30, hours=1)}))
        stub.add_response("describe_db_snapshots", {"DBSnapshots": []})
        live = read_one(aws, "Db", "AWS::RDS::DBInstance", "rds-res")
    [finding] = judged(live, stk_rds.CA_EXPIRY_ID)
    assert finding.status is Status.FAIL and "(rds-ca-rsa2048-g1) expires on" in finding.reason
    assert "in 30 day(s); at least 90 are required" in finding.reason
    answer = db_answer()
    del answer["DBInstances"][0]["CertificateDetails"]
    with Stubber(aws.client("rds")) as stub:
        stub.add_response("describe_db_instances", answer)
        stub.add_response("describe_db_snapshots", {"DBSnapshots": []})
        live = read_one(aws, "Db", "AWS::RDS::DBInstance", "rds-res")
    assert [f.status for f in judged(live, stk_rds.CA_EXPIRY_ID)] == [Status.ERROR]
    assert {f.status for f in judged(live, residency.RDS_COPIES_ID)} == {Status.PASS}


def test_an_instance_without_its_replica_list_is_error_not_a_pass(aws):
    answer = db_answer()
    del answer["DBInstances"][0]["ReadReplicaDBInstanceIdentifiers"]
    with Stubber(aws.client("rds")) as stub:
        stub.add_response("describe_db_instances", answer)
        template = {"Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {}}}}
        summaries = [{"LogicalResourceId": "Db", "ResourceType": "AWS::RDS::DBInstance",
                      "PhysicalResourceId": "rds-res", "ResourceStatus": "CREATE_COMPLETE"}]
        live = livestack.read_stack(aws, build("TapStackres", template, summaries, "res"), account=ACCOUNT,
                                    max_workers=1)
    assert live.resources["Db"].state == livestack.ReadState.ERROR
    assert "without 'ReadReplicaDBInstanceIdentifiers'" in live.resources["Db"].detail


FS = "fs-0123456789abcdef1"


def _file_system_answers(stub: Stubber, replications: dict | None) -> None:
    stub.add_response("describe_file_systems", {"FileSystems": [{
        "FileSystemId": FS, "FileSystemArn": f"arn:aws:elasticfilesystem:ap-northeast-1:{ACCOUNT}:file-system/{FS}",
        "OwnerId": ACCOUNT, "CreationToken": "t", "CreationTime": NOW, "LifeCycleState": "available",
        "NumberOfMountTargets": 0, "SizeInBytes": {"Value": 0}, "PerformanceMode": "generalPurpose",
        "Encrypted": True, "Tags": []}]})
    stub.add_client_error("describe_file_system_policy", "PolicyNotFound", "none", 404)
    stub.add_response("describe_lifecycle_configuration", {"LifecyclePolicies": []})
    if replications is None:
        stub.add_client_error("describe_replication_configurations", "ReplicationNotFound", "none", 404)
    else:
        stub.add_response("describe_replication_configurations", replications)
    stub.add_response("describe_access_points", {"AccessPoints": []})  # what else the reader may ask, last


def _replication(destination: dict) -> dict:
    """As `aws efs describe-replication-configurations` answers (the AWS CLI reference's example)."""
    arn = f"arn:aws:elasticfilesystem:ap-northeast-1:{ACCOUNT}:file-system/{FS}"
    return {"Replications": [{"SourceFileSystemId": FS, "SourceFileSystemRegion": "ap-northeast-1",
                              "SourceFileSystemArn": arn, "OriginalSourceFileSystemArn": arn,
                              "CreationTime": NOW, "Destinations": [destination]}]}


@pytest.mark.parametrize("destination, named", [
    ({"Status": "ENABLED", "FileSystemId": "fs-0123456789abcde22", "Region": "eu-west-2"},
     "replicated to fs-0123456789abcde22 in eu-west-2"),
    ({"Status": "ENABLED", "FileSystemId": "fs-0123456789abcde22", "Region": "ap-northeast-1",
      "OwnerId": "999999999999", "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/replicator"},
     "replicated to arn:aws:elasticfilesystem:ap-northeast-1:999999999999:file-system/fs-0123456789abcde22 "
     "in account 999999999999"),
])
def test_a_file_system_replicated_outside_fails_named(aws, destination, named):
    with Stubber(aws.client("efs")) as stub:
        _file_system_answers(stub, _replication(destination))
        live = read_one(aws, "Fs", "AWS::EFS::FileSystem", FS)
    [finding] = judged(live, residency.EFS_REPLICATION_ID)
    assert finding.status is Status.FAIL and named in finding.reason, finding.reason


def test_a_file_system_without_replication_passes(aws):
    with Stubber(aws.client("efs")) as stub:
        _file_system_answers(stub, None)
        live = read_one(aws, "Fs", "AWS::EFS::FileSystem", FS)
    assert live.resources["Fs"].properties["ReplicationConfiguration"] is None
    assert [(f.status, f.reason) for f in judged(live, residency.EFS_REPLICATION_ID)] == [(Status.PASS,
                                                                                         "not replicated")]


KEY_ID = "mrk-1234abcd12ab34cd56ef1234567890ab"
KEY_ARN = f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/{KEY_ID}"


def test_a_multi_region_key_with_a_replica_outside_fails_twice_naming_the_replica(aws):
    replica = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}"
    with Stubber(aws.client("kms")) as stub:
        stub.add_response("describe_key", {"KeyMetadata": {
            "KeyId": KEY_ID, "Arn": KEY_ARN, "AWSAccountId": ACCOUNT, "Enabled": True, "KeyManager": "CUSTOMER",
            "KeyState": "Enabled", "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT", "MultiRegion": True,
            "MultiRegionConfiguration": {"MultiRegionKeyType": "PRIMARY",
                                         "PrimaryKey": {"Arn": KEY_ARN, "Region": "ap-northeast-1"},
                                         "ReplicaKeys": [{"Arn": replica, "Region": "us-east-1"}]}}})
        stub.add_response("get_key_rotation_status", {"KeyRotationEnabled": True})
        stub.add_response("get_key_policy", {"Policy": '{"Version": "2012-10-17", "Statement": []}'})
        stub.add_response("list_resource_tags", {"Tags": [], "Truncated": False})
        stub.add_response("list_grants", {"Grants": [], "Truncated": False})
        live = read_one(aws, "Key", "AWS::KMS::Key", KEY_ID)
    found = judged(live, residency.KMS_MULTI_REGION_ID)
    assert [f.status for f in found] == [Status.FAIL, Status.FAIL]
    assert any(f.reason.startswith("MultiRegion is true") for f in found)
    assert any(f"replica key {replica} in us-east-1" in f.reason for f in found)


def test_a_secret_replicated_to_virginia_and_scheduled_for_deletion_fails_both(aws):
    deleted = NOW + timedelta(days=7)
    described = {"ARN": f"arn:aws:secretsmanager:ap-northeast-1:{ACCOUNT}:secret:db-res-AbCdEf", "Name": "db-res",
                 "DeletedDate": deleted, "PrimaryRegion": "ap-northeast-1",
                 "ReplicationStatus": [{"Region": "us-east-1", "KmsKeyId": "alias/aws/secretsmanager",
                                        "Status": "InSync", "StatusMessage": "Replication succeeded"}]}
    with Stubber(aws.client("secretsmanager")) as stub:
        stub.add_response("describe_secret", described)
        stub.add_response("list_secret_version_ids", {"Versions": []})
        findings = {f.check_id: f for f in run_collector(
            c.SECRET, c.secret, Context(aws=aws, targets=from_suffix("res"), now=NOW), "db-res")}
    rule_of = dict(secrets_live.SECRET_CHECKS)
    assert findings["secret.replicas"].status is Status.FAIL and rule_of["secret.replicas"] == \
        residency.SECRET_REPLICAS_ID
    assert "replicated to us-east-1 (InSync)" in findings["secret.replicas"].reason
    assert findings["secret.deletion"].status is Status.FAIL and rule_of["secret.deletion"] == \
        secrets_live.DELETION_ID
    assert f"scheduled for deletion on {deleted:%Y-%m-%d} (in 7 day(s))" in findings["secret.deletion"].reason
