"""Fault injection: every way a check can fail to look ends as ERROR (never PASS), and the others go on.

moto cannot produce these faults, so the answers are stubbed (botocore.stub.Stubber) or the network is real:
a closed port on 127.0.0.1 (connection refused) and a local socket that never answers (read timeout).
"""

from __future__ import annotations

import socket
import threading
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber

from opscli import core, targets
from opscli.aws import Aws
from opscli.checks import Context, run_collector
from opscli.checks import collectors as c
from opscli.errors import CredentialsError
from opscli.model import exit_code
from platform_spec.result import Status

T = targets.from_suffix("fault")
CMK = "arn:aws:kms:ap-northeast-1:123456789012:key/11111111-2222-3333-4444-555555555555"
NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)


def ctx(aws: Aws) -> Context:
    return Context(aws=aws, targets=T, now=NOW, cmk_arn=CMK, expected_tags=core.expected_tags(T))


def db_answer(**overrides) -> dict:
    db = {"DBInstanceIdentifier": "rds-fault", "DBInstanceArn": "arn:aws:rds:ap-northeast-1:123456789012:db:rds-fault",
          "MultiAZ": True, "BackupRetentionPeriod": 1, "PubliclyAccessible": False, "StorageEncrypted": True,
          "KmsKeyId": CMK, "DBParameterGroups": [{"DBParameterGroupName": "rds-params-fault",
                                                    "ParameterApplyStatus": "in-sync"}],
          "TagList": [{"Key": k, "Value": "fault" if k == "Environment" else "x"} for k in core.expected_tags(T)]}
    db.update(overrides)
    return {"DBInstances": [{k: v for k, v in db.items() if v is not None}]}


@pytest.fixture
def stubbed(aws_credentials):
    aws = Aws(session=boto3.Session(region_name="ap-northeast-1"), max_attempts=1)
    return aws


def by_check(findings):
    return {f.check_id: f for f in findings}


def test_access_denied_on_one_service_is_error_and_others_go_on(stubbed):
    rds = stubbed.client("rds")
    with Stubber(rds) as stub:
        stub.add_client_error("describe_db_instances", "AccessDenied", "User is not authorized", 403)
        findings = run_collector(c.RDS, c.rds, ctx(stubbed), "rds-fault")
    assert {f.status for f in findings} == {Status.ERROR}
    assert {f.check_id for f in findings} == {check for check, _ in c.RDS.checks}
    assert all("access denied to DescribeDBInstances" in f.reason for f in findings)
    assert exit_code(findings) == 3


def test_throttling_after_retries_is_error(stubbed):
    with Stubber(stubbed.client("elasticache")) as stub:
        stub.add_client_error("describe_replication_groups", "Throttling", "Rate exceeded", 400)
        findings = run_collector(c.REDIS, c.redis, ctx(stubbed), "redis-fault")
    assert {f.status for f in findings} == {Status.ERROR}
    assert "throttled on DescribeReplicationGroups" in findings[0].reason


def test_missing_field_is_error_not_pass(stubbed):
    """An answer without MultiAZ cannot prove Multi-AZ: that check is ERROR, the others are judged."""
    with Stubber(stubbed.client("rds")) as stub:
        stub.add_response("describe_db_instances", db_answer(MultiAZ=None))
        stub.add_response("describe_db_parameters", {"Parameters": [
            {"ParameterName": "rds.force_ssl", "ParameterValue": "1"}]})
        findings = by_check(run_collector(c.RDS, c.rds, ctx(stubbed), "rds-fault"))
    assert findings["rds.multi_az"].status is Status.ERROR
    assert findings["rds.multi_az"].reason == "malformed answer: the answer has no 'MultiAZ'"
    assert findings["rds.backups"].status is Status.PASS and findings["rds.force_ssl"].status is Status.PASS


def test_pagination_reads_every_page(stubbed):
    """rds.force_ssl is on the third page of parameters: the check must read all pages."""
    with Stubber(stubbed.client("rds")) as stub:
        stub.add_response("describe_db_instances", db_answer())
        stub.add_response("describe_db_parameters", {"Parameters": [{"ParameterName": "a", "ParameterValue": "1"}],
                                                     "Marker": "p2"})
        stub.add_response("describe_db_parameters", {"Parameters": [{"ParameterName": "b", "ParameterValue": "1"}],
                                                     "Marker": "p3"})
        stub.add_response("describe_db_parameters", {"Parameters": [
            {"ParameterName": "rds.force_ssl", "ParameterValue": "1"}]})
        findings = by_check(run_collector(c.RDS, c.rds, ctx(stubbed), "rds-fault"))
        stub.assert_no_pending_responses()
    assert findings["rds.force_ssl"].status is Status.PASS
    assert stubbed.log.calls.count("rds:DescribeDBParameters") == 3


