"""The existing Secrets Manager secrets the platform reads; imported by name or ARN, never created."""

from __future__ import annotations

from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from cdk_app.config import AppConfig
from platform_spec.contract import SECRET_DB_PASSWORD_FIELD as DB_PASSWORD_FIELD
from platform_spec.contract import SECRET_DB_USERNAME_FIELD as DB_USERNAME_FIELD
from platform_spec.contract import SECRET_REDIS_AUTH_FIELD as REDIS_AUTH_FIELD

# JSON fields the secrets must hold (documented in README "Secrets"); the workloads' fields are in the contract.
API_KEY_FIELD = "apiKey"
__all__ = ["API_KEY_FIELD", "DB_PASSWORD_FIELD", "DB_USERNAME_FIELD", "REDIS_AUTH_FIELD", "import_secret"]


def import_secret(scope: Construct, construct_id: str, ref: str) -> sm.ISecret:
    """Import `ref`: a complete ARN keeps its random suffix; a name is matched with `-??????` in grants."""
    if ref.startswith("arn:"):
        return sm.Secret.from_secret_complete_arn(scope, construct_id, ref)
    return sm.Secret.from_secret_name_v2(scope, construct_id, ref)


class ExistingSecrets(Construct):
    """Exposes `self.database`, `self.api_key` and `self.redis_auth` (imports; nothing is synthesized)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig) -> None:
        super().__init__(scope, construct_id)
        self.database = import_secret(self, "Database", config.db_secret)
        self.api_key = import_secret(self, "ApiKey", config.api_key_secret)
        self.redis_auth = import_secret(self, "RedisAuth", config.redis_auth_secret)
