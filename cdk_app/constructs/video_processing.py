"""The video-processing layer: the ECS cluster and the Fargate worker that mounts the EFS scratch space."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_app.compliance import INLINE_POLICY_RULES, suppress
from cdk_app.config import AppConfig
from cdk_app.constructs.workload import FargateWorkload, container_image
from platform_spec import contract

SCRATCH_MOUNT = contract.SCRATCH_MOUNT
# Acceptable backlog per task: ~10 videos of a few seconds each keeps the queue's wait under a minute or two.
BACKLOG_PER_TASK = 10


class VideoProcessing(Construct):
    """Creates `self.cluster` and `self.worker` (a FargateWorkload)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, key: kms.IKey, environment: dict[str, str],
                 secrets: dict[str, ecs.Secret], file_system_id: str, file_system_arn: str,
                 access_point_id: str, access_point_arn: str, queue_name: str) -> None:
        super().__init__(scope, construct_id)
        self.cluster = ecs.Cluster(
            self, "Cluster", cluster_name=config.name("ecs-cluster"), vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        self.worker = FargateWorkload(
            self, "Worker", config=config, name_key="video-processing", cluster=self.cluster, vpc=vpc,
            subnets=subnets, key=key, image=container_image("video_worker", config.video_image_uri),
            # Two jobs at once per 2-vCPU task: a job mostly waits on S3 and the database.
            environment={**environment, contract.SCRATCH_DIR: SCRATCH_MOUNT, contract.WORKER_CONCURRENCY: "2"},
            secrets=secrets,
            health_check="python3 -m services.video_worker.healthcheck || exit 1",
            cpu=2048, memory_mib=4096, min_tasks=2, max_tasks=20,
            # The longest the worker may need to finish the current video after SIGTERM (Fargate's maximum).
            stop_timeout=Duration.seconds(120),
        )
        self._scale_on_backlog(config, queue_name)
        task_definition = self.worker.task_definition
        task_definition.add_volume(
            name="scratch",
            efs_volume_configuration=ecs.EfsVolumeConfiguration(
                file_system_id=file_system_id,
                transit_encryption="ENABLED",
                authorization_config=ecs.AuthorizationConfig(access_point_id=access_point_id, iam="ENABLED"),
            ),
        )
        self.worker.container.add_mount_points(
            ecs.MountPoint(container_path=SCRATCH_MOUNT, source_volume="scratch", read_only=False))
        # IAM authorization: the task may mount and write only through the scratch access point.
        task_definition.add_to_task_role_policy(
            iam.PolicyStatement(
                actions=["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
                resources=[file_system_arn],
                conditions={"StringEquals": {"elasticfilesystem:AccessPointArn": access_point_arn}},
            )
        )
        task_policy = task_definition.task_role.node.find_child("DefaultPolicy")
        suppress(task_policy, "STK-DEV-007", nag=INLINE_POLICY_RULES)
        # Object-level reads need "<bucket ARN>/*": the ingest bucket's videos, nothing broader.
        suppress(task_policy, "STK-DEV-007", nag=["AwsSolutions-IAM5"],
                 applies_to=[{"regex": "/^Resource::<IntakeBucket[A-F0-9]+\\.Arn>\\/\\*$/g"}])

    def _scale_on_backlog(self, config: AppConfig, queue_name: str) -> None:
        """Target tracking on the queue's backlog per running task (messages visible / tasks running), the
        first signal; the workload's CPU and memory policies stay as the second. CDK's L2 takes no metric
        math for target tracking (aws-cdk#20659), so the policy is the L1 on the L2's scalable target."""
        target = self.worker.scaling.node.find_child("Target")
        if not isinstance(target, appscaling.ScalableTarget):  # pragma: no cover - CDK internals moved
            raise TypeError(f"{target.node.path} is not the ScalableTarget of CDK's task scaling; update "
                            "video_processing.py")
        metric = appscaling.CfnScalingPolicy.TargetTrackingMetricProperty
        query = appscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty
        stat = appscaling.CfnScalingPolicy.TargetTrackingMetricStatProperty
        dim = appscaling.CfnScalingPolicy.TargetTrackingMetricDimensionProperty
        appscaling.CfnScalingPolicy(
            self, "BacklogScaling", policy_name=config.name("worker-backlog-scaling"),
            policy_type="TargetTrackingScaling", scaling_target_id=target.scalable_target_id,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy
            .TargetTrackingScalingPolicyConfigurationProperty(
                target_value=BACKLOG_PER_TASK, scale_in_cooldown=180, scale_out_cooldown=60,
                customized_metric_specification=appscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                    metrics=[
                        query(id="visible", return_data=False, metric_stat=stat(stat="Average", metric=metric(
                            namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
                            dimensions=[dim(name="QueueName", value=queue_name)]))),
                        query(id="tasks", return_data=False, metric_stat=stat(stat="Average", metric=metric(
                            namespace="ECS/ContainerInsights", metric_name="RunningTaskCount",
                            # literal names (deterministic): the policy reads as what it watches
                            dimensions=[dim(name="ClusterName", value=config.name("ecs-cluster")),
                                        dim(name="ServiceName", value=config.name("video-processing"))]))),
                        query(id="backlog_per_task", label="Intake messages per running worker task",
                              expression="visible / IF(tasks > 0, tasks, 1)", return_data=True),
                    ])))
