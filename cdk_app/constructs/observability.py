"""Alarms on the signals an operator is paged for, published to one CMK-encrypted SNS topic."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_app.config import AppConfig
from cdk_app.constructs.intake import VideoIntake
from platform_spec.contract import METRIC_NAMESPACE as WORKLOAD_NAMESPACE  # the workloads' EMF metrics


class Observability(Construct):
    """Creates `self.topic` and `self.alarms` (name → Alarm)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, key: kms.IKey,
                 database: rds.DatabaseInstance, cache: elasticache.CfnReplicationGroup,
                 services: list[ecs.FargateService], rest_api: apigw.RestApi, intake: VideoIntake) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "AlarmTopic", topic_name=config.name("alarm-topic"), master_key=key,
                               enforce_ssl=True)
        # CloudWatch must be able to publish to the encrypted topic.
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        action = cw_actions.SnsAction(self.topic)
        five_min = Duration.minutes(5)
        node_ids = [f"{cache.replication_group_id}-{i:03d}" for i in range(1, config.redis_node_count + 1)]
        above = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
        specs: dict[str, tuple[cw.IMetric, float, cw.ComparisonOperator]] = {
            "DatabaseCpu": (database.metric_cpu_utilization(period=five_min), 80,
                            cw.ComparisonOperator.GREATER_THAN_THRESHOLD),
            "DatabaseFreeStorage": (database.metric_free_storage_space(period=five_min), 5 * 1024**3,
                                    cw.ComparisonOperator.LESS_THAN_THRESHOLD),
            "ApiServerErrors": (rest_api.metric_server_error(period=five_min, statistic="Sum"), 5,
                                cw.ComparisonOperator.GREATER_THAN_THRESHOLD),
            "ApiLatencyP99": (rest_api.metric_latency(period=five_min, statistic="p99"), 2000,
                              cw.ComparisonOperator.GREATER_THAN_THRESHOLD),
        }
        for node_id in node_ids:
            specs[f"RedisCpu{node_id[-3:]}"] = (
                cw.Metric(namespace="AWS/ElastiCache", metric_name="EngineCPUUtilization",
                          dimensions_map={"CacheClusterId": node_id}, period=five_min), 80,
                cw.ComparisonOperator.GREATER_THAN_THRESHOLD)
        for service in services:  # named by the workload construct the service is in (its parent)
            specs[f"Cpu{service.node.scopes[-2].node.id}"] = (
                service.metric_cpu_utilization(period=five_min), 90, cw.ComparisonOperator.GREATER_THAN_THRESHOLD)
        # The intake: uploads not draining, and videos the worker could not read (each one is a customer's file).
        specs["IntakeOldestMessageAge"] = (
            intake.queue.metric_approximate_age_of_oldest_message(period=five_min, statistic="Maximum"), 1800, above)
        specs["CacheBypassed"] = (
            cw.Metric(namespace=WORKLOAD_NAMESPACE, metric_name="CacheBypass", statistic="Sum", period=five_min,
                      dimensions_map={"service": "metadata-api"}), 100, above)
        self.alarms: dict[str, cw.Alarm] = {}
        for name, (metric, threshold, comparison) in specs.items():
            self._alarm(name, metric, threshold, comparison, action, periods=3, datapoints=2)
        # One rejected video is worth a look: the first datapoint alarms.
        self._alarm("DeadLetterMessages", intake.dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=five_min, statistic="Maximum"), 0, above, action, periods=1, datapoints=1)

    def _alarm(self, name: str, metric: cw.IMetric, threshold: float, comparison: cw.ComparisonOperator,
               action: cw_actions.SnsAction, *, periods: int, datapoints: int) -> None:
        alarm = cw.Alarm(self, name, metric=metric, threshold=threshold, comparison_operator=comparison,
                         evaluation_periods=periods, datapoints_to_alarm=datapoints,
                         treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
        alarm.add_alarm_action(action)
        self.alarms[name] = alarm
