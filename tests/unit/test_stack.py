"""TapStack requirements, asserted on properties and relationships of the one synthesized template."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from platform_spec.rules.intrinsics import ref_target, tag_map
from platform_spec.rules.stk_tag import TAG_PROPERTY, TAGGABLE_TYPES
from platform_spec.tagging import REQUIRED_TAG_KEYS, compute_tags
from tests.conftest import CDK_AND_CHECKOV

pytestmark = pytest.mark.synth


def key_id(synth) -> str:
    return synth.one("AWS::KMS::Key")[0]


def private_subnet_ids(synth) -> set[str]:
    return {k for k, v in synth.resources("AWS::EC2::Subnet").items()
            if not v["Properties"].get("MapPublicIpOnLaunch") and "private" in k.lower()}


def test_synthesis_reports_no_guardrail_errors(synth):
    assert synth.errors == []


def test_region_and_azs_are_fixed(synth):
    assert synth.environment.endswith("/ap-northeast-1")
    azs = {v["Properties"]["AvailabilityZone"] for v in synth.resources("AWS::EC2::Subnet").values()}
    assert azs == {"ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"}


def test_vpc_has_public_and_private_subnets_in_every_az(synth):
    subnets = synth.resources("AWS::EC2::Subnet").values()
    by_type = {}
    for s in subnets:
        kind = tag_map(s["Properties"]["Tags"])["aws-cdk:subnet-type"]
        by_type.setdefault(kind, set()).add(s["Properties"]["AvailabilityZone"])
    assert by_type == {"Public": {"ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"},
                       "Private": {"ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"}}
    assert all(not s["Properties"].get("MapPublicIpOnLaunch") for s in subnets)


@CDK_AND_CHECKOV  # aws_cdk.assertions or a synthesis in process
def test_one_cmk_with_rotation_and_short_pending_window(synth):
    _, key = synth.one("AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["Properties"]["PendingWindowInDays"] == 7
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    logs = [s for s in statements if s.get("Principal", {}).get("Service") == "logs.ap-northeast-1.amazonaws.com"]
    assert logs and "kms:GenerateDataKey*" in logs[0]["Action"]
    synth.assertions.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/kms-key-test"})


def test_rds_is_multi_az_encrypted_with_the_cmk_and_tls_only(synth):
    kid = key_id(synth)
    _, db = synth.one("AWS::RDS::DBInstance")
    p = db["Properties"]
    assert p["MultiAZ"] is True and p["StorageEncrypted"] is True
    assert ref_target(p["KmsKeyId"]) == kid
    assert p["EnablePerformanceInsights"] is True and ref_target(p["PerformanceInsightsKMSKeyId"]) == kid
    assert p["BackupRetentionPeriod"] == 1
    assert p["DeletionProtection"] is False and p["PubliclyAccessible"] is False
    assert p["DBInstanceIdentifier"] == "rds-test" and p["Engine"] == "postgres"
    assert set(p["EnableCloudwatchLogsExports"]) == {"postgresql", "upgrade"}
    assert db["DeletionPolicy"] == "Delete" and db["UpdateReplacePolicy"] == "Delete"
    # The parameter group that forces TLS is the one attached to the instance.
    pg_id = ref_target(p["DBParameterGroupName"])
    pg = synth.template["Resources"][pg_id]["Properties"]
    assert pg["Parameters"]["rds.force_ssl"] == "1"
    # Subnets of the DB are the private ones.
    sg_group = synth.template["Resources"][ref_target(p["DBSubnetGroupName"])]["Properties"]
    assert {ref_target(s) for s in sg_group["SubnetIds"]} == private_subnet_ids(synth)


def test_rds_credentials_come_from_the_existing_secret_without_writing_it(synth):
    _, db = synth.one("AWS::RDS::DBInstance")
    text = json.dumps(db["Properties"])
    assert "resolve:secretsmanager" in text and "rds-credentials-test" in text
    assert synth.resources("AWS::SecretsManager::Secret") == {}
    assert synth.resources("AWS::SecretsManager::SecretTargetAttachment") == {}


def test_redis_has_two_nodes_multi_az_failover_cmk_and_tls_required(synth):
    kid = key_id(synth)
    _, rg = synth.one("AWS::ElastiCache::ReplicationGroup")
    p = rg["Properties"]
    assert p["NumCacheClusters"] >= 2
    assert p["MultiAZEnabled"] is True and p["AutomaticFailoverEnabled"] is True
    assert len(set(p["PreferredCacheClusterAZs"])) == p["NumCacheClusters"]
    assert p["AtRestEncryptionEnabled"] is True and ref_target(p["KmsKeyId"]) == kid
    assert p["TransitEncryptionEnabled"] is True and p["TransitEncryptionMode"] == "required"
    assert "redis-auth-test" in json.dumps(p["AuthToken"])
    subnet_group = synth.template["Resources"][ref_target(p["CacheSubnetGroupName"])]["Properties"]
    assert {ref_target(s) for s in subnet_group["SubnetIds"]} == private_subnet_ids(synth)


def test_efs_is_cmk_encrypted_tls_only_with_a_mount_target_per_private_subnet(synth):
    kid = key_id(synth)
    fs_id, fs = synth.one("AWS::EFS::FileSystem")
    assert fs["Properties"]["Encrypted"] is True and ref_target(fs["Properties"]["KmsKeyId"]) == kid
    statements = fs["Properties"]["FileSystemPolicy"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Principal"] == {"AWS": "*"}
               and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)
    targets = synth.resources("AWS::EFS::MountTarget").values()
    assert {ref_target(t["Properties"]["FileSystemId"]) for t in targets} == {fs_id}
    assert {ref_target(t["Properties"]["SubnetId"]) for t in targets} == private_subnet_ids(synth)


@CDK_AND_CHECKOV  # aws_cdk.assertions or a synthesis in process
def test_worker_mounts_efs_with_transit_encryption_and_iam(synth):
    synth.assertions.has_resource_properties("AWS::ECS::TaskDefinition", {
        "Family": "video-processing-test",
        "Volumes": Match.array_with([Match.object_like({
            "EFSVolumeConfiguration": Match.object_like({
                "TransitEncryption": "ENABLED",
                "AuthorizationConfig": Match.object_like({"IAM": "ENABLED"}),
            })})]),
    })


def test_services_run_at_least_two_tasks_privately_and_scale_on_cpu_and_memory(synth):
    services = synth.resources("AWS::ECS::Service")
    assert {s["Properties"]["ServiceName"] for s in services.values()} == {"video-processing-test", "metadata-api-test"}
    for service in services.values():
        p = service["Properties"]
        assert p["DesiredCount"] >= 2 and p["LaunchType"] == "FARGATE"
        assert p["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    targets = synth.resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert len(targets) == 2 and all(t["Properties"]["MinCapacity"] >= 2 for t in targets)
    configs = [p["Properties"]["TargetTrackingScalingPolicyConfiguration"]
               for p in synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()]
    predefined = sorted(c["PredefinedMetricSpecification"]["PredefinedMetricType"]
                        for c in configs if "PredefinedMetricSpecification" in c)
    assert predefined == ["ECSServiceAverageCPUUtilization"] * 2 + ["ECSServiceAverageMemoryUtilization"] * 2


def test_the_worker_scales_first_on_queue_backlog_per_task(synth):
    [backlog] = [p["Properties"] for p in synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
                 if "CustomizedMetricSpecification" in p["Properties"]["TargetTrackingScalingPolicyConfiguration"]]
    assert backlog["PolicyName"] == "worker-backlog-scaling-test"
    config = backlog["TargetTrackingScalingPolicyConfiguration"]
    assert config["TargetValue"] == 10
    queries = {q["Id"]: q for q in config["CustomizedMetricSpecification"]["Metrics"]}
    visible = queries["visible"]["MetricStat"]["Metric"]
    assert (visible["Namespace"], visible["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert visible["Dimensions"] == [{"Name": "QueueName", "Value": "intake-queue-test"}]
    tasks = queries["tasks"]["MetricStat"]["Metric"]
    assert tasks["MetricName"] == "RunningTaskCount" and {"Name": "ServiceName", "Value": "video-processing-test"} in [
        {"Name": d["Name"], "Value": d["Value"]} for d in tasks["Dimensions"]]
    per_task = queries["backlog_per_task"]
    assert per_task["ReturnData"] is True and "visible /" in per_task["Expression"]
    # scales the worker's own scalable target (the one whose CPU and memory policies are the second signal)
    worker_target = [lid for lid, t in synth.resources("AWS::ApplicationAutoScaling::ScalableTarget").items()
                     if "VideoProcessing" in lid]
    assert backlog["ScalingTargetId"] == {"Ref": worker_target[0]}


@CDK_AND_CHECKOV  # aws_cdk.assertions or a synthesis in process
def test_the_worker_may_send_to_the_dead_letter_queue_and_stop_slowly(synth):
    [worker] = [t["Properties"] for t in synth.resources("AWS::ECS::TaskDefinition").values()
                if t["Properties"]["Family"] == "video-processing-test"]
    container = worker["ContainerDefinitions"][0]
    assert container["StopTimeout"] == 120
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert {"INTAKE_QUEUE_URL", "INTAKE_DLQ_URL", "INGEST_BUCKET", "SCRATCH_DIR", "DB_SSLMODE"} <= set(env)
    assert env["WORKER_CONCURRENCY"] == "2" and env["DB_SSLMODE"] == "verify-full"
    statements = [s for p in synth.resources("AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]
                  if s.get("Sid") == "SendUnreadableVideosToDeadLetterQueue"]
    assert statements and statements[0]["Action"] == "sqs:SendMessage"
    synth.assertions.has_resource_properties("AWS::ECS::Cluster", {
        "ClusterName": "ecs-cluster-test",
        "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]})


def test_containers_get_credentials_only_through_secrets(synth):
    for td in synth.resources("AWS::ECS::TaskDefinition").values():
        container = td["Properties"]["ContainerDefinitions"][0]
        names = {s["Name"] for s in container["Secrets"]}
        assert {"DB_PASSWORD", "DB_USERNAME", "REDIS_AUTH_TOKEN"} <= names
        env = {e["Name"] for e in container["Environment"]}
        assert not env & names
        assert container["ReadonlyRootFilesystem"] is True and container["User"] == "1000:1000"


@CDK_AND_CHECKOV  # aws_cdk.assertions or a synthesis in process
def test_api_is_regional_logged_traced_keyed_and_backed_by_the_vpc_link(synth):
    synth.assertions.has_resource_properties("AWS::ApiGateway::RestApi", {
        "Name": "api-test", "EndpointConfiguration": {"Types": ["REGIONAL"]}})
    _, stage = synth.one("AWS::ApiGateway::Stage")
    p = stage["Properties"]
    assert p["TracingEnabled"] is True and "DestinationArn" in p["AccessLogSetting"]
    assert p["MethodSettings"][0]["LoggingLevel"] == "INFO"
    methods = synth.resources("AWS::ApiGateway::Method").values()
    assert len(methods) == 4
    for m in methods:
        integration = m["Properties"]["Integration"]
        assert integration["Type"] == "HTTP_PROXY" and integration["ConnectionType"] == "VPC_LINK"
        assert m["Properties"]["ApiKeyRequired"] is True and "RequestValidatorId" in m["Properties"]
    _link_id, link = synth.one("AWS::ApiGateway::VpcLink")
    nlb_id, nlb = synth.one("AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert [ref_target(t) for t in link["Properties"]["TargetArns"]] == [nlb_id]
    assert nlb["Properties"]["Scheme"] == "internal"
    assert "api-key-secret-test" in json.dumps(synth.one("AWS::ApiGateway::ApiKey")[1]["Properties"]["Value"])


def test_every_log_group_has_retention_and_the_cmk(synth):
    kid = key_id(synth)
    groups = synth.resources("AWS::Logs::LogGroup").values()
    assert len(groups) >= 8
    for group in groups:
        assert group["Properties"]["RetentionInDays"] == synth.config.log_retention_days
        assert ref_target(group["Properties"]["KmsKeyId"]) == kid
        assert group["DeletionPolicy"] == "Delete"


def test_nothing_is_retained_or_snapshotted(synth):
    for logical_id, resource in synth.template["Resources"].items():
        assert resource.get("DeletionPolicy", "Delete") == "Delete", logical_id
        assert resource.get("UpdateReplacePolicy", "Delete") == "Delete", logical_id


def test_every_taggable_resource_carries_the_required_tags(synth):
    expected = compute_tags(synth.config)
    checked = 0
    for logical_id, resource in synth.template["Resources"].items():
        if resource["Type"] not in TAGGABLE_TYPES:
            continue
        tags = tag_map(resource["Properties"].get(TAG_PROPERTY.get(resource["Type"], "Tags")))
        for key in REQUIRED_TAG_KEYS:
            assert tags.get(key) == expected[key], f"{logical_id} {key}"
        checked += 1
    assert checked > 50


def test_security_groups_admit_only_the_callers_that_need_each_port(synth):
    sgs = synth.resources("AWS::EC2::SecurityGroup")
    by_name = {v["Properties"]["GroupName"]: k for k, v in sgs.items()}
    ingress = [v["Properties"] for v in synth.resources("AWS::EC2::SecurityGroupIngress").values()]
    def sources(sg_name: str) -> set[tuple[str, int]]:
        sg_id = by_name[sg_name]
        return {(ref_target(i["SourceSecurityGroupId"]), i["FromPort"]) for i in ingress
                if ref_target(i["GroupId"]) == sg_id}
    worker, api, nlb = by_name["video-processing-sg-test"], by_name["metadata-api-sg-test"], by_name["nlb-sg-test"]
    assert sources("rds-sg-test") == {(worker, 5433), (api, 5433)}
    assert sources("redis-sg-test") == {(worker, 6380), (api, 6380)}
    assert sources("efs-sg-test") == {(worker, 2049)}
    assert sources("metadata-api-sg-test") == {(nlb, 8080)}
    # No inline 0.0.0.0/0 ingress anywhere.
    for sg in sgs.values():
        assert all(r.get("CidrIp") != "0.0.0.0/0" for r in sg["Properties"].get("SecurityGroupIngress", []))


def test_iam_has_no_wildcard_action_on_wildcard_resource(synth):
    for logical_id, policy in synth.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "*" not in actions, logical_id
    task_role_policies = [p for k, p in synth.resources("AWS::IAM::Policy").items() if "TaskRole" in k]
    efs = [s for p in task_role_policies for s in p["Properties"]["PolicyDocument"]["Statement"]
           if "elasticfilesystem:ClientMount" in s["Action"]]
    assert efs and "elasticfilesystem:AccessPointArn" in efs[0]["Condition"]["StringEquals"]


def test_outputs_cover_what_integration_tests_and_opscli_read(synth):
    outputs = set(synth.template["Outputs"])
    assert {"VpcId", "ClusterName", "VideoProcessingServiceName", "MetadataApiServiceName", "DbEndpoint",
            "DbInstanceIdentifier", "RedisReplicationGroupId", "RedisPrimaryEndpoint", "EfsFileSystemId",
            "ApiUrl", "ApiId", "KmsKeyArn", "VideoProcessingLogGroup", "ApiAccessLogGroup", "DbSecretName",
            "ApiKeySecretName", "RedisAuthSecretName"} <= outputs


def test_every_hidden_lambda_has_a_log_group_owned_by_the_stack(synth):
    """CDK's custom-resource handlers (default-SG restriction, bucket auto-delete) log into stack-owned groups."""
    functions = synth.resources("AWS::Lambda::Function")
    names = [g["Properties"]["LogGroupName"] for g in synth.resources("AWS::Logs::LogGroup").values()]
    assert len(functions) == 2
    for fn_id in functions:
        assert {"Fn::Join": ["", ["/aws/lambda/", {"Ref": fn_id}]]} in names


