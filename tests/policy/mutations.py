"""The mutation table: each a copy of the real template with one requirement broken, and the catalog rule
that must report it. Shared by the gate's mutation test and the opscli tests."""

from __future__ import annotations

from collections.abc import Callable


def first(template: dict, type_: str) -> dict:
    return next(r for r in template["Resources"].values() if r["Type"] == type_)


def props(template: dict, type_: str) -> dict:
    return first(template, type_)["Properties"]


def by_name(template: dict, type_: str, key: str, value: str) -> dict:
    return next(r["Properties"] for r in template["Resources"].values()
                if r["Type"] == type_ and r["Properties"].get(key) == value)


def public_subnet_id(template: dict) -> str:
    from platform_spec.template_engine import public_subnets
    return sorted(public_subnets(template["Resources"]))[0]


def _every_rule_counts(acl: dict) -> None:
    """Each rule of the web ACL switched to Count: its Action, or a rule group's OverrideAction."""
    for rule in acl["Rules"]:
        rule["OverrideAction" if "OverrideAction" in rule else "Action"] = {"Count": {}}


def efs_volume(template: dict) -> dict:
    """The EFS volume configuration of the task definition that mounts the scratch file system."""
    return next(v["EFSVolumeConfiguration"] for r in template["Resources"].values()
                if r["Type"] == "AWS::ECS::TaskDefinition"
                for v in r["Properties"].get("Volumes", []) if "EFSVolumeConfiguration" in v)


def _set_env(t, name, value):
    container = props(t, "AWS::ECS::TaskDefinition")["ContainerDefinitions"][0]
    container["Environment"].append({"Name": name, "Value": value})


