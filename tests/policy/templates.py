"""The building blocks of the rules' fixtures (tests/policy/rules/test_<rule module>.py): a template around
some resources, and the resources as the stack declares them, each with what a fixture changes. Suffix 'fx';
every template carries the project CMK (alias/kms-key-fx)."""

from __future__ import annotations

import copy
from typing import Any

from platform_spec.tagging import REQUIRED_TAG_KEYS

SUFFIX = "fx"
CMK_ALIAS = f"alias/kms-key-{SUFFIX}"
CMK = {"Fn::GetAtt": ["Cmk", "Arn"]}
TAGS = [{"Key": k, "Value": "fx" if k == "Environment" else "value"} for k in REQUIRED_TAG_KEYS]


def template(resources: dict[str, Any]) -> dict[str, Any]:
    base = {
        "Cmk": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True, "Tags": TAGS,
                                                          "KeyPolicy": {"Version": "2012-10-17", "Statement": []}}},
        "CmkAlias": {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": CMK_ALIAS,
                                                                "TargetKeyId": {"Ref": "Cmk"}}},
    }
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {**base, **copy.deepcopy(resources)}}


def log_group(**overrides: Any) -> dict[str, Any]:
    props = {"LogGroupName": "/ecs/worker-fx", "KmsKeyId": CMK, "RetentionInDays": 30, "Tags": TAGS}
    props.update(overrides)
    return {"Type": "AWS::Logs::LogGroup", "Properties": {k: v for k, v in props.items() if v is not None}}


def db(**overrides: Any) -> dict[str, Any]:
    props = {"DBInstanceIdentifier": "rds-fx", "Engine": "postgres", "DBInstanceClass": "db.t4g.medium",
             "AllocatedStorage": "50", "MultiAZ": True, "StorageEncrypted": True, "KmsKeyId": CMK,
             "BackupRetentionPeriod": 1, "PubliclyAccessible": False, "DeletionProtection": False,
             "DBParameterGroupName": {"Ref": "Params"}, "MasterUsername": "admin", "MasterUserPassword": "x" * 16,
             "Tags": TAGS}
    props.update(overrides)
    return {"Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": props}


def security_group(*ingress: dict[str, Any]) -> dict[str, Any]:
    """A data store's security group with the given ingress rules (CloudFormation's SecurityGroupIngress)."""
    return {"Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": "database", "VpcId": "vpc-1", "SecurityGroupIngress": list(ingress),
        "Tags": [{"Key": "Name", "Value": "sg-db"}]}}


def params(force_ssl: str = "1") -> dict[str, Any]:
    return {"Type": "AWS::RDS::DBParameterGroup",
            "Properties": {"Family": "postgres17", "Description": "fx", "Parameters": {"rds.force_ssl": force_ssl},
                           "Tags": TAGS}}


def redis(**overrides: Any) -> dict[str, Any]:
    props = {"ReplicationGroupId": "redis-fx", "ReplicationGroupDescription": "fx", "Engine": "redis",
             "CacheNodeType": "cache.t4g.small", "NumCacheClusters": 2, "MultiAZEnabled": True,
             "AutomaticFailoverEnabled": True, "AtRestEncryptionEnabled": True, "KmsKeyId": CMK,
             "TransitEncryptionEnabled": True, "TransitEncryptionMode": "required", "AuthToken": "t" * 32,
             "Tags": TAGS}
    props.update(overrides)
    return {"Type": "AWS::ElastiCache::ReplicationGroup", "Properties": props}


TLS_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "*", "Resource": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def file_system(policy: Any = TLS_POLICY) -> dict[str, Any]:
    props = {"Encrypted": True, "KmsKeyId": CMK, "FileSystemTags": [*TAGS, {"Key": "Name", "Value": "efs-fx"}]}
    if policy is not None:
        props["FileSystemPolicy"] = policy
    return {"Type": "AWS::EFS::FileSystem", "Properties": props}


def replicated_file_system(*destinations: dict[str, Any]) -> dict[str, Any]:
    fs = file_system()
    fs["Properties"]["ReplicationConfiguration"] = {"Destinations": list(destinations)}
    return fs


