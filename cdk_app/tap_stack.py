"""TapStack: composes the platform's constructs, wires their grants and connections, declares outputs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_app.config import AppConfig
from cdk_app.constructs.api import MetadataApi
from cdk_app.constructs.cache import Cache
from cdk_app.constructs.database import DB_NAME, Database
from cdk_app.constructs.encryption import Encryption
from cdk_app.constructs.intake import VideoIntake
from cdk_app.constructs.network import Network
from cdk_app.constructs.observability import Observability
from cdk_app.constructs.secrets import DB_PASSWORD_FIELD, DB_USERNAME_FIELD, REDIS_AUTH_FIELD, ExistingSecrets
from cdk_app.constructs.storage import ScratchStorage
from cdk_app.constructs.video_processing import VideoProcessing
from platform_spec import contract


class TapStack(Stack):
    """StreamTech Japan's video-processing platform in ap-northeast-1."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig) -> None:
        super().__init__(
            scope, construct_id,
            env=Environment(region=config.region, account=config.account),
            description=f"StreamTech Japan video-processing platform ({config.environment_suffix})",
            termination_protection=False,
        )
        self.config = config
        encryption = Encryption(self, "Encryption", config=config)
        key = encryption.key
        network = Network(self, "Network", config=config, key=key)
        vpc, private = network.vpc, network.private_subnets
        secrets = ExistingSecrets(self, "Secrets", config=config)

        database = Database(self, "Database", config=config, vpc=vpc, subnets=private, key=key,
                            credentials_secret=secrets.database)
        cache = Cache(self, "Cache", config=config, vpc=vpc, subnets=private, key=key,
                      auth_secret=secrets.redis_auth)
        storage = ScratchStorage(self, "Storage", config=config, vpc=vpc, subnets=private, key=key)
        intake = VideoIntake(self, "Intake", config=config, key=key)

        # What both services need to reach the data stores; credentials only through `secrets`.
        environment = {
            contract.DB_HOST: database.instance.db_instance_endpoint_address,
            contract.DB_PORT: str(database.port),
            contract.DB_NAME: DB_NAME,
            contract.DB_SSLMODE: contract.DB_SSLMODE_REQUIRED,
            contract.REDIS_HOST: cache.replication_group.attr_primary_end_point_address,
            contract.REDIS_READER_HOST: cache.replication_group.attr_reader_end_point_address,
            contract.REDIS_PORT: str(cache.port),
            contract.REDIS_TLS: "true",
            contract.AWS_REGION: config.region,
            contract.ENVIRONMENT: config.environment_suffix,
        }
        container_secrets = {
            contract.DB_USERNAME: ecs.Secret.from_secrets_manager(secrets.database, DB_USERNAME_FIELD),
            contract.DB_PASSWORD: ecs.Secret.from_secrets_manager(secrets.database, DB_PASSWORD_FIELD),
            contract.REDIS_AUTH_TOKEN: ecs.Secret.from_secrets_manager(secrets.redis_auth, REDIS_AUTH_FIELD),
        }
        processing = VideoProcessing(
            self, "VideoProcessing", config=config, vpc=vpc, subnets=private, key=key,
            environment={**environment, contract.INGEST_BUCKET: intake.bucket.bucket_name,
                         contract.INTAKE_QUEUE_URL: intake.queue.queue_url,
                         contract.INTAKE_DLQ_URL: intake.dead_letter_queue.queue_url},
            secrets=container_secrets, queue_name=config.name("intake-queue"),
            file_system_id=storage.file_system.file_system_id, file_system_arn=storage.file_system.file_system_arn,
            access_point_id=storage.access_point.access_point_id,
            access_point_arn=storage.access_point.access_point_arn,
        )
        api = MetadataApi(self, "MetadataApi", config=config, vpc=vpc, subnets=private, key=key,
                          cluster=processing.cluster, environment=environment, secrets=container_secrets,
                          api_key_secret=secrets.api_key)

        # Connections: each data store admits only the tasks that use it.
        worker_sg, api_sg = processing.worker.security_group, api.service.security_group
        for caller in (worker_sg, api_sg):
            # A literal port (the instance's default port is a deploy-time token) keeps the rule reviewable.
            database.instance.connections.allow_from(caller, ec2.Port.tcp(database.port),
                                                     "PostgreSQL over TLS from platform tasks")
            cache.connections.allow_default_port_from(caller, "Redis over TLS from platform tasks")
        storage.file_system.connections.allow_default_port_from(worker_sg, "NFS over TLS from the worker")
        # The worker consumes the queue and reads the videos; nothing else touches the intake.
        intake.queue.grant_consume_messages(processing.worker.task_definition.task_role)
        intake.grant_read_videos(processing.worker.task_definition.task_role)
        # Unreadable videos go to the dead-letter queue at once, with the reason (services/video_worker). Written
        # out rather than grant_send_messages, whose KMS half adds kms:ReEncrypt* that sending never needs.
        worker_role = processing.worker.task_definition.task_role
        worker_role.add_to_principal_policy(iam.PolicyStatement(
            sid="SendUnreadableVideosToDeadLetterQueue", actions=["sqs:SendMessage"],
            resources=[intake.dead_letter_queue.queue_arn]))
        worker_role.add_to_principal_policy(iam.PolicyStatement(
            sid="EncryptDeadLetterMessages", actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[key.key_arn]))

        observability = Observability(
            self, "Observability", config=config, key=key, database=database.instance,
            cache=cache.replication_group, services=[processing.worker.service, api.service.service],
            rest_api=api.rest_api, intake=intake)

        self.encryption, self.network, self.secrets = encryption, network, secrets
        self.database, self.cache, self.storage, self.intake = database, cache, storage, intake
        self.processing, self.api, self.observability = processing, api, observability
        self._outputs()

    def _outputs(self) -> None:
        """The flat outputs that integration tests and opscli read (cfn-outputs/flat-outputs.json)."""
        c = self.config
        outputs = {
            "EnvironmentSuffix": c.environment_suffix,
            "Region": self.region,
            "VpcId": self.network.vpc.vpc_id,
            "PrivateSubnetIds": ",".join(s.subnet_id for s in self.network.vpc.private_subnets),
            "KmsKeyArn": self.encryption.key.key_arn,
            "KmsKeyAlias": c.name("kms-alias"),
            "ClusterName": self.processing.cluster.cluster_name,
            "VideoProcessingServiceName": self.processing.worker.service.service_name,
            "MetadataApiServiceName": self.api.service.service.service_name,
            "DbInstanceIdentifier": self.database.instance.instance_identifier,
            "DbEndpoint": self.database.instance.db_instance_endpoint_address,
            "DbPort": str(self.database.port),
            "DbParameterGroupName": c.name("rds-parameter-group"),
            "RedisReplicationGroupId": c.name("redis"),
            "RedisPrimaryEndpoint": self.cache.replication_group.attr_primary_end_point_address,
            "RedisPort": str(self.cache.port),
            "EfsFileSystemId": self.storage.file_system.file_system_id,
            "EfsAccessPointId": self.storage.access_point.access_point_id,
            "ApiId": self.api.rest_api.rest_api_id,
            "ApiUrl": self.api.rest_api.url,
            "ApiStageName": self.api.rest_api.deployment_stage.stage_name,
            "LoadBalancerArn": self.api.load_balancer.load_balancer_arn,
            "AlarmTopicArn": self.observability.topic.topic_arn,
            "IngestBucketName": self.intake.bucket.bucket_name,
            "IntakeQueueUrl": self.intake.queue.queue_url,
            "IntakeQueueName": c.name("intake-queue"),
            "IntakeDeadLetterQueueName": c.name("intake-dlq"),
            "IntakeDeadLetterQueueUrl": self.intake.dead_letter_queue.queue_url,
            "VideoProcessingLogGroup": self.processing.worker.log_group.log_group_name,
            "MetadataApiLogGroup": self.api.service.log_group.log_group_name,
            "ApiAccessLogGroup": self.api.access_log_group.log_group_name,
            "ApiExecutionLogGroup": self.api.execution_log_group.log_group_name,
            "DbSecretName": c.db_secret,
            "ApiKeySecretName": c.api_key_secret,
            "RedisAuthSecretName": c.redis_auth_secret,
        }
        for key, value in outputs.items():
            CfnOutput(self, key, value=value)
