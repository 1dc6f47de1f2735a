"""Video metadata store: RDS PostgreSQL, Multi-AZ, CMK-encrypted, TLS-only, short automated backups."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from cdk_app.compliance import suppress
from cdk_app.config import AppConfig
from cdk_app.constructs.logs import encrypted_log_group
from cdk_app.constructs.secrets import DB_PASSWORD_FIELD, DB_USERNAME_FIELD
from platform_spec import contract

# Not 5432: scanners probe the default port first (AwsSolutions-RDS11).
DB_PORT = 5433
DB_NAME = contract.DATABASE
LOG_EXPORTS = ("postgresql", "upgrade")


class Database(Construct):
    """Creates `self.instance`, `self.security_group`, `self.parameter_group` and `self.log_groups`."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, key: kms.IKey, credentials_secret: sm.ISecret) -> None:
        super().__init__(scope, construct_id)
        engine = rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_5)
        self.port = DB_PORT
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, security_group_name=config.name("rds-sg"),
            description=f"PostgreSQL {config.name('rds')}: admits only the platform tasks",
            allow_all_outbound=False,
        )
        subnet_group = rds.SubnetGroup(
            self, "SubnetGroup", vpc=vpc, vpc_subnets=subnets, subnet_group_name=config.name("rds-subnet-group"),
            description=f"Private subnets of {config.name('rds')}", removal_policy=RemovalPolicy.DESTROY,
        )
        self.parameter_group = rds.ParameterGroup(
            self, "Parameters", engine=engine, name=config.name("rds-parameter-group"),
            description="TLS-only connections and statement logging",
            parameters={
                "rds.force_ssl": "1",  # refuse plaintext connections
                "ssl_min_protocol_version": "TLSv1.2",
                "log_min_duration_statement": "1000",
                "log_connections": "1",
                "log_disconnections": "1",
            },
        )
        # RDS would create these on first export, unencrypted and never expiring; pre-create them.
        self.log_groups = [
            encrypted_log_group(self, f"LogGroup-{kind}", config=config, key=key,
                                name=config.name(f"log-rds-{kind}"))
            for kind in LOG_EXPORTS
        ]
        self.instance = rds.DatabaseInstance(
            self, "Instance",
            instance_identifier=config.name("rds"),
            engine=engine,
            instance_type=ec2.InstanceType(config.db_instance_class),
            vpc=vpc,
            subnet_group=subnet_group,
            security_groups=[self.security_group],
            port=DB_PORT,
            database_name=DB_NAME,
            # from_password, not from_secret: from_secret adds a SecretTargetAttachment that writes
            # into the existing secret. The values stay dynamic references resolved by CloudFormation.
            credentials=rds.Credentials.from_password(
                credentials_secret.secret_value_from_json(DB_USERNAME_FIELD).unsafe_unwrap(),
                credentials_secret.secret_value_from_json(DB_PASSWORD_FIELD),
            ),
            parameter_group=self.parameter_group,
            multi_az=True,
            publicly_accessible=False,
            storage_encrypted=True,
            storage_encryption_key=key,
            storage_type=rds.StorageType.GP3,
            allocated_storage=50,
            max_allocated_storage=200,
            enable_performance_insights=True,
            performance_insight_encryption_key=key,
            monitoring_interval=Duration.seconds(60),
            iam_authentication=True,
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
            # The shortest retention that keeps automated backups (and point-in-time recovery) on.
            backup_retention=Duration.days(1),
            delete_automated_backups=True,
            copy_tags_to_snapshot=True,
            cloudwatch_logs_exports=list(LOG_EXPORTS),
            auto_minor_version_upgrade=True,
            deletion_protection=False,
            removal_policy=RemovalPolicy.DESTROY,
        )
        for group in self.log_groups:
            self.instance.node.add_dependency(group)
        suppress(self.instance, "STK-DEV-001",
                 nag=["AwsSolutions-RDS10", "HIPAA.Security-RDSInstanceDeletionProtectionEnabled",
                      "NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled"])
        suppress(self.instance, "STK-DEV-002", nag=["HIPAA.Security-RDSInBackupPlan", "NIST.800.53.R5-RDSInBackupPlan"])
        suppress(self.instance.node.find_child("MonitoringRole"), "STK-DEV-007", nag=["AwsSolutions-IAM4"],
                 applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"])
