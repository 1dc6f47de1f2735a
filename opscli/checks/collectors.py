"""The collectors, one per resource kind. Each looks with read-only calls and yields judged findings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions

from opscli.checks import Context, Missing, Spec, judge
from opscli.model import Finding
from policies import live
from platform_spec.result import Status


def _tags(pairs: Any, key: str = "Key", value: str = "Value") -> dict[str, str]:
    if isinstance(pairs, dict):
        return dict(pairs)
    return {p[key]: p[value] for p in pairs or [] if key in p}


def _expect(call: Callable[[], Any], missing_codes: tuple[str, ...], expected: str) -> Any:
    """The answer of `call`; a not-found error code becomes Missing('expected ... not found')."""
    try:
        return call()
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] in missing_codes:
            raise Missing(f"expected {expected} not found") from None
        raise


def _arn_by_name_tag(ctx: Context, name: str, resource_type: str, what: str) -> str:
    """The one resource of `resource_type` tagged Name=`name`, through the tagging API's server-side filter
    (cost independent of the account's size); Missing if none, an ERROR if several."""
    tagging = ctx.aws.client("resourcegroupstaggingapi")
    arns = [m["ResourceARN"] for page in tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": "Name", "Values": [name]}], ResourceTypeFilters=[resource_type])
        for m in page.get("ResourceTagMappingList", [])]
    if not arns:
        raise Missing(f"expected {what} tagged Name={name} not found")
    if len(arns) > 1:
        raise live.MalformedAnswer(f"{len(arns)} {what}s are tagged Name={name}; expected one")
    return arns[0]


def _need_cmk(ctx: Context) -> str:
    if ctx.cmk_arn is None:
        raise live.MalformedAnswer("the project key could not be resolved, so its identity cannot be compared")
    return ctx.cmk_arn


# --- KMS ----------------------------------------------------------------------------------------

KMS = Spec("kms", ("kms:DescribeKey", "kms:GetKeyRotationStatus", "kms:ListResourceTags"),
           (("kms.found", "STK-NAME-001"), ("kms.customer_managed", "STK-KMS-003"), ("kms.rotation", "STK-KMS-002"),
            ("kms.tags", "STK-TAG-001")))


def kms(ctx: Context, key: str) -> Iterator[Finding]:
    client = ctx.aws.client("kms")
    meta = _expect(lambda: client.describe_key(KeyId=key)["KeyMetadata"], ("NotFoundException",), f"KMS key {key}")
    arn = live.need(meta, "Arn")
    ctx.cmk_arn = arn
    yield Finding("kms.found", "STK-NAME-001", Status.PASS, arn, f"found {key}")
    yield judge("kms.customer_managed", "STK-KMS-003", arn, live.kms_customer_managed, meta)
    yield judge("kms.rotation", "STK-KMS-002", arn, live.kms_rotation, client.get_key_rotation_status(KeyId=arn))
    if meta.get("KeyManager") == "CUSTOMER":
        tags = {}
        for page in client.get_paginator("list_resource_tags").paginate(KeyId=arn):
            tags.update(_tags(page.get("Tags", []), "TagKey", "TagValue"))
        yield judge("kms.tags", "STK-TAG-001", arn, live.tags, tags, ctx.expected_tags)


# --- RDS ----------------------------------------------------------------------------------------

RDS = Spec("rds", ("rds:DescribeDBInstances", "rds:DescribeDBParameters"),
           (("rds.found", "STK-NAME-001"), ("rds.multi_az", "STK-RDS-001"), ("rds.backups", "STK-RDS-002"),
            ("rds.not_public", "STK-NET-001"), ("rds.cmk", "STK-KMS-001"), ("rds.force_ssl", "STK-RDS-003"),
            ("rds.tags", "STK-TAG-001")))


def rds(ctx: Context, identifier: str) -> Iterator[Finding]:
    client = ctx.aws.client("rds")
    db = _expect(lambda: client.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0],
                 ("DBInstanceNotFound", "DBInstanceNotFoundFault"), f"DB instance {identifier}")
    arn = db.get("DBInstanceArn", identifier)
    yield Finding("rds.found", "STK-NAME-001", Status.PASS, arn, f"found {identifier}")
    yield judge("rds.multi_az", "STK-RDS-001", arn, live.rds_multi_az, db)
    yield judge("rds.backups", "STK-RDS-002", arn, live.rds_backups, db)
    yield judge("rds.not_public", "STK-NET-001", arn, live.rds_not_public, db)
    yield judge("rds.cmk", "STK-KMS-001", arn, lambda: live.rds_cmk(db, _need_cmk(ctx)))
    parameters = []
    group = ctx.targets.db_parameter_group
    for page in client.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=group, Source="user"):
        parameters.extend(page.get("Parameters", []))
    yield judge("rds.force_ssl", "STK-RDS-003", arn, live.rds_force_ssl, db, group, parameters)
    yield judge("rds.tags", "STK-TAG-001", arn, live.tags, _tags(db.get("TagList")), ctx.expected_tags)


