"""cdk_app/aspects/kms.py on a small stack with every guardrail: a resource not encrypted with the stack's CMK
fails synthesis with STK-KMS-001."""

from __future__ import annotations

from tests.conftest import CDK_AND_CHECKOV
from tests.unit.cdk_app.aspects.small_stack import only, project_key, small_db, synth_small

pytestmark = CDK_AND_CHECKOV  # every test builds constructs (tests/conftest.py says why the group)


def test_kms_aspect_rejects_a_log_group_without_the_cmk():
    from aws_cdk import aws_logs as logs

    def build(stack):
        project_key(stack)
        logs.LogGroup(stack, "Logs", log_group_name="/ecs/thing-unit")
    _, errors, _ = synth_small(build)
    [error] = only(errors, "STK-KMS-001")
    assert "KmsKeyId is not set" in error and "Small/Logs/Resource" in error


def test_kms_aspect_rejects_another_customer_key():
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_logs as logs

    def build(stack):
        project_key(stack)
        other = kms.Key(stack, "OtherKey")
        logs.LogGroup(stack, "Logs", log_group_name="/ecs/thing-unit", encryption_key=other)
    _, errors, _ = synth_small(build)
    [error] = only(errors, "STK-KMS-001")
    assert "not the project CMK" in error


def test_kms_aspect_rejects_an_aws_managed_key_and_unencrypted_storage():
    from aws_cdk import aws_logs as logs

    def build(stack):
        project_key(stack)
        small_db(stack, storage_encrypted=False)
        logs.CfnLogGroup(stack, "AwsManaged", log_group_name="/ecs/other-unit", kms_key_id="alias/aws/logs")
    _, errors, _ = synth_small(build)
    kms_errors = only(errors, "STK-KMS-001")
    assert any("StorageEncrypted is not true" in e for e in kms_errors)
    assert any("AWS-managed key 'alias/aws/logs'" in e for e in kms_errors)
