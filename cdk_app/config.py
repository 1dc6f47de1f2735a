"""The app's configuration: read once from CDK context at the entry point, validated, frozen."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from platform_spec import stacks
from platform_spec.naming import NAMES, SERVICE_LIMITS, NamingError, name_problems, physical_name, validate_suffix
from platform_spec.stacks import ALLOWED_REGION
from platform_spec.tagging import tag_problems
from platform_utils.numbers import digits, whole

# Named, not looked up, so synthesis is deterministic offline and really spans three AZs
# (ap-northeast-1b is not offered to new accounts).
DEFAULT_AZS: tuple[str, ...] = tuple(f"{ALLOWED_REGION}{zone}" for zone in "acd")
# Retention values CloudWatch Logs accepts.
VALID_LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                            3288, 3653)
DEFAULT_SUFFIX = "dev"


class ConfigError(ValueError):
    """The CDK context holds a value the app cannot use; the message says what and what is allowed."""


@dataclass(frozen=True)
class AppConfig:
    """Everything the stack needs to know, decided before any construct exists."""

    environment_suffix: str
    db_secret: str
    api_key_secret: str
    redis_auth_secret: str
    region: str = ALLOWED_REGION
    account: str | None = None
    availability_zones: tuple[str, ...] = DEFAULT_AZS
    project: str = "streamtech-video-platform"
    cost_center: str = "streamtech-media"
    owner: str = "platform-team"
    data_classification: str = "confidential"
    extra_tags: tuple[tuple[str, str], ...] = ()
    log_retention_days: int = 30
    nat_gateways: int = 1
    redis_node_count: int = 2
    video_image_uri: str | None = None
    metadata_image_uri: str | None = None
    db_instance_class: str = "t4g.medium"
    redis_node_type: str = "cache.t4g.small"
    # cdk-nag packs at synthesis; off only to measure a plain synth (bench/) — the gate always runs them.
    compliance_packs: bool = True
    # The organisation's asset buckets (<prefix>-<region>) for the monitor's StackSet template; None: one account.
    monitor_asset_bucket_prefix: str | None = None
    stack_name: str = field(default="")

    def __post_init__(self) -> None:
        if not self.stack_name:
            object.__setattr__(self, "stack_name", stacks.stack_name(self.environment_suffix))

    @property
    def key_aliases(self) -> tuple[str, ...]:
        """The aliases of the project's customer-managed keys in this environment: one per stack of the app."""
        return tuple(self.name(key) for key, spec in NAMES.items() if spec.limit == "kms-alias")

    def name(self, key: str) -> str:
        """The physical name of resource `key` in this environment."""
        return physical_name(key, self.environment_suffix)

    @classmethod
    def for_suffix(cls, suffix: str, **overrides: Any) -> AppConfig:
        """A valid config for `suffix` with the documented default secret names (tests, tools)."""
        return parse_context({"environmentSuffix": suffix, **overrides}.get)


# Context keys the app reads. Everything else in context (feature flags) belongs to CDK itself.
CONTEXT_KEYS = (
    "environmentSuffix", "region", "account", "dbSecretName", "apiKeySecretName", "redisAuthSecretName",
    "project", "costCenter", "owner", "dataClassification", "extraTags", "logRetentionDays",
    "natGateways", "redisNodeCount", "videoImageUri", "metadataImageUri", "dbInstanceClass", "redisNodeType",
    "compliancePacks", "monitorAssetBucketPrefix",
)


def _text(get: Callable[[str], Any], key: str, default: str | None) -> str | None:
    value = get(key)
    if value is None:
        return default
    return str(value).strip()


def _int(get: Callable[[str], Any], key: str, default: int, allowed: str, ok: Callable[[int], bool]) -> int:
    raw = get(key)
    if raw is None:
        return default
    value = whole(str(raw))  # ASCII digits only: int() reads '3_0' and fullwidth digits
    if value is None:
        raise ConfigError(f"{key}='{raw}' is not a whole number; allowed: {allowed}")
    if not ok(value):
        raise ConfigError(f"{key}={value} is not allowed; allowed: {allowed}")
    return value


def _secret_ref(get: Callable[[str], Any], key: str, default: str) -> str:
    value = get(key)
    if value is None:
        return default
    value = str(value).strip()
    if not value:
        raise ConfigError(
            f"{key} is empty: give the name or ARN of an existing Secrets Manager secret "
            f"(default '{default}'); the stack never creates secrets"
        )
    if value.startswith("arn:"):
        parts = value.split(":")
        if len(parts) < 7 or parts[2] != "secretsmanager" or parts[5] != "secret":
            raise ConfigError(f"{key}='{value}' is not a Secrets Manager secret ARN "
                              "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)")
        if parts[3] != ALLOWED_REGION:
            raise ConfigError(f"{key}='{value}' is in region '{parts[3]}'; secrets must be in {ALLOWED_REGION}")
        return value
    problems = name_problems(value, "secret")
    if problems:
        raise ConfigError(f"{key}: {'; '.join(problems)}")
    return value


def _extra_tags(raw: Any) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError("extraTags must be a JSON object of tag key to value, "
                              "e.g. '{\"Team\":\"video\"}'") from None
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise ConfigError("extraTags must be a JSON object of tag key to string value")
    for key, value in raw.items():
        problems = tag_problems(key, value)
        if problems:
            raise ConfigError(f"extraTags: {'; '.join(problems)}")
    return tuple(sorted(raw.items()))


