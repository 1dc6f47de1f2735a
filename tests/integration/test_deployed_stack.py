"""The deployed stack, read through boto3 from its outputs: existence, names, tags, HA, CMK identity, TLS."""

from __future__ import annotations

import json

import pytest

from opscli.targets import REQUIRED_OUTPUTS
from platform_spec.naming import physical_name
from platform_spec.tagging import REQUIRED_TAG_KEYS

# One worker holds the session's local deployment for every test that reads it (tests/conftest.py).
pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("deployment")]


def test_outputs_are_complete(deployment):
    missing = [k for k in REQUIRED_OUTPUTS if not deployment.outputs.get(k)]
    assert not missing and not any("UNRESOLVED" in v for v in deployment.outputs.values())
    assert deployment.outputs["Region"] == "ap-northeast-1"


def test_kms_key_is_customer_managed_and_rotating(deployment):
    kms = deployment.client("kms")
    meta = kms.describe_key(KeyId=deployment.outputs["KmsKeyArn"])["KeyMetadata"]
    assert meta["KeyManager"] == "CUSTOMER" and meta["KeyState"] == "Enabled"
    assert kms.get_key_rotation_status(KeyId=meta["Arn"])["KeyRotationEnabled"] is True
    aliases = kms.list_aliases(KeyId=meta["KeyId"])["Aliases"]
    assert physical_name("kms-alias", deployment.suffix) in {a["AliasName"] for a in aliases}


def test_rds_is_multi_az_cmk_encrypted_tls_only_and_tagged(deployment):
    out = deployment.outputs
    rds = deployment.client("rds")
    db = rds.describe_db_instances(DBInstanceIdentifier=out["DbInstanceIdentifier"])["DBInstances"][0]
    assert db["DBInstanceIdentifier"] == physical_name("rds", deployment.suffix)
    assert db["MultiAZ"] is True and db["StorageEncrypted"] is True and db["KmsKeyId"] == out["KmsKeyArn"]
    assert db["BackupRetentionPeriod"] >= 1 and not db.get("PubliclyAccessible")
    group = next(g for g in db["DBParameterGroups"] if g["DBParameterGroupName"] == out["DbParameterGroupName"])
    assert group["ParameterApplyStatus"] == "in-sync"
    params = rds.describe_db_parameters(DBParameterGroupName=out["DbParameterGroupName"], Source="user")["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in params}["rds.force_ssl"] == "1"
    tags = {t["Key"]: t["Value"] for t in db["TagList"]}
    assert set(REQUIRED_TAG_KEYS) <= set(tags) and tags["Environment"] == deployment.suffix


def test_redis_has_two_members_in_two_azs_tls_required_and_cmk(deployment):
    out = deployment.outputs
    group = deployment.client("elasticache").describe_replication_groups(
        ReplicationGroupId=out["RedisReplicationGroupId"])["ReplicationGroups"][0]
    members = [m for ng in group["NodeGroups"] for m in ng["NodeGroupMembers"]]
    assert len(members) >= 2 and len({m["PreferredAvailabilityZone"] for m in members}) >= 2
    assert group["MultiAZ"] == "enabled" and group["AutomaticFailover"] == "enabled"
    assert group["TransitEncryptionEnabled"] is True and group["TransitEncryptionMode"] == "required"
    assert group["AuthTokenEnabled"] is True and group["KmsKeyId"] == out["KmsKeyArn"]


def test_efs_is_cmk_encrypted_tls_only_with_mount_targets_in_every_az(deployment):
    out = deployment.outputs
    efs = deployment.client("efs")
    fs = efs.describe_file_systems(FileSystemId=out["EfsFileSystemId"])["FileSystems"][0]
    assert fs["Encrypted"] is True and fs["KmsKeyId"] == out["KmsKeyArn"]
    assert {t["Key"]: t["Value"] for t in fs["Tags"]}["Name"] == physical_name("efs", deployment.suffix)
    policy = json.loads(efs.describe_file_system_policy(FileSystemId=fs["FileSystemId"])["Policy"])
    assert any(s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
               for s in policy["Statement"])
    targets = efs.describe_mount_targets(FileSystemId=fs["FileSystemId"])["MountTargets"]
    assert len({t["AvailabilityZoneName"] for t in targets}) == 3


def test_ecs_services_run_two_tasks_with_scaling(deployment):
    out = deployment.outputs
    ecs = deployment.client("ecs")
    services = ecs.describe_services(cluster=out["ClusterName"], services=[
        out["VideoProcessingServiceName"], out["MetadataApiServiceName"]])["services"]
    assert {s["serviceName"] for s in services} == {physical_name("video-processing", deployment.suffix),
                                                     physical_name("metadata-api", deployment.suffix)}
    assert all(s["desiredCount"] >= 2 for s in services)
    scaling = deployment.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")
    scaled = {t["ResourceId"].rsplit("/", 1)[-1] for t in scaling["ScalableTargets"]}
    assert {s["serviceName"] for s in services} <= scaled


def test_api_is_regional_with_logging_and_tracing(deployment):
    out = deployment.outputs
    api = deployment.client("apigateway")
    rest = api.get_rest_api(restApiId=out["ApiId"])
    assert rest["name"] == physical_name("api", deployment.suffix)
    assert rest["endpointConfiguration"]["types"] == ["REGIONAL"]
    stage = api.get_stage(restApiId=out["ApiId"], stageName=out["ApiStageName"])
    assert stage["tracingEnabled"] is True and stage["accessLogSettings"]["destinationArn"]


def test_log_groups_have_retention_and_the_cmk(deployment):
    out = deployment.outputs
    logs = deployment.client("logs")
    for key in ("VideoProcessingLogGroup", "MetadataApiLogGroup", "ApiAccessLogGroup"):
        group = next(g for g in logs.describe_log_groups(logGroupNamePrefix=out[key])["logGroups"]
                     if g["logGroupName"] == out[key])
        assert group["retentionInDays"] >= 1 and group["kmsKeyId"] == out["KmsKeyArn"], key


def test_opscli_audit_of_the_deployment_passes(deployment, capsys):
    """The command in process; locally its read is the compliant shared deployment's that tests/opscli's
    `shared_read` serves (the process's first read of it, which the session's baseline judges: its own step
    of reading is tested there and in tests/opscli), the rest of the run its own."""
    from opscli.cli import main
    from tests.opscli.conftest import COMPLIANT_READS, sharing_reads

    args = ["audit", "--outputs", str(deployment.outputs_file), "-o", "json"]
    if deployment.endpoint_url:
        args += ["--endpoint-url", deployment.endpoint_url]
    with sharing_reads(COMPLIANT_READS if deployment.local else {}):
        code = main(args)
    document = json.loads(capsys.readouterr().out)
    assert code == 0, [f for f in document["findings"] if f["status"] != "PASS"]
    assert document["summary"]["PASS"] == len(document["findings"])