def vpc_with_private_subnets(count: int) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16", "Tags": TAGS}}}
    for i in range(count):
        resources[f"Private{i}"] = {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": f"10.0.{i}.0/24", "AvailabilityZone": f"ap-northeast-1{'acd'[i]}",
            "Tags": TAGS}}
    return resources


def mount_targets(subnets: int) -> dict[str, Any]:
    return {f"Mount{i}": {"Type": "AWS::EFS::MountTarget", "Properties": {
        "FileSystemId": {"Ref": "Fs"}, "SubnetId": {"Ref": f"Private{i}"}, "SecurityGroups": ["sg-1"]}}
        for i in range(subnets)}


def task_definition(iam: str = "ENABLED", environment: list | None = None) -> dict[str, Any]:
    return {"Type": "AWS::ECS::TaskDefinition", "Properties": {
        "Family": "worker-fx", "Cpu": "512", "Memory": "1024", "NetworkMode": "awsvpc",
        "RequiresCompatibilities": ["FARGATE"], "Tags": TAGS,
        "ContainerDefinitions": [{"Name": "app", "Image": "example/app:1", "Essential": True,
                                  "Environment": environment or [{"Name": "DB_HOST", "Value": "db"}]}],
        "Volumes": [{"Name": "scratch", "EFSVolumeConfiguration": {
            "FilesystemId": "fs-1", "TransitEncryption": "ENABLED",
            "AuthorizationConfig": {"AccessPointId": "fsap-1", "IAM": iam}}}]}}


def service(desired: int) -> dict[str, Any]:
    return {
        "Service": {"Type": "AWS::ECS::Service", "Properties": {
            "ServiceName": "worker-fx", "Cluster": "ecs-cluster-fx", "TaskDefinition": "arn:task",
            "LaunchType": "FARGATE",
            "DesiredCount": desired, "Tags": TAGS,
            "NetworkConfiguration": {"AwsvpcConfiguration": {"AssignPublicIp": "DISABLED", "Subnets": ["subnet-1"]}}}},
        "Scaling": {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": {
            "MaxCapacity": 10, "MinCapacity": 2, "ScalableDimension": "ecs:service:DesiredCount",
            "ServiceNamespace": "ecs",
            "ResourceId": {"Fn::Join": ["", ["service/ecs-cluster-fx/", {"Fn::GetAtt": ["Service", "Name"]}]]}}},
    }


def cluster(insights: str) -> dict[str, Any]:
    return {"Type": "AWS::ECS::Cluster", "Properties": {
        "ClusterName": "ecs-cluster-fx", "Tags": TAGS,
        "ClusterSettings": [{"Name": "containerInsights", "Value": insights}]}}


def rest_api(endpoint: str) -> dict[str, Any]:
    return {"Type": "AWS::ApiGateway::RestApi", "Properties": {
        "Name": "api-fx", "EndpointConfiguration": {"Types": [endpoint]}, "Tags": TAGS}}


def stage(tracing: bool) -> dict[str, Any]:
    return {"Type": "AWS::ApiGateway::Stage", "Properties": {
        "RestApiId": "abc123", "StageName": "v1", "DeploymentId": "dep1", "TracingEnabled": tracing, "Tags": TAGS,
        "AccessLogSetting": {"DestinationArn": "arn:aws:logs:ap-northeast-1:123456789012:log-group:/apigateway/x-fx",
                             "Format": "$context.requestId"},
        "MethodSettings": [{"HttpMethod": "*", "ResourcePath": "/*", "LoggingLevel": "INFO", "MetricsEnabled": True}]}}


def cached_stage(*, encrypted: bool) -> dict[str, Any]:
    """A stage that caches GET /videos, its cache encrypted or not."""
    resource = stage(True)
    resource["Properties"]["MethodSettings"].append({"HttpMethod": "GET", "ResourcePath": "/~1videos",
                                                     "CachingEnabled": True, "CacheDataEncrypted": encrypted})
    return resource