def parse_context(get: Callable[[str], Any]) -> AppConfig:
    """Build the validated config from a context getter (`app.node.try_get_context`).

    Raises ConfigError with one line that says what is wrong and what is allowed.
    """
    suffix = get("environmentSuffix")
    suffix = DEFAULT_SUFFIX if suffix is None else str(suffix)
    try:
        validate_suffix(suffix)
    except NamingError as exc:
        raise ConfigError(str(exc)) from None

    region = _text(get, "region", ALLOWED_REGION)
    if region != ALLOWED_REGION:
        raise ConfigError(
            f"region '{region}' is not allowed: StreamTech data must stay in Japan, so this app deploys "
            f"to {ALLOWED_REGION} only"
        )
    account = _text(get, "account", None) or None
    if account is not None and not (digits(account) and len(account) == 12):
        raise ConfigError(f"account '{account}' is not a 12-digit AWS account id")

    def default(key: str) -> str:
        return physical_name(key, suffix)

    tags: dict[str, str] = {}
    for key, ctx_key, fallback in (
        ("project", "project", AppConfig.project),
        ("cost_center", "costCenter", AppConfig.cost_center),
        ("owner", "owner", AppConfig.owner),
        ("data_classification", "dataClassification", AppConfig.data_classification),
    ):
        value = _text(get, ctx_key, fallback) or ""
        problems = tag_problems(ctx_key, value) or ([] if value else [f"{ctx_key} must not be empty"])
        if problems:
            raise ConfigError(f"{ctx_key}: {'; '.join(problems)}")
        tags[key] = value

    video_image = _text(get, "videoImageUri", None) or None
    metadata_image = _text(get, "metadataImageUri", None) or None
    for key, uri in (("videoImageUri", video_image), ("metadataImageUri", metadata_image)):
        if uri is not None and (" " in uri or "/" not in uri):
            raise ConfigError(f"{key}='{uri}' is not an image URI (REGISTRY/REPOSITORY[:TAG|@DIGEST])")

    db_class = _text(get, "dbInstanceClass", AppConfig.db_instance_class) or ""
    if db_class.startswith("db."):
        db_class = db_class[3:]
    if db_class.split(".")[-1] in {"micro", "small"}:
        # Performance Insights (encrypted with our key) is not offered on micro/small classes.
        raise ConfigError(f"dbInstanceClass '{db_class}' is too small: use at least a .medium class "
                          "(Performance Insights)")
    redis_type = _text(get, "redisNodeType", AppConfig.redis_node_type) or ""
    if not redis_type.startswith("cache."):
        raise ConfigError(f"redisNodeType '{redis_type}' is not an ElastiCache node type (cache.FAMILY.SIZE)")

    packs = get("compliancePacks")
    if packs is not None and str(packs).lower() not in ("true", "false"):
        raise ConfigError(f"compliancePacks='{packs}' is not allowed; allowed: true, false")

    prefix = _text(get, "monitorAssetBucketPrefix", None) or None
    if prefix is not None and not re.fullmatch(r"[a-z0-9](?:[a-z0-9.-]{0,40}[a-z0-9])?", prefix):
        raise ConfigError(f"monitorAssetBucketPrefix='{prefix}' is not the start of an S3 bucket name (lowercase "
                          "letters, digits, '.' and '-', at most 42 characters: '-<region>' follows)")
    if prefix is not None and account is not None:
        # The StackSet deploys one template to every account of an OU: an account in it would put that account
        # into the key's policy, the conditions and the alarm topic's ARN of every member's monitor.
        raise ConfigError(f"account '{account}' and monitorAssetBucketPrefix='{prefix}' together: the StackSet "
                          "template must name no account (each stack instance takes its own); drop -c account")

    return AppConfig(
        environment_suffix=suffix,
        monitor_asset_bucket_prefix=prefix,
        compliance_packs=packs is None or str(packs).lower() == "true",
        region=region,
        account=account,
        db_secret=_secret_ref(get, "dbSecretName", default("db-secret")),
        api_key_secret=_secret_ref(get, "apiKeySecretName", default("api-key-secret")),
        redis_auth_secret=_secret_ref(get, "redisAuthSecretName", default("redis-auth-secret")),
        extra_tags=_extra_tags(get("extraTags")),
        log_retention_days=_int(
            get, "logRetentionDays", AppConfig.log_retention_days,
            "one of " + ", ".join(map(str, VALID_LOG_RETENTION_DAYS)), lambda v: v in VALID_LOG_RETENTION_DAYS),
        nat_gateways=_int(get, "natGateways", AppConfig.nat_gateways, f"1 to {len(DEFAULT_AZS)}",
                          lambda v: 1 <= v <= len(DEFAULT_AZS)),
        redis_node_count=_int(get, "redisNodeCount", AppConfig.redis_node_count,
                              "2 to 6 (a primary and 1 to 5 replicas)", lambda v: 2 <= v <= 6),
        video_image_uri=video_image,
        metadata_image_uri=metadata_image,
        db_instance_class=db_class,
        redis_node_type=redis_type,
        project=tags["project"],
        cost_center=tags["cost_center"],
        owner=tags["owner"],
        data_classification=tags["data_classification"],
    )


__all__ = ["DEFAULT_AZS", "SERVICE_LIMITS", "AppConfig", "ConfigError", "parse_context"]
