"""A hardened Fargate service: one task family, its log group, security group, secrets and auto scaling."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, IgnoreMode
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_app.compliance import INLINE_POLICY_RULES, suppress
from cdk_app.config import AppConfig
from cdk_app.constructs.logs import encrypted_log_group

# The images' build context is the repository root; .dockerignore sends only services/, platform_spec/, platform_utils/.
ROOT = Path(__file__).resolve().parents[2]
TASK_UID = "1000"


def container_image(directory: str, image_uri: str | None) -> ecs.ContainerImage:
    """The image built from services/<directory>/Dockerfile (the default) or the registry image `image_uri`.
    Both images carry `services.common`, `platform_spec` (the contract they read) and `platform_utils`."""
    if image_uri:
        return ecs.ContainerImage.from_registry(image_uri)
    return ecs.ContainerImage.from_asset(str(ROOT), file=f"services/{directory}/Dockerfile",
                                         ignore_mode=IgnoreMode.DOCKER)


class FargateWorkload(Construct):
    """Exposes `task_definition`, `container`, `service`, `security_group`, `log_group` and `scaling`."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: AppConfig, name_key: str, cluster: ecs.ICluster,
        vpc: ec2.IVpc, subnets: ec2.SubnetSelection, key: kms.IKey, image: ecs.ContainerImage,
        environment: Mapping[str, str], secrets: Mapping[str, ecs.Secret], health_check: str,
        cpu: int = 512, memory_mib: int = 1024, min_tasks: int = 2, max_tasks: int = 10,
        container_port: int | None = None, stop_timeout: Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        name = config.name(name_key)
        self.log_group = encrypted_log_group(self, "LogGroup", config=config, key=key,
                                             name=config.name(f"log-{name_key}"))
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, security_group_name=config.name(f"{name_key}-sg"),
            description=f"Tasks of {name}",
            # Tasks reach ECR, CloudWatch Logs and Secrets Manager through the NAT gateway.
            allow_all_outbound=True,
        )
        self.task_definition = ecs.FargateTaskDefinition(
            self, "TaskDefinition", family=name, cpu=cpu, memory_limit_mib=memory_mib,
            runtime_platform=ecs.RuntimePlatform(cpu_architecture=ecs.CpuArchitecture.X86_64,
                                                 operating_system_family=ecs.OperatingSystemFamily.LINUX),
        )
        self.task_definition.add_volume(name="tmp")
        self.container = self.task_definition.add_container(
            "app",
            container_name=name_key,
            image=image,
            essential=True,
            user=f"{TASK_UID}:{TASK_UID}",
            readonly_root_filesystem=True,
            environment=dict(environment),
            secrets=dict(secrets),
            logging=ecs.LogDrivers.aws_logs(stream_prefix=name_key, log_group=self.log_group,
                                            mode=ecs.AwsLogDriverMode.NON_BLOCKING),
            health_check=ecs.HealthCheck(command=["CMD-SHELL", health_check], interval=Duration.seconds(30),
                                         timeout=Duration.seconds(5), retries=3,
                                         start_period=Duration.seconds(30)),
            port_mappings=[ecs.PortMapping(container_port=container_port)] if container_port else None,
            # SIGTERM, then this long to finish in-flight work before SIGKILL.
            stop_timeout=stop_timeout or Duration.seconds(30),
        )
        self.container.add_mount_points(ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False))
        suppress(self.task_definition, "STK-DEV-008", nag=["AwsSolutions-ECS2"])
        execution_policy = self.task_definition.obtain_execution_role().node.find_child("DefaultPolicy")
        suppress(execution_policy, "STK-DEV-007", nag=INLINE_POLICY_RULES)
        # ecr:GetAuthorizationToken supports no resource scoping; every other statement is scoped.
        suppress(execution_policy, "STK-DEV-007", nag=["AwsSolutions-IAM5"], applies_to=["Resource::*"])
        self.service = ecs.FargateService(
            self, "Service",
            service_name=name,
            cluster=cluster,
            task_definition=self.task_definition,
            desired_count=min_tasks,
            min_healthy_percent=100,
            max_healthy_percent=200,
            assign_public_ip=False,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            platform_version=ecs.FargatePlatformVersion.LATEST,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            availability_zone_rebalancing=ecs.AvailabilityZoneRebalancing.ENABLED,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            enable_ecs_managed_tags=True,
            enable_execute_command=False,
        )
        self.scaling = self.service.auto_scale_task_count(min_capacity=min_tasks, max_capacity=max_tasks)
        self.scaling.scale_on_cpu_utilization("CpuScaling", target_utilization_percent=60,
                                              scale_in_cooldown=Duration.seconds(120),
                                              scale_out_cooldown=Duration.seconds(60))
        self.scaling.scale_on_memory_utilization("MemoryScaling", target_utilization_percent=70,
                                                 scale_in_cooldown=Duration.seconds(120),
                                                 scale_out_cooldown=Duration.seconds(60))
