"""cdk_app/aspects/secrets.py on a small stack with every guardrail: a created secret, a write into an existing
one (STK-SECRET-001) and a credential in a plain environment variable (STK-SECRET-002) fail synthesis."""

from __future__ import annotations

from tests.conftest import CDK_AND_CHECKOV
from tests.unit.cdk_app.aspects.small_stack import only, project_key, small_db, synth_small

pytestmark = CDK_AND_CHECKOV  # every test builds constructs (tests/conftest.py says why the group)


def test_secrets_aspect_rejects_created_secrets_and_secret_writes():
    from aws_cdk import aws_rds as rds
    from aws_cdk import aws_secretsmanager as sm

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
    from aws_cdk import aws_ecs as ecs

    def build(stack):
        project_key(stack)
        task = ecs.FargateTaskDefinition(stack, "Task", family="task-unit")
        task.add_container("app", image=ecs.ContainerImage.from_registry("example/app:1"),
                           environment={"DB_PASSWORD": "hunter2", "LOG_LEVEL": "info"})
    _, errors, _ = synth_small(build)
    [error] = only(errors, "STK-SECRET-002")
    assert "app/DB_PASSWORD" in error and "LOG_LEVEL" not in error