# --- ElastiCache --------------------------------------------------------------------------------

REDIS = Spec("elasticache", ("elasticache:DescribeReplicationGroups", "elasticache:ListTagsForResource"),
             (("redis.found", "STK-NAME-001"), ("redis.high_availability", "STK-REDIS-001"),
              ("redis.transit", "STK-REDIS-002"), ("redis.cmk", "STK-KMS-001"), ("redis.tags", "STK-TAG-001")))


def redis(ctx: Context, group_id: str) -> Iterator[Finding]:
    client = ctx.aws.client("elasticache")
    group = _expect(lambda: client.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0],
                    ("ReplicationGroupNotFoundFault",), f"Redis replication group {group_id}")
    arn = group.get("ARN", group_id)
    yield Finding("redis.found", "STK-NAME-001", Status.PASS, arn, f"found {group_id}")
    yield judge("redis.high_availability", "STK-REDIS-001", arn, live.redis_high_availability, group)
    yield judge("redis.transit", "STK-REDIS-002", arn, live.redis_transit, group)
    yield judge("redis.cmk", "STK-KMS-001", arn, lambda: live.redis_cmk(group, _need_cmk(ctx)))
    tags = client.list_tags_for_resource(ResourceName=arn).get("TagList", [])
    yield judge("redis.tags", "STK-TAG-001", arn, live.tags, _tags(tags), ctx.expected_tags)


# --- EFS ----------------------------------------------------------------------------------------

EFS = Spec("efs", ("resourcegroupstaggingapi:GetResources", "efs:DescribeFileSystems", "efs:DescribeFileSystemPolicy",
                   "efs:DescribeMountTargets"),
           (("efs.found", "STK-NAME-001"), ("efs.cmk", "STK-KMS-001"), ("efs.tls_policy", "STK-EFS-001"),
            ("efs.mount_targets", "STK-EFS-002"), ("efs.tags", "STK-TAG-001")))


def efs(ctx: Context, name: str, file_system_id: str | None) -> Iterator[Finding]:
    client = ctx.aws.client("efs")
    if file_system_id is None:  # EFS has no lookup by name
        arn = _arn_by_name_tag(ctx, name, "elasticfilesystem:file-system", "EFS file system")
        file_system_id = arn.rsplit("/", 1)[-1]
    fs = _expect(lambda: client.describe_file_systems(FileSystemId=file_system_id)["FileSystems"][0],
                 ("FileSystemNotFound",), f"EFS file system {file_system_id} ({name})")
    arn = fs.get("FileSystemArn", file_system_id)
    yield Finding("efs.found", "STK-NAME-001", Status.PASS, arn, f"found {name} ({file_system_id})")
    yield judge("efs.cmk", "STK-KMS-001", arn, lambda: live.efs_cmk(fs, _need_cmk(ctx)))
    try:
        policy = client.describe_file_system_policy(FileSystemId=file_system_id).get("Policy")
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] != "PolicyNotFound":
            raise
        policy = None
    yield judge("efs.tls_policy", "STK-EFS-001", arn, live.efs_tls_policy, policy)
    targets = [t for page in client.get_paginator("describe_mount_targets").paginate(FileSystemId=file_system_id)
               for t in page.get("MountTargets", [])]
    yield judge("efs.mount_targets", "STK-EFS-002", arn, live.efs_mount_targets, targets)
    yield judge("efs.tags", "STK-TAG-001", arn, live.tags, _tags(fs.get("Tags")), ctx.expected_tags)


