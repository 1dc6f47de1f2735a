"""Each guardrail Aspect on a small construct: validators must fail it, mutators must fix it."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from aws_cdk import App, Environment, RemovalPolicy, SecretValue, Stack, cx_api
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as sm

from cdk_app.aspects import apply_guardrails
from cdk_app.config import AppConfig
from platform_spec.rules.intrinsics import tag_map
from platform_spec.tagging import REQUIRED_TAG_KEYS
from tests.conftest import CDK_AND_CHECKOV

pytestmark = CDK_AND_CHECKOV  # every test builds constructs (tests/conftest.py says why the group)

CONFIG = AppConfig.for_suffix("unit")
TOKYO = Environment(region="ap-northeast-1")


def synth_small(build: Callable[[Stack], None], env: Environment | None = TOKYO):
    """Synthesize a one-stack app with every guardrail; return (template, errors, warnings)."""
    app = App(analytics_reporting=False, builtin_cloud_formation_validation=False)
    stack = Stack(app, "Small", env=env)
    build(stack)
    apply_guardrails(app, CONFIG)
    assembly = app.synth()
    artifact = assembly.get_stack_by_name("Small")
    errors = [m.entry.data for m in artifact.messages if m.level == cx_api.SynthesisMessageLevel.ERROR]
    warnings = [m.entry.data for m in artifact.messages if m.level == cx_api.SynthesisMessageLevel.WARNING]
    return artifact.template, errors, warnings


def project_key(stack: Stack) -> kms.Key:
    return kms.Key(stack, "Cmk", alias=CONFIG.name("kms-alias"), enable_key_rotation=True)


def small_db(stack: Stack, **props) -> rds.DatabaseInstance:
    vpc = ec2.Vpc(stack, "Vpc", vpc_name="vpc-unit", availability_zones=["ap-northeast-1a", "ap-northeast-1c"],
                  nat_gateways=0, restrict_default_security_group=False)
    props.setdefault("credentials", rds.Credentials.from_password("u", SecretValue.unsafe_plain_text("p" * 12)))
    return rds.DatabaseInstance(
        stack, "Db", instance_identifier="rds-unit", vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_5), **props)


def only(errors: list[str], rule_id: str) -> list[str]:
    return [e for e in errors if e.startswith(f"[{rule_id}]")]


# --- validating aspects -------------------------------------------------------------------------

def test_compliant_small_stack_has_no_errors():
    def build(stack):
        logs.LogGroup(stack, "Logs", log_group_name="/ecs/thing-unit", encryption_key=project_key(stack))
    _, errors, _ = synth_small(build)
    assert errors == []


def test_kms_aspect_rejects_a_log_group_without_the_cmk():
    def build(stack):
        project_key(stack)
        logs.LogGroup(stack, "Logs", log_group_name="/ecs/thing-unit")
    _, errors, _ = synth_small(build)
    [error] = only(errors, "STK-KMS-001")
    assert "KmsKeyId is not set" in error and "Small/Logs/Resource" in error


def test_kms_aspect_rejects_another_customer_key():
    def build(stack):
        project_key(stack)
        other = kms.Key(stack, "OtherKey")
        logs.LogGroup(stack, "Logs", log_group_name="/ecs/thing-unit", encryption_key=other)
    _, errors, _ = synth_small(build)
    [error] = only(errors, "STK-KMS-001")
    assert "not the project CMK" in error


def test_kms_aspect_rejects_an_aws_managed_key_and_unencrypted_storage():
    def build(stack):
        project_key(stack)
        small_db(stack, storage_encrypted=False)
        logs.CfnLogGroup(stack, "AwsManaged", log_group_name="/ecs/other-unit", kms_key_id="alias/aws/logs")
    _, errors, _ = synth_small(build)
    kms_errors = only(errors, "STK-KMS-001")
    assert any("StorageEncrypted is not true" in e for e in kms_errors)
    assert any("AWS-managed key 'alias/aws/logs'" in e for e in kms_errors)


def test_naming_aspect_rejects_bad_and_missing_names():
    def build(stack):
        key = project_key(stack)
        logs.LogGroup(stack, "Bad", log_group_name="/ecs/Thing_Prod", encryption_key=key)
        ecs.CfnCluster(stack, "Unnamed")
        ecs.CfnCluster(stack, "TooLong", cluster_name="x" * 251 + "-unit")
    _, errors, _ = synth_small(build)
    naming = only(errors, "STK-NAME-001")
    assert len(naming) == 3
    assert any("'/ecs/Thing_Prod' does not follow {resource-type}-unit" in e for e in naming)
    assert any("has no explicit name" in e and "Small/Unnamed" in e for e in naming)
    assert any("the limit is 255" in e for e in naming)


@pytest.mark.parametrize("env, expected", [
    (Environment(region="us-east-1"), "region 'us-east-1' is outside Japan"),
    (None, "region is not fixed at synthesis"),
])
def test_region_aspect_rejects_other_or_unset_regions(env, expected):
    _, errors, _ = synth_small(lambda stack: None, env=env)
    [error] = only(errors, "STK-REGION-001")
    assert expected in error


def test_secrets_aspect_rejects_created_secrets_and_secret_writes():
    def build(stack):
        key = project_key(stack)
        sm.Secret(stack, "Created", encryption_key=key)
        imported = sm.Secret.from_secret_name_v2(stack, "Existing", "rds-credentials-unit")
        # The trap DESIGN.md names: from_secret writes connection details back into the secret.
        small_db(stack, storage_encryption_key=key, credentials=rds.Credentials.from_secret(imported))
    _, errors, _ = synth_small(build)
    secret_errors = only(errors, "STK-SECRET-001")
    assert any("AWS::SecretsManager::Secret creates a secret" in e for e in secret_errors)
    assert any("SecretTargetAttachment writes connection details" in e for e in secret_errors)


def test_secrets_aspect_rejects_credentials_in_plain_environment():
    def build(stack):
        project_key(stack)
        task = ecs.FargateTaskDefinition(stack, "Task", family="task-unit")
        task.add_container("app", image=ecs.ContainerImage.from_registry("example/app:1"),
                           environment={"DB_PASSWORD": "hunter2", "LOG_LEVEL": "info"})
    _, errors, _ = synth_small(build)
    [error] = only(errors, "STK-SECRET-002")
    assert "app/DB_PASSWORD" in error and "LOG_LEVEL" not in error


# --- mutating aspects ---------------------------------------------------------------------------

def test_destroy_aspect_turns_retain_and_snapshot_into_delete():
    def build(stack):
        s3.Bucket(stack, "Kept", removal_policy=RemovalPolicy.RETAIN, encryption=s3.BucketEncryption.S3_MANAGED)
        logs.CfnLogGroup(stack, "Snap", log_group_name="/ecs/snap-unit").apply_removal_policy(RemovalPolicy.SNAPSHOT)
    template, _, _ = synth_small(build)
    for resource in template["Resources"].values():
        assert resource["DeletionPolicy"] == "Delete" and resource["UpdateReplacePolicy"] == "Delete"


def test_destroy_aspect_turns_deletion_protection_off_and_warns():
    def build(stack):
        key = project_key(stack)
        small_db(stack, storage_encryption_key=key, deletion_protection=True, removal_policy=RemovalPolicy.SNAPSHOT)
    template, _, warnings = synth_small(build)
    [db] = [r for r in template["Resources"].values() if r["Type"] == "AWS::RDS::DBInstance"]
    assert db["Properties"]["DeletionProtection"] is False and db["DeletionPolicy"] == "Delete"
    assert any(re.search(r"\[STK-DESTROY-002\].*DeletionProtection was on", w) for w in warnings)


def test_tagging_aspect_tags_l1_l2_and_untyped_resources():
    def build(stack):
        key = project_key(stack)
        logs.CfnLogGroup(stack, "L1", log_group_name="/ecs/l1-unit", kms_key_id=key.key_arn)
        from aws_cdk import CfnResource
        CfnResource(stack, "Untyped", type="AWS::IAM::Role", properties={"AssumeRolePolicyDocument": {}})
    template, _, _ = synth_small(build)
    tagged = [r for r in template["Resources"].values() if r["Type"] in {"AWS::Logs::LogGroup", "AWS::IAM::Role",
                                                                         "AWS::KMS::Key"}]
    assert len(tagged) == 3
    for resource in tagged:
        tags = tag_map(resource["Properties"]["Tags"])
        assert set(REQUIRED_TAG_KEYS) <= set(tags) and tags["Environment"] == "unit"
