"""Scratch storage for video processing: EFS, CMK-encrypted, a mount target per private subnet, TLS-only policy."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_app.compliance import suppress
from cdk_app.config import AppConfig

SCRATCH_PATH = "/video-scratch"
SCRATCH_UID = "1000"


class ScratchStorage(Construct):
    """Creates `self.file_system` and `self.access_point` (the only path the tasks mount)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, security_group_name=config.name("efs-sg"),
            description=f"EFS {config.name('efs')}: NFS from the video-processing tasks only",
            allow_all_outbound=False,
        )
        self.file_system = efs.FileSystem(
            self, "FileSystem",
            vpc=vpc,
            vpc_subnets=subnets,  # one mount target in every private subnet, hence every AZ
            security_group=security_group,
            file_system_name=config.name("efs"),
            encrypted=True,
            kms_key=key,
            performance_mode=efs.PerformanceMode.GENERAL_PURPOSE,
            throughput_mode=efs.ThroughputMode.ELASTIC,
            lifecycle_policy=efs.LifecyclePolicy.AFTER_7_DAYS,
            # Scratch data is reproducible from the source videos: no backup vault, which would
            # hold recovery points and block stack deletion.
            enable_automatic_backups=False,
            allow_anonymous_access=False,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.file_system.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyNonTlsAccess",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["*"],
                resources=["*"],
                conditions={"Bool": {"aws:SecureTransport": "false"}},
            )
        )
        suppress(self.file_system, "STK-DEV-002",
                 nag=["HIPAA.Security-EFSInBackupPlan", "NIST.800.53.R5-EFSInBackupPlan"])
        self.access_point = self.file_system.add_access_point(
            "ScratchAccessPoint",
            path=SCRATCH_PATH,
            create_acl=efs.Acl(owner_uid=SCRATCH_UID, owner_gid=SCRATCH_UID, permissions="750"),
            posix_user=efs.PosixUser(uid=SCRATCH_UID, gid=SCRATCH_UID),
        )