# --- ECS ----------------------------------------------------------------------------------------

ECS_CLUSTER = Spec("ecs-cluster", ("ecs:DescribeClusters",),
                   (("ecs.cluster", "STK-ECS-003"), ("ecs.cluster_tags", "STK-TAG-001")))


def ecs_cluster(ctx: Context, cluster_name: str) -> Iterator[Finding]:
    answer = ctx.aws.client("ecs").describe_clusters(clusters=[cluster_name], include=["SETTINGS", "TAGS"])
    clusters = [c for c in answer.get("clusters", []) if c.get("status") != "INACTIVE"]
    if not clusters:
        raise Missing(f"expected ECS cluster {cluster_name} not found")
    cluster = clusters[0]
    arn = cluster.get("clusterArn", cluster_name)
    yield judge("ecs.cluster", "STK-ECS-003", arn, live.ecs_cluster_insights, cluster)
    yield judge("ecs.cluster_tags", "STK-TAG-001", arn, live.tags, _tags(cluster.get("tags"), "key", "value"),
                ctx.expected_tags)


ECS_SERVICE = Spec("ecs-service", ("ecs:DescribeServices", "application-autoscaling:DescribeScalableTargets"),
                   (("ecs.service", "STK-ECS-002"), ("ecs.service_tags", "STK-TAG-001")))


def ecs_service(ctx: Context, service_name: str) -> Iterator[Finding]:
    cluster = ctx.targets.cluster
    answer = ctx.aws.client("ecs").describe_services(cluster=cluster, services=[service_name], include=["TAGS"])
    services = [s for s in answer.get("services", []) if s.get("status") != "INACTIVE"]
    if not services:
        raise Missing(f"expected ECS service {service_name} in cluster {cluster} not found")
    service = services[0]
    arn = service.get("serviceArn", service_name)
    scaling = ctx.aws.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{cluster}/{service_name}"],
        ScalableDimension="ecs:service:DesiredCount").get("ScalableTargets", [])
    yield judge("ecs.service", "STK-ECS-002", arn, live.ecs_service, service, scaling)
    yield judge("ecs.service_tags", "STK-TAG-001", arn, live.tags, _tags(service.get("tags"), "key", "value"),
                ctx.expected_tags)


# --- API Gateway --------------------------------------------------------------------------------

API = Spec("apigateway", ("apigateway:GetRestApis", "apigateway:GetRestApi", "apigateway:GetStage"),
           (("api.found", "STK-NAME-001"), ("api.regional", "STK-API-001"), ("api.stage_logging", "STK-API-002"),
            ("api.tags", "STK-TAG-001")))


def api(ctx: Context, name: str, api_id: str | None) -> Iterator[Finding]:
    client = ctx.aws.client("apigateway")
    if api_id is None:
        # No server-side name filter exists; REST APIs per account and region are few (quota 600).
        matches = [item["id"] for page in client.get_paginator("get_rest_apis").paginate(PaginationConfig={"PageSize": 500})
                   for item in page.get("items", []) if item.get("name") == name]
        if not matches:
            raise Missing(f"expected REST API {name} not found")
        if len(matches) > 1:
            raise live.MalformedAnswer(f"{len(matches)} REST APIs are named {name}; expected one")
        api_id = matches[0]
    rest_api = _expect(lambda: client.get_rest_api(restApiId=api_id), ("NotFoundException",),
                       f"REST API {api_id} ({name})")
    arn = f"arn:aws:apigateway:{ctx.aws.region}::/restapis/{api_id}"
    yield Finding("api.found", "STK-NAME-001", Status.PASS, arn, f"found {rest_api.get('name')} ({api_id})")
    yield judge("api.regional", "STK-API-001", arn, live.api_regional, rest_api)
    stage = client.get_stage(restApiId=api_id, stageName=ctx.targets.stage)
    yield judge("api.stage_logging", "STK-API-002", f"{arn}/stages/{ctx.targets.stage}", live.api_stage_logging, stage)
    yield judge("api.tags", "STK-TAG-001", arn, live.tags, rest_api.get("tags", {}), ctx.expected_tags)


