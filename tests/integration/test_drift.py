"""Drift: break one setting of the deployed (emulated) environment at a time; opscli must report the matching
rule id with exit code 1, and pass again once the setting is restored. Never run against a real account."""

from __future__ import annotations

import json

import pytest

from opscli.cli import main

# One worker holds the session's local deployment for every test that reads it (tests/conftest.py).
pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("deployment")]


@pytest.fixture
def local(deployment):
    if not deployment.local:
        pytest.skip("drift tests change resources: they run against the local emulator only")
    return deployment


def run(deployment, capsys, *command: str) -> tuple[int, dict]:
    code = main([*command, "--endpoint-url", deployment.endpoint_url, "-o", "json"])
    return code, json.loads(capsys.readouterr().out)


def failed_rules(document: dict) -> set[str]:
    return {f["rule_id"] for f in document["findings"] if f["status"] == "FAIL"}


def _rds_multi_az(d, on):
    d.client("rds").modify_db_instance(DBInstanceIdentifier=d.outputs["DbInstanceIdentifier"], MultiAZ=on,
                                       ApplyImmediately=True)


def _kms_rotation(d, on):
    kms = d.client("kms")
    (kms.enable_key_rotation if on else kms.disable_key_rotation)(KeyId=d.outputs["KmsKeyArn"])


def _rds_owner_tag(d, on):
    rds = d.client("rds")
    arn = rds.describe_db_instances(DBInstanceIdentifier=d.outputs["DbInstanceIdentifier"])["DBInstances"][0]["DBInstanceArn"]
    if on:
        rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "Owner", "Value": "platform-team"}])
    else:
        rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["Owner"])


def _log_retention(d, on):
    logs, name = d.client("logs"), d.outputs["ApiAccessLogGroup"]
    if on:
        logs.put_retention_policy(logGroupName=name, retentionInDays=30)
    else:
        logs.delete_retention_policy(logGroupName=name)


_saved_policy: dict[str, str] = {}


def _efs_tls_policy(d, on):
    efs, fs = d.client("efs"), d.outputs["EfsFileSystemId"]
    if on:
        efs.put_file_system_policy(FileSystemId=fs, Policy=_saved_policy.pop(fs))
    else:
        # The TLS deny statement removed (moto has no DeleteFileSystemPolicy; real AWS would accept either).
        _saved_policy[fs] = efs.describe_file_system_policy(FileSystemId=fs)["Policy"]
        efs.put_file_system_policy(FileSystemId=fs, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "elasticfilesystem:ClientMount", "Resource": "*"}]}))


def _stage_tracing(d, on):
    d.client("apigateway").update_stage(restApiId=d.outputs["ApiId"], stageName=d.outputs["ApiStageName"],
                                        patchOperations=[{"op": "replace", "path": "/tracingEnabled",
                                                          "value": str(on).lower()}])


def _service_count(d, on):
    d.client("ecs").update_service(cluster=d.outputs["ClusterName"], service=d.outputs["MetadataApiServiceName"],
                                   desiredCount=2 if on else 1)


_saved_rotation: dict[str, str] = {}


def _secret_rotation(d, on):
    sm, name = d.client("secretsmanager"), d.outputs["DbSecretName"]
    if on:
        sm.rotate_secret(SecretId=name, RotationLambdaARN=_saved_rotation.pop(name),
                         RotationRules={"AutomaticallyAfterDays": 30})
    else:
        _saved_rotation[name] = sm.describe_secret(SecretId=name)["RotationLambdaARN"]
        sm.cancel_rotate_secret(SecretId=name)


_saved_queue_policy: dict[str, str] = {}


def _queue_tls_policy(d, on):
    sqs = d.client("sqs")
    url = sqs.get_queue_url(QueueName=d.outputs["IntakeQueueName"])["QueueUrl"]
    if on:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _saved_queue_policy.pop(url)})
    else:
        _saved_queue_policy[url] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
             "Resource": "*"}]})})


_saved_scaling: dict[str, dict] = {}


def _backlog_scaling(d, on):
    scaling = d.client("application-autoscaling")
    resource = f"service/{d.outputs['ClusterName']}/{d.outputs['VideoProcessingServiceName']}"
    if on:
        scaling.put_scaling_policy(**_saved_scaling.pop(resource))
    else:
        [policy] = [p for p in scaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)[
            "ScalingPolicies"] if "CustomizedMetricSpecification" in p["TargetTrackingScalingPolicyConfiguration"]]
        _saved_scaling[resource] = {k: policy[k] for k in (
            "PolicyName", "ServiceNamespace", "ResourceId", "ScalableDimension", "PolicyType",
            "TargetTrackingScalingPolicyConfiguration")}
        scaling.delete_scaling_policy(PolicyName=policy["PolicyName"], ServiceNamespace="ecs", ResourceId=resource,
                                      ScalableDimension=policy["ScalableDimension"])


DRIFTS = {
    "worker-backlog-scaling-deleted": (_backlog_scaling, "STK-SQS-003", "audit"),
    "queue-tls-policy-removed": (_queue_tls_policy, "STK-SQS-002", "audit"),
    "rds-multi-az-off": (_rds_multi_az, "STK-RDS-001", "audit"),
    "kms-rotation-off": (_kms_rotation, "STK-KMS-002", "audit"),
    "required-tag-removed": (_rds_owner_tag, "STK-TAG-001", "audit"),
    "log-retention-removed": (_log_retention, "STK-LOG-001", "audit"),
    "efs-tls-policy-removed": (_efs_tls_policy, "STK-EFS-001", "audit"),
    "api-tracing-off": (_stage_tracing, "STK-API-002", "audit"),
    "service-below-two-tasks": (_service_count, "STK-ECS-002", "audit"),
    "secret-rotation-off": (_secret_rotation, "STK-SECRET-003", "rotate-check"),
}


@pytest.mark.parametrize("name", sorted(DRIFTS))
def test_drift_is_reported_with_its_rule_id(local, capsys, name):
    toggle, rule_id, command = DRIFTS[name]
    args = ["audit", "--outputs", str(local.outputs_file)] if command == "audit" else [
        "rotate-check", "secrets", "--outputs", str(local.outputs_file)]
    toggle(local, False)
    try:
        code, document = run(local, capsys, *args)
        assert code == 1 and failed_rules(document) == {rule_id}, (code, failed_rules(document))
    finally:
        toggle(local, True)
    code, document = run(local, capsys, *args)
    assert code == 0 and failed_rules(document) == set()


def test_a_breaking_test_that_restores_leaves_the_shared_deployment_as_it_was(local, restored_deployment,
                                                                              baseline_posture):
    """The guard of the shared deployment: a change left behind is caught, a restored one passes."""
    from tests.conftest import assert_restored

    _kms_rotation(local, False)
    try:
        with pytest.raises(AssertionError, match="left the shared deployment changed"):
            assert_restored(restored_deployment, baseline_posture)
    finally:
        _kms_rotation(local, True)
    assert_restored(restored_deployment, baseline_posture)
