"""The audit and rotate-check cores against a moto environment deployed from the real template."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest

from opscli import core, targets
from opscli.aws import Aws
from opscli.errors import ReadOnlyViolation, UsageError
from opscli.model import exit_code
from platform_spec.result import Status
from tests.opscli.conftest import deploy_into_moto
from tests.policy.mutations import by_name, props

# One worker holds the session's local deployment for every test that reads it (tests/conftest.py).
pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("deployment")]


def statuses(report) -> dict[tuple[str, str], Status]:
    return {(f.check_id, f.resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1]): f.status for f in report.findings}


def failing(report) -> set[str]:
    return {f.check_id for f in report.findings if f.status is Status.FAIL}


def test_compliant_environment_passes_every_check(deployed, aws, synth):
    report = core.audit(aws, targets.from_suffix("test"))
    assert {f.status for f in report.findings} == {Status.PASS}, [f for f in report.findings if f.status is not Status.PASS]
    checks = {f.check_id for f in report.findings}
    assert {"rds.multi_az", "rds.cmk", "rds.force_ssl", "redis.high_availability", "redis.transit", "redis.cmk",
            "efs.tls_policy", "efs.mount_targets", "ecs.cluster", "ecs.service", "api.regional",
            "api.stage_logging", "kms.rotation", "logs.retention", "logs.cmk"} <= checks
    assert exit_code(report.findings) == 0
    assert report.api_calls == len(aws.log.calls) > 10


def test_outputs_file_targets_the_same_resources(deployed, tmp_path):
    import json
    path = tmp_path / "flat-outputs.json"
    path.write_text(json.dumps(deployed))
    by_outputs_aws, by_suffix_aws = (Aws(session=boto3.Session(region_name="ap-northeast-1")) for _ in range(2))
    by_outputs = core.audit(by_outputs_aws, targets.from_outputs(path))
    by_suffix = core.audit(by_suffix_aws, targets.from_suffix("test"))
    assert {(f.check_id, f.status) for f in by_outputs.findings} == {(f.check_id, f.status) for f in by_suffix.findings}
    # With outputs, the API and the file system are not looked up by name.
    assert {"apigateway:GetRestApis", "resourcegroupstaggingapi:GetResources"} <= by_suffix_aws.log.operations
    assert not {"apigateway:GetRestApis", "resourcegroupstaggingapi:GetResources"} & by_outputs_aws.log.operations


def _break_data_stores(t):
    props(t, "AWS::RDS::DBInstance").update(MultiAZ=False, BackupRetentionPeriod=0, PubliclyAccessible=True)
    props(t, "AWS::RDS::DBParameterGroup")["Parameters"]["rds.force_ssl"] = "0"
    props(t, "AWS::ElastiCache::ReplicationGroup").update(TransitEncryptionMode="preferred", NumCacheClusters=1,
                                                          PreferredCacheClusterAZs=["ap-northeast-1a"])
    props(t, "AWS::EFS::FileSystem").pop("FileSystemPolicy")
    mounts = [k for k, v in t["Resources"].items() if v["Type"] == "AWS::EFS::MountTarget"]
    for k in mounts[1:]:
        t["Resources"].pop(k)


def _break_platform(t):
    props(t, "AWS::KMS::Key")["EnableKeyRotation"] = False
    props(t, "AWS::ApiGateway::RestApi")["EndpointConfiguration"] = {"Types": ["EDGE"]}
    props(t, "AWS::ApiGateway::Stage")["TracingEnabled"] = False
    props(t, "AWS::ECS::Cluster")["ClusterSettings"] = [{"Name": "containerInsights", "Value": "disabled"}]
    by_name(t, "AWS::ECS::Service", "ServiceName", "metadata-api-test")["DesiredCount"] = 1
    logs = by_name(t, "AWS::Logs::LogGroup", "LogGroupName", "/ecs/video-processing-test")
    logs.pop("RetentionInDays")
    props(t, "AWS::RDS::DBInstance")["Tags"] = [x for x in props(t, "AWS::RDS::DBInstance")["Tags"]
                                                 if x["Key"] != "Owner"]


@pytest.mark.parametrize("mutate, expected", [
    (_break_data_stores, {"rds.multi_az", "rds.backups", "rds.not_public", "rds.force_ssl", "redis.transit",
                          "redis.high_availability", "efs.tls_policy", "efs.mount_targets"}),
    (_break_platform, {"kms.rotation", "api.regional", "api.stage_logging", "ecs.cluster", "ecs.service",
                       "logs.retention", "rds.tags"}),
], ids=["data-stores", "platform"])
def test_non_compliant_resources_fail_exactly_their_checks(synth, moto_env, aws, mutate, expected):
    deploy_into_moto(synth.template, "test", mutate)
    report = core.audit(aws, targets.from_suffix("test"))
    assert failing(report) == expected
    assert not any(f.status is Status.ERROR for f in report.findings)
    assert exit_code(report.findings) == 1


def test_foreign_key_is_not_the_project_cmk(synth, moto_env, aws):
    """Encrypted, but with another customer key: the CMK-identity checks fail, the rest pass."""
    other = boto3.client("kms", region_name="ap-northeast-1").create_key()["KeyMetadata"]["Arn"]

    def mutate(t):
        props(t, "AWS::RDS::DBInstance")["KmsKeyId"] = other
        by_name(t, "AWS::Logs::LogGroup", "LogGroupName", "/ecs/metadata-api-test")["KmsKeyId"] = other
    deploy_into_moto(synth.template, "test", mutate)
    report = core.audit(aws, targets.from_suffix("test"))
    assert failing(report) == {"rds.cmk", "logs.cmk"}
    assert any("is not the project CMK" in f.reason for f in report.findings if f.check_id == "rds.cmk")


def test_missing_environment_fails_with_what_was_expected(moto_env, aws):
    report = core.audit(aws, targets.from_suffix("ghost"))
    reasons = {f.check_id: f.reason for f in report.findings if f.status is Status.FAIL}
    assert reasons["rds.found"] == "expected DB instance rds-ghost not found"
    assert reasons["redis.found"] == "expected Redis replication group redis-ghost not found"
    assert reasons["efs.found"] == "expected EFS file system tagged Name=efs-ghost not found"
    assert reasons["api.found"] == "expected REST API api-ghost not found"
    assert reasons["kms.found"] == "expected KMS key alias/kms-key-ghost not found"
    assert "expected ECS cluster ecs-cluster-ghost not found" in reasons["ecs.cluster"]
    assert not any(f.status is Status.PASS for f in report.findings)
    assert exit_code(report.findings) == 1


def test_rotation_checks_on_seeded_secrets(deployed, aws):
    report = core.rotate_secrets(aws, targets.from_suffix("test"))
    assert {f.status for f in report.findings} == {Status.PASS}
    assert len(report.findings) == 15
    later = core.rotate_secrets(aws, targets.from_suffix("test"), now=datetime.now(timezone.utc) + timedelta(days=120))
    failed = {f.check_id for f in later.findings if f.status is Status.FAIL}
    assert failed == {"secret.rotation_age", "secret.last_accessed", "secret.pending"}


def test_rotation_off_and_aws_managed_key_fail(moto_env, aws):
    sm = boto3.client("secretsmanager", region_name="ap-northeast-1")
    for name in targets.from_suffix("bare").secrets:
        sm.create_secret(Name=name, SecretString="{}")
    report = core.rotate_secrets(aws, targets.from_suffix("bare"))
    failed = {(f.check_id, f.reason) for f in report.findings if f.status is Status.FAIL}
    assert ("secret.rotation_enabled", "rotation is not enabled") in failed
    assert ("secret.rotation_age", "never rotated") in failed
    assert ("secret.cmk", "encrypted with the AWS-managed key aws/secretsmanager") in failed


def test_key_rotation_check(deployed, aws):
    report = core.rotate_keys(aws, targets.from_suffix("test"))
    assert {f.check_id: f.status for f in report.findings} == {
        "kms.found": Status.PASS, "kms.customer_managed": Status.PASS, "kms.rotation": Status.PASS,
        "kms.tags": Status.PASS}


def test_calls_are_exactly_the_declared_reads(deployed, aws):
    """A full audit, rotate-check secrets and keys call exactly the operations `opscli iam-policy` covers."""
    from opscli.aws import is_read
    t = targets.from_suffix("test")
    core.audit(aws, t)
    core.rotate_secrets(aws, t)
    core.rotate_keys(aws, t)
    assert aws.log.operations == core.declared_operations()
    assert all(is_read(op.split(":", 1)[1]) for op in aws.log.operations)


def test_read_only_guard_refuses_writes(aws):
    with pytest.raises(ReadOnlyViolation, match="refused rds:DeleteDBInstance"):
        aws.client("rds").delete_db_instance(DBInstanceIdentifier="rds-test")
    assert aws.log.calls == ["rds:DeleteDBInstance"]


def test_audit_refuses_other_regions(moto_env):
    with pytest.raises(UsageError, match="region 'us-east-1' is not allowed"):
        core.audit(Aws(region="us-east-1"), targets.from_suffix("test"))