# --- CloudWatch Logs ----------------------------------------------------------------------------

LOGS = Spec("logs", ("logs:DescribeLogGroups",),
            (("logs.retention", "STK-LOG-001"), ("logs.cmk", "STK-KMS-001")))


def log_group(ctx: Context, name: str) -> Iterator[Finding]:
    answer = ctx.aws.client("logs").describe_log_groups(logGroupNamePrefix=name, limit=50)
    group = next((g for g in answer.get("logGroups", []) if g.get("logGroupName") == name), None)
    if group is None:
        raise Missing(f"expected log group {name} not found")
    arn = group.get("arn", name)
    retention, _ = live.log_group(group, None)
    yield Finding("logs.retention", "STK-LOG-001", retention.status, arn, retention.reason)
    yield judge("logs.cmk", "STK-KMS-001", arn, lambda: live.log_group(group, _need_cmk(ctx))[1])


# --- Intake: S3 bucket and SQS queues -----------------------------------------------------------

BUCKET = Spec("s3", ("resourcegroupstaggingapi:GetResources", "s3:GetBucketEncryption", "s3:GetPublicAccessBlock",
                     "s3:GetBucketPolicy", "s3:GetBucketTagging"),
              (("s3.found", "STK-NAME-001"), ("s3.cmk", "STK-KMS-001"), ("s3.public_access", "STK-S3-001"),
               ("s3.tls_policy", "STK-S3-002"), ("s3.tags", "STK-TAG-001")))


def _optional(call: Callable[[], Any], absent_codes: tuple[str, ...]) -> Any:
    """The answer of `call`, or None when the error code says the configuration is absent."""
    try:
        return call()
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] in absent_codes:
            return None
        raise