@CDK_AND_CHECKOV  # aws_cdk.assertions or a synthesis in process
def test_synthesis_is_deterministic(synth, tmp_path):
    """A second synthesis of the same context gives the identical template (offline, no lookups)."""
    from tests.conftest import synthesize

    # `synth` came from the CDK CLI (or the cache); this one is synthesized in this process.
    assert synthesize({"environmentSuffix": "test"}, tmp_path) == synth.template


def test_intake_bucket_is_cmk_encrypted_private_tls_only_versioned_and_feeds_the_queue(synth):
    kid = key_id(synth)
    bucket_id, bucket = synth.one("AWS::S3::Bucket")
    p = bucket["Properties"]
    default = p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms" and ref_target(default["KMSMasterKeyID"]) == kid
    assert all(p["PublicAccessBlockConfiguration"].values()) and len(p["PublicAccessBlockConfiguration"]) == 4
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    assert p["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert tag_map(p["Tags"])["Name"] == "ingest-bucket-test"
    policy = next(r["Properties"] for r in synth.resources("AWS::S3::BucketPolicy").values()
                  if ref_target(r["Properties"]["Bucket"]) == bucket_id)
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in policy["PolicyDocument"]["Statement"])
    # The object-created rule targets the intake queue, with the DLQ for undeliverable events.
    _, rule = synth.one("AWS::Events::Rule")
    assert rule["Properties"]["EventPattern"]["detail-type"] == ["Object Created"]
    queues = {r["Properties"]["QueueName"]: k for k, r in synth.resources("AWS::SQS::Queue").items()}
    target = rule["Properties"]["Targets"][0]
    assert ref_target(target["Arn"]) == queues["intake-queue-test"]
    assert ref_target(target["DeadLetterConfig"]["Arn"]) == queues["intake-dlq-test"]


