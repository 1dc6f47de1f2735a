"""Where the environment's resources are: derived from the suffix (the stack's naming function) or read from
the stack outputs file (`cdk deploy --outputs-file`, or localenv's cfn-outputs/<suffix>/flat-outputs.json)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opscli.errors import UsageError, read_json_input
from platform_spec.naming import NamingError, physical_name, validate_suffix
from platform_spec.stacks import STACK_PREFIX

STAGE_NAME = "v1"
# Outputs that must be present in an outputs file (written by the deploy pipeline from TapStack's outputs).
REQUIRED_OUTPUTS = ("EnvironmentSuffix", "DbInstanceIdentifier", "DbParameterGroupName", "RedisReplicationGroupId",
                    "EfsFileSystemId", "ClusterName", "VideoProcessingServiceName", "MetadataApiServiceName", "ApiId",
                    "ApiStageName", "KmsKeyArn", "VideoProcessingLogGroup", "MetadataApiLogGroup",
                    "ApiAccessLogGroup", "DbSecretName", "ApiKeySecretName", "RedisAuthSecretName",
                    "IngestBucketName", "IntakeQueueName", "IntakeDeadLetterQueueName")


@dataclass(frozen=True)
class Targets:
    suffix: str
    kms_key: str  # alias name, or the key ARN from the outputs
    db_instance: str
    db_parameter_group: str
    redis_group: str
    efs_name: str
    efs_id: str | None
    cluster: str
    services: tuple[str, ...]
    api_name: str
    api_id: str | None
    stage: str
    log_groups: tuple[str, ...]
    secrets: tuple[str, ...]
    ingest_bucket_tag: str = ""
    ingest_bucket: str | None = None  # generated name: known from the outputs, else found by its Name tag
    intake_queue: str = ""
    intake_dlq: str = ""

    @property
    def worker_service(self) -> str:
        """The video worker's service (the intake queue's consumer): the first of `services`."""
        return self.services[0]

    def as_dict(self) -> dict[str, str]:
        return {"suffix": self.suffix, "source": "outputs" if self.api_id else "names"}


def from_suffix(suffix: str) -> Targets:
    try:
        validate_suffix(suffix)
    except NamingError as exc:
        raise UsageError(str(exc)) from None

    def n(key: str) -> str:
        return physical_name(key, suffix)

    return Targets(
        suffix=suffix, kms_key=n("kms-alias"), db_instance=n("rds"), db_parameter_group=n("rds-parameter-group"),
        redis_group=n("redis"), efs_name=n("efs"), efs_id=None, cluster=n("ecs-cluster"),
        services=(n("video-processing"), n("metadata-api")), api_name=n("api"), api_id=None, stage=STAGE_NAME,
        log_groups=(n("log-video-processing"), n("log-metadata-api"), n("log-api-access")),
        secrets=(n("db-secret"), n("api-key-secret"), n("redis-auth-secret")),
        ingest_bucket_tag=n("ingest-bucket"), intake_queue=n("intake-queue"), intake_dlq=n("intake-dlq"),
    )


def load_outputs(path: Path) -> dict[str, str]:
    """The flat OutputKey -> OutputValue map; `cdk deploy --outputs-file` nesting ({stack: {...}}) is unwrapped."""
    data = read_json_input(path, "outputs file")
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), dict):
        data = next(iter(data.values()))  # cdk deploy --outputs-file writes {"TapStackprod": {...}}
    if not isinstance(data, dict):
        raise UsageError(f"outputs file {path} must be a flat JSON object of OutputKey to OutputValue")
    return data


def from_outputs(path: Path) -> Targets:
    data = load_outputs(path)
    missing = [key for key in REQUIRED_OUTPUTS if not isinstance(data.get(key), str) or not data.get(key)]
    if missing:
        raise UsageError(f"outputs file {path} lacks {', '.join(missing)} (is it {STACK_PREFIX}'s flat outputs?)")
    base = from_suffix(data["EnvironmentSuffix"])
    return Targets(
        suffix=base.suffix, kms_key=data["KmsKeyArn"], db_instance=data["DbInstanceIdentifier"],
        db_parameter_group=data["DbParameterGroupName"], redis_group=data["RedisReplicationGroupId"],
        efs_name=base.efs_name, efs_id=data["EfsFileSystemId"], cluster=data["ClusterName"],
        services=(data["VideoProcessingServiceName"], data["MetadataApiServiceName"]), api_name=base.api_name,
        api_id=data["ApiId"], stage=data["ApiStageName"],
        log_groups=(data["VideoProcessingLogGroup"], data["MetadataApiLogGroup"], data["ApiAccessLogGroup"]),
        secrets=(data["DbSecretName"], data["ApiKeySecretName"], data["RedisAuthSecretName"]),
        ingest_bucket_tag=base.ingest_bucket_tag, ingest_bucket=data["IngestBucketName"],
        intake_queue=data["IntakeQueueName"], intake_dlq=data["IntakeDeadLetterQueueName"],
    )