def bucket(ctx: Context, name_tag: str, bucket_name: str | None) -> Iterator[Finding]:
    s3 = ctx.aws.client("s3")
    if bucket_name is None:  # the bucket name is generated (S3 names are global); its Name tag is not
        bucket_name = _arn_by_name_tag(ctx, name_tag, "s3", "S3 bucket").rsplit(":", 1)[-1]
    encryption = _expect(lambda: _optional(lambda: s3.get_bucket_encryption(Bucket=bucket_name),
                                           ("ServerSideEncryptionConfigurationNotFoundError",)),
                         ("NoSuchBucket",), f"S3 bucket {bucket_name}")
    arn = f"arn:aws:s3:::{bucket_name}"
    yield Finding("s3.found", "STK-NAME-001", Status.PASS, arn, f"found {bucket_name} ({name_tag})")
    rules = (encryption or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules")
    yield judge("s3.cmk", "STK-KMS-001", arn, lambda: live.s3_cmk(rules, _need_cmk(ctx)))
    block = _optional(lambda: s3.get_public_access_block(Bucket=bucket_name), ("NoSuchPublicAccessBlockConfiguration",))
    yield judge("s3.public_access", "STK-S3-001", arn, live.s3_public_access,
                (block or {}).get("PublicAccessBlockConfiguration"))
    policy = _optional(lambda: s3.get_bucket_policy(Bucket=bucket_name), ("NoSuchBucketPolicy",))
    yield judge("s3.tls_policy", "STK-S3-002", arn, live.s3_tls_policy, (policy or {}).get("Policy"))
    tags = _optional(lambda: s3.get_bucket_tagging(Bucket=bucket_name), ("NoSuchTagSet",))
    yield judge("s3.tags", "STK-TAG-001", arn, live.tags, _tags((tags or {}).get("TagSet")), ctx.expected_tags)


QUEUE = Spec("sqs", ("sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ListQueueTags",
                     "application-autoscaling:DescribeScalingPolicies"),
             (("sqs.cmk", "STK-KMS-001"), ("sqs.dead_letter", "STK-SQS-001"), ("sqs.tls_policy", "STK-SQS-002"),
              ("sqs.backlog_scaling", "STK-SQS-003"), ("sqs.tags", "STK-TAG-001")))


def queue(ctx: Context, queue_name: str, dead_letter_queue: str | None) -> Iterator[Finding]:
    sqs = ctx.aws.client("sqs")
    url = _expect(lambda: sqs.get_queue_url(QueueName=queue_name)["QueueUrl"],
                  ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"), f"SQS queue {queue_name}")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    arn = attributes.get("QueueArn", url)
    yield judge("sqs.cmk", "STK-KMS-001", arn, lambda: live.sqs_cmk(attributes, _need_cmk(ctx)))
    yield judge("sqs.dead_letter", "STK-SQS-001", arn, live.sqs_dead_letter, attributes, dead_letter_queue)
    yield judge("sqs.tls_policy", "STK-SQS-002", arn, live.sqs_tls_policy, attributes)
    if dead_letter_queue is not None:  # the work queue: its consumers must scale on its backlog
        service = f"service/{ctx.targets.cluster}/{ctx.targets.worker_service}"
        policies = [p for page in ctx.aws.client("application-autoscaling").get_paginator(
            "describe_scaling_policies").paginate(ServiceNamespace="ecs", ResourceId=service)
            for p in page.get("ScalingPolicies", [])]
        yield judge("sqs.backlog_scaling", "STK-SQS-003", arn, live.sqs_backlog_scaling, policies, queue_name)
    yield judge("sqs.tags", "STK-TAG-001", arn, live.tags, sqs.list_queue_tags(QueueUrl=url).get("Tags", {}),
                ctx.expected_tags)


# --- Secrets Manager ----------------------------------------------------------------------------

SECRET = Spec("secretsmanager", ("secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds",
                                 "kms:DescribeKey"),
              (("secret.rotation_enabled", "STK-SECRET-003"), ("secret.rotation_age", "STK-SECRET-004"),
               ("secret.pending", "STK-SECRET-005"), ("secret.last_accessed", "STK-SECRET-006"),
               ("secret.cmk", "STK-SECRET-007")))


def secret(ctx: Context, name: str) -> Iterator[Finding]:
    client = ctx.aws.client("secretsmanager")
    described = _expect(lambda: client.describe_secret(SecretId=name), ("ResourceNotFoundException",),
                        f"secret {name} (the stack reads it; it must exist)")
    arn = described.get("ARN", name)
    yield judge("secret.rotation_enabled", "STK-SECRET-003", arn, live.secret_rotation_enabled, described)
    yield judge("secret.rotation_age", "STK-SECRET-004", arn, live.secret_rotation_age, described, ctx.now,
                ctx.max_age_days)
    versions, token = [], None
    while True:  # botocore has no paginator for ListSecretVersionIds
        page = client.list_secret_version_ids(SecretId=arn, **({"NextToken": token} if token else {}))
        versions += page.get("Versions", [])
        token = page.get("NextToken")
        if not token:
            break
    yield judge("secret.pending", "STK-SECRET-005", arn, live.secret_pending_versions, versions, ctx.now)
    yield judge("secret.last_accessed", "STK-SECRET-006", arn, live.secret_last_accessed, described, ctx.now,
                ctx.max_age_days, versions)
    manager = None
    if described.get("KmsKeyId"):
        manager = ctx.aws.client("kms").describe_key(KeyId=described["KmsKeyId"])["KeyMetadata"].get("KeyManager")
    yield judge("secret.cmk", "STK-SECRET-007", arn, live.secret_cmk, described, manager)
