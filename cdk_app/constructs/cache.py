"""Popular-content cache: ElastiCache Redis, 2+ nodes over AZs, failover, CMK at rest, TLS required, AUTH."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from cdk_app.config import AppConfig
from cdk_app.constructs.logs import encrypted_log_group
from cdk_app.constructs.secrets import REDIS_AUTH_FIELD

# Not 6379: scanners probe the default port first (AwsSolutions-AEC5).
REDIS_PORT = 6380
REDIS_ENGINE_VERSION = "7.1"


class Cache(Construct):
    """Creates `self.replication_group`, `self.security_group` and `self.connections`."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, key: kms.IKey, auth_secret: sm.ISecret) -> None:
        super().__init__(scope, construct_id)
        self.port = REDIS_PORT
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, security_group_name=config.name("redis-sg"),
            description=f"Redis {config.name('redis')}: admits only the platform tasks",
            allow_all_outbound=False,
        )
        self.connections = ec2.Connections(
            security_groups=[self.security_group], default_port=ec2.Port.tcp(REDIS_PORT))
        selected = vpc.select_subnets(subnet_type=subnets.subnet_type)
        subnet_group = elasticache.CfnSubnetGroup(
            self, "SubnetGroup",
            cache_subnet_group_name=config.name("redis-subnet-group"),
            description=f"Private subnets of {config.name('redis')}",
            subnet_ids=selected.subnet_ids,
        )
        slow_log = encrypted_log_group(self, "SlowLog", config=config, key=key, name=config.name("log-redis-slow"))
        engine_log = encrypted_log_group(self, "EngineLog", config=config, key=key,
                                         name=config.name("log-redis-engine"))
        azs = list(config.availability_zones)
        self.replication_group = elasticache.CfnReplicationGroup(
            self, "ReplicationGroup",
            replication_group_id=config.name("redis"),
            replication_group_description=f"StreamTech popular-content cache ({config.environment_suffix})",
            engine="redis",
            engine_version=REDIS_ENGINE_VERSION,
            cache_node_type=config.redis_node_type,
            num_cache_clusters=config.redis_node_count,
            # Spread the nodes over distinct AZs so losing one AZ leaves a node to fail over to.
            preferred_cache_cluster_a_zs=[azs[i % len(azs)] for i in range(config.redis_node_count)],
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            cache_subnet_group_name=subnet_group.ref,  # Ref: the name, and an implicit dependency
            security_group_ids=[self.security_group.security_group_id],
            port=REDIS_PORT,
            at_rest_encryption_enabled=True,
            kms_key_id=key.key_arn,
            transit_encryption_enabled=True,
            # "preferred" would still accept plaintext clients; "required" refuses them.
            transit_encryption_mode="required",
            auth_token=auth_secret.secret_value_from_json(REDIS_AUTH_FIELD).unsafe_unwrap(),
            # Daily snapshots for 15 days (HIPAA/NIST backup controls); automatic snapshots are deleted
            # with the replication group, so they do not block stack deletion.
            snapshot_retention_limit=15,
            auto_minor_version_upgrade=True,
            log_delivery_configurations=[
                elasticache.CfnReplicationGroup.LogDeliveryConfigurationRequestProperty(
                    destination_type="cloudwatch-logs", log_format="json", log_type=log_type,
                    destination_details=elasticache.CfnReplicationGroup.DestinationDetailsProperty(
                        cloud_watch_logs_details=elasticache.CfnReplicationGroup.CloudWatchLogsDestinationDetailsProperty(
                            log_group=group.log_group_name)),
                )
                for log_type, group in (("slow-log", slow_log), ("engine-log", engine_log))
            ],
        )
        for group in (slow_log, engine_log):
            self.replication_group.node.add_dependency(group)