def test_redis_transit_mode_and_members_from_stubbed_answers(stubbed):
    """moto reports one member whatever NumCacheClusters says: the HA judgement is tested on recorded shapes."""
    group = {"ReplicationGroupId": "redis-fault", "ARN": "arn:aws:elasticache:ap-northeast-1:1:replicationgroup:redis-fault",
             "MultiAZ": "enabled", "AutomaticFailover": "enabled", "TransitEncryptionEnabled": True,
             "TransitEncryptionMode": "preferred", "AuthTokenEnabled": True, "AtRestEncryptionEnabled": True,
             "KmsKeyId": CMK, "NodeGroups": [{"NodeGroupId": "0001", "NodeGroupMembers": [
                 {"CacheClusterId": "redis-fault-001", "PreferredAvailabilityZone": "ap-northeast-1a"},
                 {"CacheClusterId": "redis-fault-002", "PreferredAvailabilityZone": "ap-northeast-1a"}]}]}
    with Stubber(stubbed.client("elasticache")) as stub:
        stub.add_response("describe_replication_groups", {"ReplicationGroups": [group]})
        stub.add_response("list_tags_for_resource", {"TagList": []})
        findings = by_check(run_collector(c.REDIS, c.redis, ctx(stubbed), "redis-fault"))
    assert findings["redis.transit"].status is Status.FAIL and "'preferred'" in findings["redis.transit"].reason
    assert findings["redis.high_availability"].status is Status.FAIL
    assert "members in 1 AZ(s)" in findings["redis.high_availability"].reason
    assert findings["redis.cmk"].status is Status.PASS and findings["redis.tags"].status is Status.FAIL


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
    assert findings["secret.pending"].status is Status.FAIL and "stuck in AWSPENDING" in findings["secret.pending"].reason
    assert findings["secret.rotation_age"].status is Status.PASS and findings["secret.cmk"].status is Status.PASS


def test_connection_refused_is_error_for_every_check(aws_credentials):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens there
    aws = Aws(session=boto3.Session(region_name="ap-northeast-1"), endpoint_url=f"http://127.0.0.1:{port}",
              max_attempts=1)
    report = core.audit(aws, T)
    assert report.findings and {f.status for f in report.findings} == {Status.ERROR}
    assert all("endpoint unreachable" in f.reason for f in report.findings)
    assert exit_code(report.findings) == 3


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
        aws = Aws(session=boto3.Session(region_name="ap-northeast-1"),
                  endpoint_url=f"http://127.0.0.1:{server.getsockname()[1]}", max_attempts=1)
        aws._config = aws._config.merge(__import__("botocore.config").config.Config(read_timeout=1))
        findings = run_collector(c.RDS, c.rds, ctx(aws), "rds-fault")
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()
    assert {f.status for f in findings} == {Status.ERROR}
    assert "timed out" in findings[0].reason


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
    from opscli.checks import describe_failure

    def client_error(code):
        return bex.ClientError({"Error": {"Code": code, "Message": "m"}}, "DescribeThings")
    assert describe_failure(client_error("InternalFailure")) == (Status.ERROR, "DescribeThings failed: InternalFailure m")
    assert describe_failure(client_error("ResourceNotFoundException"))[0] is Status.FAIL
    assert describe_failure(bex.ConnectTimeoutError(endpoint_url="http://x"))[0] is Status.ERROR
    assert describe_failure(bex.PaginationError(message="bad"))[1].startswith("AWS SDK error")
    assert describe_failure(KeyError("MultiAZ")) == (Status.ERROR, "malformed answer: KeyError 'MultiAZ'")
    with pytest.raises(ZeroDivisionError):
        describe_failure(ZeroDivisionError())


def test_unresolved_project_key_makes_identity_checks_error(stubbed):
    """Without the CMK's ARN nobody can say the key is the project's: ERROR, never PASS."""
    context = ctx(stubbed)
    context.cmk_arn = None
    with Stubber(stubbed.client("rds")) as stub:
        stub.add_response("describe_db_instances", db_answer())
        stub.add_response("describe_db_parameters", {"Parameters": [
            {"ParameterName": "rds.force_ssl", "ParameterValue": "1"}]})
        findings = by_check(run_collector(c.RDS, c.rds, context, "rds-fault"))
    assert findings["rds.cmk"].status is Status.ERROR
    assert "the project key could not be resolved" in findings["rds.cmk"].reason
    assert findings["rds.multi_az"].status is Status.PASS


def test_ambiguous_names_are_errors_not_guesses(moto_env):
    """Two file systems tagged with the environment's name, or two REST APIs with its name: ERROR."""
    efs = boto3.client("efs", region_name="ap-northeast-1")
    api = boto3.client("apigateway", region_name="ap-northeast-1")
    for token in ("a", "b"):
        efs.create_file_system(CreationToken=token, Tags=[{"Key": "Name", "Value": T.efs_name}])
        api.create_rest_api(name=T.api_name)
    aws = Aws(session=boto3.Session(region_name="ap-northeast-1"))
    efs_findings = by_check(run_collector(c.EFS, c.efs, ctx(aws), T.efs_name, None))
    api_findings = by_check(run_collector(c.API, c.api, ctx(aws), T.api_name, None))
    assert efs_findings["efs.found"].status is Status.ERROR and "2 EFS file systems are tagged" in efs_findings["efs.found"].reason
    assert api_findings["api.found"].status is Status.ERROR and "2 REST APIs are named" in api_findings["api.found"].reason


def test_efs_policy_lookup_denied_is_error_for_the_policy_check_only(stubbed):
    fs = {"FileSystemId": "fs-1", "FileSystemArn": "arn:aws:elasticfilesystem:ap-northeast-1:1:file-system/fs-1",
          "Encrypted": True, "KmsKeyId": CMK, "Tags": [], "OwnerId": "1", "CreationToken": "t",
          "CreationTime": NOW, "LifeCycleState": "available", "NumberOfMountTargets": 0,
          "SizeInBytes": {"Value": 0}, "PerformanceMode": "generalPurpose"}
    with Stubber(stubbed.client("efs")) as stub:
        stub.add_response("describe_file_systems", {"FileSystems": [fs]})
        stub.add_client_error("describe_file_system_policy", "AccessDeniedException", "no", 403)
        findings = by_check(run_collector(c.EFS, c.efs, ctx(stubbed), T.efs_name, "fs-1"))
    assert findings["efs.found"].status is Status.PASS and findings["efs.cmk"].status is Status.PASS
    assert findings["efs.tls_policy"].status is Status.ERROR
    assert "access denied to DescribeFileSystemPolicy" in findings["efs.tls_policy"].reason
