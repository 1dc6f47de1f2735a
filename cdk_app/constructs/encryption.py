"""The project's one customer-managed KMS key, used by RDS, EFS, ElastiCache, SNS and the log groups."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_app.config import AppConfig


class Encryption(Construct):
    """Creates `self.key`: rotation on, 7-day pending window, usable by CloudWatch Logs in this region."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, alias: str = "kms-alias",
                 purpose: str = "video platform data key") -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            alias=config.name(alias),  # one of the naming table's key aliases: the CMK of the stack it is in
            description=f"StreamTech {purpose} ({config.environment_suffix})",
            enable_key_rotation=True,
            rotation_period=Duration.days(365),
            pending_window=Duration.days(7),
            removal_policy=RemovalPolicy.DESTROY,
        )
        # CloudWatch Logs encrypts log groups with the key only if the key policy admits the service,
        # scoped to log groups of this account and region.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsInRegion",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn":
                            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
                    }
                },
            )
        )