MUTATIONS: dict[str, tuple[Callable[[dict], None], str]] = {
    "rds-multi-az-off": (lambda t: props(t, "AWS::RDS::DBInstance").update(MultiAZ=False), "STK-RDS-001"),
    "rds-backups-off": (lambda t: props(t, "AWS::RDS::DBInstance").update(BackupRetentionPeriod=0), "STK-RDS-002"),
    "rds-force-ssl-off": (lambda t: props(t, "AWS::RDS::DBParameterGroup")["Parameters"].update({"rds.force_ssl": "0"}),
                          "STK-RDS-003"),
    "rds-public": (lambda t: props(t, "AWS::RDS::DBInstance").update(PubliclyAccessible=True), "STK-NET-001"),
    "db-in-public-subnet": (lambda t: props(t, "AWS::RDS::DBSubnetGroup")["SubnetIds"].append(
        {"Ref": public_subnet_id(t)}), "STK-NET-001"),
    "rds-renamed": (lambda t: props(t, "AWS::RDS::DBInstance").update(DBInstanceIdentifier="database-x"),
                    "STK-NAME-001"),
    "rds-deletion-protection": (lambda t: props(t, "AWS::RDS::DBInstance").update(DeletionProtection=True),
                                "STK-DESTROY-002"),
    "redis-transit-preferred": (lambda t: props(t, "AWS::ElastiCache::ReplicationGroup").update(
        TransitEncryptionMode="preferred"), "STK-REDIS-002"),
    "redis-single-node": (lambda t: props(t, "AWS::ElastiCache::ReplicationGroup").update(NumCacheClusters=1),
                          "STK-REDIS-001"),
    "efs-policy-removed": (lambda t: props(t, "AWS::EFS::FileSystem").pop("FileSystemPolicy"), "STK-EFS-001"),
    "efs-mount-target-removed": (lambda t: t["Resources"].pop(next(
        k for k, v in t["Resources"].items() if v["Type"] == "AWS::EFS::MountTarget")), "STK-EFS-002"),
    "efs-mount-without-tls": (lambda t: efs_volume(t).update(TransitEncryption="DISABLED"), "STK-ECS-001"),
    "secret-created": (lambda t: t["Resources"].update(Sneaky={"Type": "AWS::SecretsManager::Secret",
                                                              "Properties": {"Name": "sneaky-x"}}), "STK-SECRET-001"),
    "password-in-env": (lambda t: _set_env(t, "DB_PASSWORD", "hunter2"), "STK-SECRET-002"),
    "log-group-retained": (lambda t: first(t, "AWS::Logs::LogGroup").update(DeletionPolicy="Retain"),
                           "STK-DESTROY-001"),
    "log-group-aws-key": (lambda t: props(t, "AWS::Logs::LogGroup").update(KmsKeyId="alias/aws/logs"), "STK-KMS-001"),
    "log-group-no-retention": (lambda t: props(t, "AWS::Logs::LogGroup").pop("RetentionInDays"), "STK-LOG-001"),
    "kms-rotation-off": (lambda t: props(t, "AWS::KMS::Key").update(EnableKeyRotation=False), "STK-KMS-002"),
    "tag-removed": (lambda t: props(t, "AWS::EC2::VPC").update(
        Tags=[x for x in props(t, "AWS::EC2::VPC")["Tags"] if x["Key"] != "CostCenter"]), "STK-TAG-001"),
    "api-edge": (lambda t: props(t, "AWS::ApiGateway::RestApi").update(EndpointConfiguration={"Types": ["EDGE"]}),
                 "STK-API-001"),
    "api-tracing-off": (lambda t: props(t, "AWS::ApiGateway::Stage").update(TracingEnabled=False), "STK-API-002"),
    "api-mock": (lambda t: props(t, "AWS::ApiGateway::Method").update(Integration={"Type": "MOCK"}), "STK-API-003"),
    "service-one-task": (lambda t: props(t, "AWS::ECS::Service").update(DesiredCount=1), "STK-ECS-002"),
    "insights-off": (lambda t: props(t, "AWS::ECS::Cluster").update(
        ClusterSettings=[{"Name": "containerInsights", "Value": "disabled"}]), "STK-ECS-003"),
    "bucket-public": (lambda t: props(t, "AWS::S3::Bucket")["PublicAccessBlockConfiguration"].update(
        BlockPublicPolicy=False), "STK-S3-001"),
    "bucket-sse-s3": (lambda t: props(t, "AWS::S3::Bucket").update(BucketEncryption={
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}),
        "STK-KMS-001"),
    "bucket-tls-policy-removed": (lambda t: [t["Resources"].pop(k) for k, v in list(t["Resources"].items())
                                             if v["Type"] == "AWS::S3::BucketPolicy"], "STK-S3-002"),
    "queue-without-dlq": (lambda t: by_name(t, "AWS::SQS::Queue", "QueueName", "intake-queue-test").pop(
        "RedrivePolicy"), "STK-SQS-001"),
    "queue-tls-policy-removed": (lambda t: [t["Resources"].pop(k) for k, v in list(t["Resources"].items())
                                            if v["Type"] == "AWS::SQS::QueuePolicy"], "STK-SQS-002"),
    "worker-scales-on-cpu-only": (lambda t: by_name(t, "AWS::ApplicationAutoScaling::ScalingPolicy", "PolicyName",
                                                     "worker-backlog-scaling-test").update(
        TargetTrackingScalingPolicyConfiguration={"TargetValue": 60, "PredefinedMetricSpecification": {
            "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}), "STK-SQS-003"),
    "iam-star": (lambda t: props(t, "AWS::IAM::Policy")["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "*", "Resource": "*"}), "STK-IAM-001"),
    # attack surface (issue 25)
    "flow-log-removed": (lambda t: _drop(t, "AWS::EC2::FlowLog"), "STK-NET-003"),
    "waf-association-removed": (lambda t: _drop(t, "AWS::WAFv2::WebACLAssociation"), "STK-API-005"),
    "web-acl-without-rules": (lambda t: props(t, "AWS::WAFv2::WebACL").update(Rules=[]), "STK-WAF-001"),
    "web-acl-rules-all-count": (lambda t: _every_rule_counts(props(t, "AWS::WAFv2::WebACL")), "STK-WAF-001"),
    "role-trusts-everyone": (lambda t: props(t, "AWS::IAM::Role")["AssumeRolePolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}), "STK-IAM-002"),
    "pass-any-role": (lambda t: props(t, "AWS::IAM::Policy")["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}), "STK-IAM-003"),
    "queue-open-to-everyone": (lambda t: props(t, "AWS::SQS::QueuePolicy")["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}), "STK-POLICY-001"),
    "privileged-container": (lambda t: props(t, "AWS::ECS::TaskDefinition")["ContainerDefinitions"][0].update(
        Privileged=True), "STK-ECS-004"),
    "writable-root": (lambda t: props(t, "AWS::ECS::TaskDefinition")["ContainerDefinitions"][0].update(
        ReadonlyRootFilesystem=False), "STK-ECS-005"),
    "ecs-exec-on": (lambda t: props(t, "AWS::ECS::Service").update(EnableExecuteCommand=True), "STK-ECS-006"),
    "bucket-acls-on": (lambda t: props(t, "AWS::S3::Bucket").update(
        OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}), "STK-S3-003"),
    "open-method": (lambda t: props(t, "AWS::ApiGateway::Method").update(ApiKeyRequired=False), "STK-API-004"),
    "private-subnet-to-igw": (lambda t: _private_route_to_igw(t), "STK-NET-004"),
    "db-egress-to-the-world": (lambda t: by_name(t, "AWS::EC2::SecurityGroup", "GroupName", "rds-sg-test")[
        "SecurityGroupEgress"].append({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}),
        "STK-NET-005"),
    "alarm-actions-off": (lambda t: props(t, "AWS::CloudWatch::Alarm").update(ActionsEnabled=False), "STK-ALARM-001"),
}


def _private_route_to_igw(template: dict) -> None:
    """A private subnet's default route sent to the internet gateway instead of the NAT gateway."""
    resources = template["Resources"]
    gateway = next(lid for lid, r in resources.items() if r["Type"] == "AWS::EC2::InternetGateway")
    route = next(r["Properties"] for r in resources.values()
                 if r["Type"] == "AWS::EC2::Route" and "NatGatewayId" in r["Properties"])
    route.pop("NatGatewayId")
    route["GatewayId"] = {"Ref": gateway}


def _drop(template: dict, type_: str) -> None:
    """Remove every resource of `type_` (a required resource left out of the template)."""
    for lid in [lid for lid, r in template["Resources"].items() if r["Type"] == type_]:
        template["Resources"].pop(lid)