def method(kind: str) -> dict[str, Any]:
    integration = {"Type": kind, "IntegrationHttpMethod": "GET", "Uri": "http://nlb.internal/videos"}
    if kind == "MOCK":
        integration = {"Type": "MOCK"}
    return {"Type": "AWS::ApiGateway::Method", "Properties": {
        "RestApiId": "abc123", "ResourceId": "res1", "HttpMethod": "GET", "AuthorizationType": "NONE",
        "ApiKeyRequired": True, "Integration": integration}}


def iam_policy(action: str) -> dict[str, Any]:
    return {"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyName": "p", "Roles": ["role-fx"],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action,
                                                                    "Resource": "arn:aws:s3:::bucket/*"}]}}}


def other_key(rotation: bool) -> dict[str, Any]:
    return {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": rotation, "Tags": TAGS,
                                                     "KeyPolicy": {"Version": "2012-10-17", "Statement": []}}}


def secret() -> dict[str, Any]:
    return {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "created-fx", "KmsKeyId": CMK, "Tags": TAGS}}


def bucket(block: bool = True, **overrides: Any) -> dict[str, Any]:
    props = {"BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {
                 "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": CMK}}]},
             "PublicAccessBlockConfiguration": dict.fromkeys(
                 ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), block),
             "Tags": TAGS}
    props.update(overrides)
    return {"Type": "AWS::S3::Bucket", "Properties": props}


def tls_deny(service: str, resource: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": f"{service}:*", "Resource": resource,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def bucket_policy(tls: bool) -> dict[str, Any]:
    statement = tls_deny("s3", {"Fn::GetAtt": ["Bucket", "Arn"]}) if tls else {
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject",
        "Resource": {"Fn::GetAtt": ["Bucket", "Arn"]}}
    return {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": {
        "Version": "2012-10-17", "Statement": [statement]}}}


def backlog_policy(queue_name: str = "intake-queue-fx", **changes: Any) -> dict[str, Any]:
    """The worker's target-tracking policy on the queue's visible messages per running task."""
    def metric(namespace: str, name: str, dimensions: list[dict[str, str]]) -> dict[str, Any]:
        return {"Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dimensions}, "Stat": "Average"}
    config = {"TargetValue": 10, "CustomizedMetricSpecification": {"Metrics": [
        {"Id": "visible", "ReturnData": False, "MetricStat": metric(
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", [{"Name": "QueueName", "Value": queue_name}])},
        {"Id": "tasks", "ReturnData": False, "MetricStat": metric(
            "ECS/ContainerInsights", "RunningTaskCount", [{"Name": "ServiceName", "Value": "video-processing-fx"}])},
        {"Id": "backlog", "ReturnData": True, "Expression": "visible / IF(tasks > 0, tasks, 1)"}]}}
    config.update(changes)
    return {"Type": "AWS::ApplicationAutoScaling::ScalingPolicy", "Properties": {
        "PolicyName": "worker-backlog-scaling-fx", "PolicyType": "TargetTrackingScaling",
        "ScalingTargetId": "service/ecs-cluster-fx/video-processing-fx|ecs:service:DesiredCount|ecs",
        "TargetTrackingScalingPolicyConfiguration": config}}


def queues(redrive: bool = True, tls: bool = True, scaling: dict[str, Any] | None = None) -> dict[str, Any]:
    work = {"QueueName": "intake-queue-fx", "KmsMasterKeyId": CMK, "Tags": TAGS}
    if redrive:
        work["RedrivePolicy"] = {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 3}
    resources = {
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "intake-dlq-fx", "KmsMasterKeyId": CMK,
                                                           "Tags": TAGS}},
        "Work": {"Type": "AWS::SQS::Queue", "Properties": work},
    }
    for name in ("Dlq", "Work"):
        statement = tls_deny("sqs", {"Fn::GetAtt": [name, "Arn"]}) if tls else {
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": [name, "Arn"]}}
        resources[f"{name}Policy"] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": name}], "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]}}}
    resources["Backlog"] = backlog_policy() if scaling is None else scaling
    return resources