def test_intake_queues_use_the_cmk_a_dead_letter_queue_and_tls(synth):
    kid = key_id(synth)
    queues = {r["Properties"]["QueueName"]: (k, r["Properties"]) for k, r in synth.resources("AWS::SQS::Queue").items()}
    assert set(queues) == {"intake-queue-test", "intake-dlq-test"}
    work = queues["intake-queue-test"][1]
    assert ref_target(work["RedrivePolicy"]["deadLetterTargetArn"]) == queues["intake-dlq-test"][0]
    assert work["RedrivePolicy"]["maxReceiveCount"] == 3 and work["VisibilityTimeout"] == 900
    for logical_id, props in queues.values():
        assert ref_target(props["KmsMasterKeyId"]) == kid
        policy = next(r["Properties"]["PolicyDocument"] for r in synth.resources("AWS::SQS::QueuePolicy").values()
                      if logical_id in [ref_target(q) for q in r["Properties"]["Queues"]])
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in policy["Statement"])


def test_only_the_worker_reads_videos_and_consumes_the_queue(synth):
    statements = {k: p["Properties"]["PolicyDocument"]["Statement"]
                  for k, p in synth.resources("AWS::IAM::Policy").items()}
    readers = {k for k, st in statements.items() for s in st
               if "s3:GetObject" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    consumers = {k for k, st in statements.items() for s in st
                 if "sqs:ReceiveMessage" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert len(readers) == 1 and readers == consumers and "VideoProcessingWorker" in next(iter(readers))


def test_operators_are_alerted_on_rejected_videos_a_stuck_intake_and_a_bypassed_cache(synth):
    alarms = {lid: a["Properties"] for lid, a in synth.resources("AWS::CloudWatch::Alarm").items()}
    topic = synth.one("AWS::SNS::Topic")[0]

    def alarm(fragment: str) -> dict:
        [found] = [p for lid, p in alarms.items() if fragment in lid]
        assert found["AlarmActions"] == [{"Ref": topic}]
        return found

    dead = alarm("DeadLetterMessages")
    assert (dead["MetricName"], dead["Threshold"], dead["EvaluationPeriods"], dead["DatapointsToAlarm"]) == (
        "ApproximateNumberOfMessagesVisible", 0, 1, 1)
    assert dead["ComparisonOperator"] == "GreaterThanThreshold"
    age = alarm("IntakeOldestMessageAge")
    assert (age["MetricName"], age["Threshold"], age["Namespace"]) == ("ApproximateAgeOfOldestMessage", 1800, "AWS/SQS")
    bypass = alarm("CacheBypassed")
    # the metric the API emits when Redis is down (services/common/log.py, services/metadata_api/app.py)
    assert (bypass["Namespace"], bypass["MetricName"], bypass["Dimensions"]) == (
        "StreamTech/Workloads", "CacheBypass", [{"Name": "service", "Value": "metadata-api"}])