def hardened_task(**container: Any) -> dict[str, Any]:
    """The worker's task definition as the stack declares it (read-only root, no privileges), with `container`
    properties (or, under the key "task", task properties) changed."""
    task_changes = container.pop("task", {})
    resource = task_definition()
    definition = {**resource["Properties"]["ContainerDefinitions"][0], "ReadonlyRootFilesystem": True,
                  "User": "1000:1000", **container}
    resource["Properties"] = {**resource["Properties"], "ContainerDefinitions": [definition], **task_changes}
    return resource


def service_with(**changes: Any) -> dict[str, Any]:
    resources = service(2)
    props = resources["Service"]["Properties"]
    network = changes.pop("AssignPublicIp", None)
    if network:
        props["NetworkConfiguration"] = {"AwsvpcConfiguration": {"AssignPublicIp": network, "Subnets": ["subnet-1"]}}
    props.update(changes)
    return resources


def role(*principals: Any) -> dict[str, Any]:
    return {"Type": "AWS::IAM::Role", "Properties": {"Tags": TAGS, "AssumeRolePolicyDocument": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": p}
                                               for p in principals]}}}


def statement_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyName": "p", "Roles": ["role-fx"],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}}


def access_point(**changes: Any) -> dict[str, Any]:
    props = {"FileSystemId": "fs-0123456789abcdef0", "PosixUser": {"Uid": "1000", "Gid": "1000"},
             "RootDirectory": {"Path": "/scratch-fx", "CreationInfo": {"OwnerUid": "1000", "OwnerGid": "1000",
                                                                       "Permissions": "750"}},
             "AccessPointTags": TAGS}
    props.update(changes)
    return {"Type": "AWS::EFS::AccessPoint", "Properties": props}


def queue_with_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "intake-queue-fx",
                                                                  "KmsMasterKeyId": CMK, "Tags": TAGS}},
            "QueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
                "Queues": [{"Ref": "Queue"}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}}}


def alarm(**changes: Any) -> dict[str, Any]:
    props = {"AlarmName": "alarm-fx", "ComparisonOperator": "GreaterThanThreshold", "EvaluationPeriods": 1,
             "MetricName": "CPUUtilization", "Namespace": "AWS/RDS", "Period": 60, "Statistic": "Average",
             "Threshold": 80, "AlarmActions": ["arn:aws:sns:ap-northeast-1:123456789012:alarms-fx"], "Tags": TAGS}
    props.update(changes)
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {k: v for k, v in props.items() if v is not None}}


def web_acl(rules: bool = True) -> dict[str, Any]:
    """The stack's shape: AWS's common rule set and its known-bad-inputs set (Log4Shell, Checkov CKV_AWS_192)."""
    managed = [{"Name": name, "Priority": n, "OverrideAction": {"None": {}},
                "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": name}},
                "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True,
                                     "MetricName": name}}
               for n, name in enumerate(("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"))]
    return {"Type": "AWS::WAFv2::WebACL", "Properties": {
        "Name": "waf-api-fx", "Scope": "REGIONAL", "DefaultAction": {"Allow": {}}, "Rules": managed if rules else [],
        "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "waf"},
        "Tags": TAGS}}


def guarded_stage(associated: bool) -> dict[str, Any]:
    resources = {"Api": rest_api("REGIONAL"), "Stage": stage(True), "Acl": web_acl()}
    resources["Stage"]["Properties"]["RestApiId"] = {"Ref": "Api"}
    if associated:
        resources["Association"] = {"Type": "AWS::WAFv2::WebACLAssociation", "Properties": {
            "ResourceArn": {"Fn::Join": ["", ["arn:aws:apigateway:ap-northeast-1::/restapis/", {"Ref": "Api"},
                                              "/stages/", {"Ref": "Stage"}]]},
            "WebACLArn": {"Fn::GetAtt": ["Acl", "Arn"]}}}
    return resources


def private_subnet_routed(key: str, target: Any) -> dict[str, Any]:
    """A private subnet (as CDK tags it) whose table sends 0.0.0.0/0 to `target`."""
    resources = vpc_with_private_subnets(1)
    resources["Private0"]["Properties"]["Tags"] = [*TAGS, {"Key": "aws-cdk:subnet-type", "Value": "Private"}]
    resources["Igw"] = {"Type": "AWS::EC2::InternetGateway", "Properties": {"Tags": TAGS}}
    resources["Table"] = {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}, "Tags": TAGS}}
    resources["Association"] = {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
        "SubnetId": {"Ref": "Private0"}, "RouteTableId": {"Ref": "Table"}}}
    resources["Default"] = {"Type": "AWS::EC2::Route", "Properties": {
        "RouteTableId": {"Ref": "Table"}, "DestinationCidrBlock": "0.0.0.0/0", key: target}}
    return resources


def logged_vpc(traffic: str | None) -> dict[str, Any]:
    resources = vpc_with_private_subnets(1)
    if traffic is not None:
        resources["FlowLog"] = {"Type": "AWS::EC2::FlowLog", "Properties": {
            "ResourceId": {"Ref": "Vpc"}, "ResourceType": "VPC", "TrafficType": traffic,
            "LogDestinationType": "cloud-watch-logs", "LogGroupName": "/vpc/flow-logs-fx",
            "DeliverLogsPermissionArn": "arn:aws:iam::123456789012:role/flow-fx", "Tags": TAGS}}
    return resources


def guarded_group(*egress: dict[str, Any]) -> dict[str, Any]:
    """A database whose security group declares `egress` (none given: CDK's no-traffic rule)."""
    group = security_group()
    group["Properties"]["SecurityGroupEgress"] = list(egress) or [
        {"CidrIp": "255.255.255.255/32", "Description": "Disallow all traffic", "FromPort": 252,
         "IpProtocol": "icmp", "ToPort": 86}]
    return {"Params": params(), "Sg": group,
            "Db": db(VPCSecurityGroups=[{"Fn::GetAtt": ["Sg", "GroupId"]}])}


def replicated_bucket(destination: dict[str, Any]) -> dict[str, Any]:
    """The bucket replicating every object to `destination` (a replication rule's Destination), and a declared
    bucket it may replicate to."""
    return {"Replica": bucket(), "Bucket": bucket(ReplicationConfiguration={
        "Role": "arn:aws:iam::123456789012:role/replication-fx",
        "Rules": [{"Id": "copy-all", "Status": "Enabled", "Priority": 1, "Filter": {"Prefix": ""},
                   "DeleteMarkerReplication": {"Status": "Disabled"}, "Destination": destination}]})}


def streamed_log_group(destination: Any) -> dict[str, Any]:
    """A log group with a subscription filter to `destination`, and a declared stream it may deliver to."""
    return {"Logs": log_group(), "Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
            "Filter": {"Type": "AWS::Logs::SubscriptionFilter", "Properties": {
                "LogGroupName": {"Ref": "Logs"}, "FilterPattern": "", "DestinationArn": destination,
                "RoleArn": "arn:aws:iam::123456789012:role/logs-fx"}}}


def targeted_rule(target: Any) -> dict[str, Any]:
    """The intake rule delivering to `target` (a target's Arn), with the declared dead-letter queue."""
    return {**queues(), "Rule": {"Type": "AWS::Events::Rule", "Properties": {
        "Name": "intake-rule-fx", "State": "ENABLED", "EventPattern": {"source": ["aws.s3"]},
        "Targets": [{"Id": "Target0", "Arn": target, "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["Dlq", "Arn"]}}}]}}}


def subscribed_topic(protocol: str, endpoint: Any) -> dict[str, Any]:
    return {**queues(), "Topic": {"Type": "AWS::SNS::Topic", "Properties": {
        "TopicName": "alarms-fx", "KmsMasterKeyId": CMK, "Tags": TAGS,
        "Subscription": [{"Protocol": protocol, "Endpoint": endpoint}]}}}
