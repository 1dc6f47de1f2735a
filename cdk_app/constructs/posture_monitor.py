"""The posture monitor: CloudTrail's management events for the watched services and an hourly schedule feed one
queue; a Lambda function running opscli judges what each message names and imports the findings into Security
Hub, keeps each run's report in a bucket and counts failing findings in a metric whose HIGH and CRITICAL page the
alarm topic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ArnFormat, AssetHashType, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from cdk_app import monitor_code
from cdk_app.compliance import suppress
from cdk_app.config import AppConfig
from cdk_app.constructs.logs import encrypted_log_group, own_custom_resource_logs
from cdk_app.l1 import default_resource
from platform_spec import monitor

# One invocation judges one batch: a whole-stack audit takes seconds, so two minutes leave room for a slow API. The
# queue hides a message for six times the function's timeout, as Lambda advises for an SQS event source (it refuses
# a mapping whose function may run longer than the queue's visibility timeout); that also covers the batching
# window, during which the mapping already holds the batch's first messages. The local consumer holds a message for
# seconds only and renews it while its batch is in hand (opscli/monitor/__main__.py).
TIMEOUT = Duration.minutes(2)
VISIBILITY_TIMEOUT = Duration.minutes(12)
MAX_RECEIVES = monitor.MAX_RECEIVES  # then SQS moves the message to the dead-letter queue (if the monitor has not)
# Every change to one resource within a batch is read once (a storm is coalesced): the mapping gathers up to 10,000
# messages over 2 s (or 6 MB of payload, Lambda's own limit), not 10, at which Lambda would invoke at once. The
# first change of a window waits for it to close, so the window is most of the latency from a change to its finding
# (bench/README.md). The local consumer gathers its batches with the same three bounds (platform_spec.monitor).
BATCH_SIZE = monitor.BATCH_SIZE
BATCH_WINDOW = Duration.seconds(monitor.BATCH_WINDOW_SECONDS)
# Two invocations at a time at most (the reads of two runs never starve the account's API quotas), held by the
# mapping itself: an event source mapping does not count the function's reserved concurrency, so without this it
# polls with five and more, and every batch beyond the reserved two is throttled, which SQS counts as a receive
# (and, after MAX_RECEIVES, dead-letters a change nobody judged). MaximumConcurrency's least value is 2. The
# function's own reserved concurrency (Checkov CKV_AWS_115, cdk-nag's LambdaConcurrency) is kept at least as high,
# so the mapping's invocations are never throttled by it.
MAXIMUM_CONCURRENCY = 2
RESERVED_CONCURRENCY = MAXIMUM_CONCURRENCY
MEMORY_MB = 512
REPORT_DAYS = 400  # each run's report is evidence for a year's audit, and a month more to fetch it
RUNTIME = lambda_.Runtime.PYTHON_3_14  # the latest Python Lambda runs (cdk-nag AwsSolutions-L1)
ALARM_PERIOD = Duration.minutes(1)  # the shortest period of a metric of standard resolution
# The monitor's own alarms on AWS's metrics of its function and dead-letter queue: five minutes, a period in which
# Lambda's and SQS's one-minute data have surely arrived; any datum above 0 pages.
WATCH_PERIOD = Duration.minutes(5)
SCHEDULE_GROUP = "default"  # the schedule's group (a schedule names none: the account's default group)


@jsii.implements(events.IRuleTarget)
class QueueTarget:
    """A queue as a rule's target, with a dead-letter queue and a retry policy, that grants nothing: the construct
    writes the queues' and the key's statements itself (CDK's SqsQueue target would admit every rule of the
    account to a queue with a key of its own)."""

    def __init__(self, queue: sqs.IQueue, *, dead_letter_queue: sqs.IQueue, retry_attempts: int,
                 max_event_age: Duration) -> None:
        self.queue, self.dead_letter_queue = queue, dead_letter_queue
        self.retry_attempts, self.max_event_age = retry_attempts, max_event_age

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(
            arn=self.queue.queue_arn,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_retry_attempts=self.retry_attempts,
                maximum_event_age_in_seconds=int(self.max_event_age.to_seconds())))


class PostureMonitor(Construct):
    """Creates `self.key`, `self.queue`, `self.dead_letter_queue`, `self.rule`, `self.schedule`, `self.bucket`,
    `self.function`, `self.role`, `self.alarm` (failing HIGH and CRITICAL findings) and `self.watch` (the alarms
    on the monitor itself, by what they watch).

    `read_policies` are the managed policy documents `opscli iam-policy` prints for the watched stack (the reads its
    readers declare); the role holds them, the Security Hub import and what it needs for this construct's own
    queue, bucket, key, logs and metric, nothing else. `watched_sources` are the EventBridge sources of the watched
    stack's resource types.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, key: kms.IKey,
                 code: Path, layer: Path, read_policies: Sequence[Mapping[str, Any]],
                 watched_sources: Sequence[str], alarm_topic_arn: str) -> None:
        super().__init__(scope, construct_id)
        if not watched_sources:
            raise ValueError("the monitor watches no service: the watched stack declares no AWS resource type")
        stack = Stack.of(self)
        self.key = key
        self.dead_letter_queue = sqs.Queue(
            self, "DeadLetterQueue", queue_name=config.name("monitor-dead-letter"),
            encryption=sqs.QueueEncryption.KMS, encryption_master_key=key, data_key_reuse=Duration.hours(1),
            enforce_ssl=True, retention_period=Duration.days(14), removal_policy=RemovalPolicy.DESTROY)
        self.queue = sqs.Queue(
            self, "Queue", queue_name=config.name("monitor-events"),
            encryption=sqs.QueueEncryption.KMS, encryption_master_key=key, data_key_reuse=Duration.hours(1),
            enforce_ssl=True, visibility_timeout=VISIBILITY_TIMEOUT, retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVES),
            removal_policy=RemovalPolicy.DESTROY)

        # On change: CloudTrail's management events of the watched services, on this account's default bus.
        rule_name = config.name("monitor-changes")
        self.rule = events.Rule(
            self, "Changes", rule_name=rule_name,
            description=f"Changes to the services of {config.stack_name} reach the posture monitor",
            event_pattern=events.EventPattern(detail_type=[monitor.CLOUDTRAIL_DETAIL_TYPE],
                                              source=list(watched_sources)),
            targets=[QueueTarget(self.queue, dead_letter_queue=self.dead_letter_queue, retry_attempts=8,
                                 max_event_age=Duration.hours(24))])
        # The rule's ARN from its name, not its GetAtt: the key's policy names it, and the key would then wait for
        # the rule, which waits for the queue, which waits for the key.
        rule_arn = stack.format_arn(service="events", resource="rule", resource_name=rule_name)
        # EventBridge may send to the two queues for this rule only (the queue, and the target's dead-letter
        # queue for what it could not deliver): SQS sees the rule as aws:SourceArn. CDK's SqsQueue target is not
        # used: for a queue with a key of its own it admits every rule of the account (aws:SourceAccount).
        for queue in (self.queue, self.dead_letter_queue):
            queue.add_to_resource_policy(iam.PolicyStatement(
                sid="ChangesRuleSends", principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"], resources=[queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule_arn}}))
        # ... and SQS uses the key on EventBridge's behalf to encrypt what it sends. This account only, and not the
        # rule: AWS documents that aws:SourceArn, aws:SourceAccount and aws:SourceOrgID in a key policy are not
        # supported for EventBridge to an encrypted SNS topic (sns-key-management) and says nothing of SQS; CDK's
        # own SqsQueue target writes aws:SourceAccount here. A condition the call does not carry would drop every
        # event silently, and nothing here can prove it carries aws:SourceArn: the queues' policies above are
        # what hold EventBridge to the rule.
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowEventBridgeToEncryptedQueues", principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:GenerateDataKey*", "kms:Decrypt"], resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": stack.account}}))

        # On schedule: the whole-stack audit, which also sees what emits no event. The schedule's role may send to
        # the two queues and nothing else (a managed policy of this construct; the target's own grants would
        # write an inline one). Scheduler assumes it as the schedule's group (aws:SourceArn, since September
        # 2023) or, for accounts that kept the old form, as the schedule; both are named, by name (the schedule
        # names the role).
        schedule_name = config.name("monitor-schedule")
        sources = [stack.format_arn(service="scheduler", resource="schedule-group", resource_name=SCHEDULE_GROUP),
                   stack.format_arn(service="scheduler", resource="schedule",
                                    resource_name=f"{SCHEDULE_GROUP}/{schedule_name}")]
        self.schedule_role = iam.Role(
            self, "ScheduleRole", description="Sends the hourly audit to the posture monitor's queue",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com", conditions={
                "StringEquals": {"aws:SourceAccount": stack.account}, "ArnEquals": {"aws:SourceArn": sources}}))
        sends = iam.ManagedPolicy(self, "ScheduleSends", roles=[self.schedule_role],
                          description="The schedule sends to the monitor's queue (and dead-letters there)",
                          statements=[
                              iam.PolicyStatement(sid="SendToQueues", actions=["sqs:SendMessage"],
                                                  resources=[self.queue.queue_arn, self.dead_letter_queue.queue_arn]),
                              iam.PolicyStatement(sid="UseOwnKey", actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                                  resources=[key.key_arn])])
        self.schedule = scheduler.Schedule(
            self, "Schedule", schedule_name=schedule_name,
            description=f"The whole-stack audit of {config.stack_name}, hourly",
            schedule=scheduler.ScheduleExpression.expression(monitor.SCHEDULE_RATE), key=key,
            target=scheduler_targets.SqsSendMessage(
                self.queue, input=scheduler.ScheduleTargetInput.from_object(
                    monitor.schedule_input(config.environment_suffix)),
                dead_letter_queue=self.dead_letter_queue, retry_attempts=8, max_event_age=Duration.hours(1),
                role=self.schedule_role.without_policy_updates()))
        # The role's policy is a resource of its own: the schedule names only the role, so it waits for the policy.
        self.schedule.node.add_dependency(sends)

        # Each run's report, kept a year (evidence), encrypted with this stack's key, TLS only.
        self.bucket = s3.Bucket(
            self, "Reports",
            encryption=s3.BucketEncryption.KMS, encryption_key=key, bucket_key_enabled=True,
            enforce_ssl=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, versioned=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(REPORT_DAYS),
                                              abort_incomplete_multipart_upload_after=Duration.days(1),
                                              noncurrent_version_expiration=Duration.days(7))],
            auto_delete_objects=True, removal_policy=RemovalPolicy.DESTROY)
        # S3 names are global: a name per suffix would collide in the second account of a StackSet. The Name tag
        # carries {resource-type}-{suffix}; the stack's output gives the generated name.
        default_resource(self.bucket, s3.CfnBucket).tags.set_tag("Name", config.name("monitor-reports"))
        custom = self.bucket.node.try_find_child("AutoDeleteObjectsCustomResource")
        if custom is None:  # pragma: no cover - CDK internals moved
            raise RuntimeError("CDK's auto-delete-objects custom resource was not found; update posture_monitor.py")
        own_custom_resource_logs(custom, provider_type="Custom::S3AutoDeleteObjectsCustomResourceProvider",
                                 config=config, key=key)
        suppress(self.bucket, "STK-DEV-013", checkov=["CKV_AWS_18"], nag=["AwsSolutions-S1"] + [
            f"{pack}-S3BucketLoggingEnabled" for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")] + [
            f"{pack}-S3BucketReplicationEnabled" for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")])

        self.role = self._role(config, read_policies)
        log_group = encrypted_log_group(self, "Logs", config=config, key=key, name=config.name("log-monitor"))
        dependencies = lambda_.LayerVersion(
            self, "Dependencies", code=lambda_.Code.from_asset(str(layer)), compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="opscli's runtime dependencies, as requirements.lock pins them")
        self.function = lambda_.Function(
            self, "Function", function_name=config.name("monitor"), runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64, handler=monitor.HANDLER, code=self._code(code),
            layers=[dependencies], role=self.role, timeout=TIMEOUT, memory_size=MEMORY_MB,
            reserved_concurrent_executions=RESERVED_CONCURRENCY, log_group=log_group,
            description=f"The posture monitor of {config.stack_name}",
            environment={monitor.ENV_SUFFIX: config.environment_suffix,
                         monitor.ENV_BUCKET: self.bucket.bucket_name,
                         monitor.ENV_NAMESPACE: monitor.METRIC_NAMESPACE,
                         monitor.ENV_DEAD_LETTER_QUEUE: self.dead_letter_queue.queue_url,
                         monitor.ENV_MAX_RECEIVES: str(MAX_RECEIVES)})
        # The role's policies are resources of their own (the function names only the role): the function, and the
        # event source mapping, whose creation Lambda refuses unless the role may already receive from the queue,
        # wait for every one of them.
        self.function.node.add_dependency(*self.role_policies)
        suppress(self.function, "STK-DEV-014", checkov=["CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"], nag=[
            f"{pack}-{rule}" for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
            for rule in ("LambdaInsideVPC",)] + [
            f"{pack}-LambdaDLQ" for pack in ("HIPAA.Security", "NIST.800.53.R5")])
        self.event_source = lambda_.EventSourceMapping(
            self, "Events", target=self.function, event_source_arn=self.queue.queue_arn, batch_size=BATCH_SIZE,
            max_batching_window=BATCH_WINDOW, max_concurrency=MAXIMUM_CONCURRENCY, report_batch_item_failures=True)
        self.event_source.node.add_dependency(*self.role_policies)

        # The operator is paged once when failing HIGH and CRITICAL findings go from none to some, not again while
        # they persist: an alarm notifies on entering ALARM, and with missing data ignored it keeps its state
        # between runs (hourly, or a change's) instead of returning to OK and paging again at the next run that
        # still finds one. Only evidence clears it: a whole-stack run puts 0 (a run on some resources puts the
        # metric only when it found some: opscli.monitor.publish.alarming). Maximum over a minute: a run that finds
        # one is not hidden by another's 0 in the same minute.
        self.alarm = cw.Alarm(
            self, "FailingHighFindings",
            metric=cw.Metric(namespace=monitor.METRIC_NAMESPACE, metric_name=monitor.ALARM_METRIC_NAME,
                             statistic="Maximum", period=ALARM_PERIOD),
            threshold=0, comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1, datapoints_to_alarm=1, treat_missing_data=cw.TreatMissingData.IGNORE,
            alarm_description="The posture monitor found failing HIGH or CRITICAL findings where it had found none; "
                              "it returns to OK when a whole-stack run finds none")
        page = cw_actions.SnsAction(sns.Topic.from_topic_arn(self, "AlarmTopic", alarm_topic_arn))
        self.alarm.add_alarm_action(page)
        self.watch = self._watch_itself(page)

    @staticmethod
    def _code(code: Path) -> lambda_.Code:
        """The staged sources as the function's asset, named by our digest of them (a custom asset hash), not by
        CDK's fingerprint: the assembly cache names the asset of any sources without a synthesis and can swap the
        code of a cached assembly (cdk_app/assembly_cache.py). The digest covers every file the asset holds: the
        asset leaves out what the digest leaves out."""
        return lambda_.Code.from_asset(str(code), asset_hash_type=AssetHashType.CUSTOM,
                                       asset_hash=monitor_code.sources_hash(code),
                                       exclude=list(monitor_code.ASSET_EXCLUDE))

    def _watch_itself(self, page: cw_actions.SnsAction) -> dict[str, cw.Alarm]:
        """Alarms on the monitor itself, to the same topic: a monitor that stops judging must page, not fall silent.
        - a message in the dead-letter queue: a change the monitor could not judge (poison, or still unreadable on
          its last receive), or one EventBridge or the schedule could not deliver;
        - the function's Errors (an invocation that failed or timed out, its batch returned whole) and Throttles
          (none while the mapping stays within the reserved concurrency: one means the concurrency was cut);
        - no complete whole-stack run for HEARTBEAT_PERIODS schedule periods: the schedule, the function or the
          import stopped, or the role cannot read (opscli.monitor.handler.heartbeat puts 0 then). Missing data is
          breaching for this alarm only, since its absence is the news.
        The first three treat missing data as not breaching (AWS puts those metrics only when there is activity)."""
        def on_any_datum(construct_id: str, metric: cw.IMetric, description: str) -> cw.Alarm:
            return cw.Alarm(self, construct_id, metric=metric, threshold=0,
                            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD, evaluation_periods=1,
                            datapoints_to_alarm=1, treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                            alarm_description=description)

        alarms = {
            "dead-letters": on_any_datum(
                "DeadLetters", self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    statistic="Maximum", period=WATCH_PERIOD),
                "A message is in the posture monitor's dead-letter queue: a change it could not judge (the "
                "message's reason attribute says why) or could not be delivered to it"),
            "errors": on_any_datum(
                "FunctionErrors", self.function.metric_errors(statistic="Sum", period=WATCH_PERIOD),
                "The posture monitor's function failed or timed out on a batch: its log says why; the batch "
                "returns to the queue"),
            "throttles": on_any_datum(
                "FunctionThrottles", self.function.metric_throttles(statistic="Sum", period=WATCH_PERIOD),
                "The posture monitor's function was throttled: its reserved concurrency is below the event source "
                "mapping's maximum"),
            "heartbeat": cw.Alarm(
                self, "NoCompleteRun",
                metric=cw.Metric(namespace=monitor.METRIC_NAMESPACE, metric_name=monitor.HEARTBEAT_METRIC_NAME,
                                 statistic="Maximum", period=Duration.seconds(monitor.SCHEDULE_PERIOD_SECONDS)),
                threshold=1, comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                evaluation_periods=monitor.HEARTBEAT_PERIODS, datapoints_to_alarm=monitor.HEARTBEAT_PERIODS,
                treat_missing_data=cw.TreatMissingData.BREACHING,
                alarm_description=f"No complete whole-stack run of the posture monitor for "
                                  f"{monitor.HEARTBEAT_PERIODS * monitor.SCHEDULE_PERIOD_SECONDS // 60} minutes: its "
                                  "schedule, function or Security Hub import stopped, or its role cannot read"),
        }
        for alarm in alarms.values():
            alarm.add_alarm_action(page)
        return alarms

    def _role(self, config: AppConfig, read_policies: Sequence[Mapping[str, Any]]) -> iam.Role:
        """The function's role: the generated reads, each a managed policy as `opscli iam-policy` prints them, and
        one managed policy for the import and this construct's own resources."""
        stack = Stack.of(self)
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"The posture monitor of {config.stack_name}: reads, imports "
                                    "findings, nothing else")
        self.read_policies: list[iam.CfnManagedPolicy] = []
        for number, document in enumerate(read_policies, 1):
            # The document as printed, on the L1: the L2 would rewrite it (one-item lists, merged statements).
            reads = iam.CfnManagedPolicy(self, f"Reads{number}", roles=[role.role_name],
                                         description=f"opscli iam-policy --suffix {config.environment_suffix} "
                                                     f"({number} of {len(read_policies)})",
                                         policy_document=dict(document))
            # The whole generated document is excused, not a list of its ARNs: a test proves it equal to what
            # `opscli iam-policy` prints, so nothing hand-written can hide behind this suppression.
            suppress(reads, "STK-DEV-015", nag=["AwsSolutions-IAM5"])
            self.read_policies.append(reads)
        own = iam.ManagedPolicy(self, "Own", roles=[role], description="Security Hub import and the monitor's "
                                "own queue, bucket, key, logs and metric", statements=self.own_statements(config))
        suppress(own, "STK-DEV-014", nag=["AwsSolutions-IAM5"], applies_to=[
            "Resource::*", f"Resource::<{stack.get_logical_id(default_resource(self.bucket, s3.CfnBucket))}.Arn>/*",
            f"Resource::arn:{stack.partition}:logs:{stack.region}:<AWS::AccountId>:log-group:"
            f"{config.name('log-monitor')}:*"])
        self.role_policies: list[Construct] = [*self.read_policies, own]
        return role

    def own_statements(self, config: AppConfig) -> list[iam.PolicyStatement]:
        """What the monitor needs beyond the reads: import findings, consume its queue (the function's event source
        mapping, or the local consumer standing in for it, receives, deletes and returns messages), dead-letter a
        message itself with its reason (poison, or a change still failing on its last receive: SendMessage to its
        own dead-letter queue), write its reports, decrypt the queue's messages and encrypt its reports and
        dead letters with its key, write its logs, put its metric."""
        stack = Stack.of(self)
        product = stack.format_arn(service="securityhub", resource="product",
                                   resource_name=f"{stack.account}/default")
        log_group = stack.format_arn(service="logs", resource="log-group", resource_name=config.name("log-monitor"),
                                     arn_format=ArnFormat.COLON_RESOURCE_NAME)
        return [
            iam.PolicyStatement(sid="ImportFindings", actions=["securityhub:BatchImportFindings"],
                                resources=[product]),
            iam.PolicyStatement(sid="ConsumeQueue", actions=["sqs:ReceiveMessage", "sqs:DeleteMessage",
                                                             "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
                                resources=[self.queue.queue_arn]),
            iam.PolicyStatement(sid="DeadLetter", actions=["sqs:SendMessage"],
                                resources=[self.dead_letter_queue.queue_arn]),
            iam.PolicyStatement(sid="WriteReports", actions=["s3:PutObject"],
                                resources=[self.bucket.arn_for_objects("*")]),
            iam.PolicyStatement(sid="UseOwnKey", actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                resources=[self.key.key_arn]),
            iam.PolicyStatement(sid="WriteLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                resources=[f"{log_group}:*"]),
            # PutMetricData has no resource type: "*", held to the monitor's namespace by its condition key.
            iam.PolicyStatement(sid="PutMetric", actions=["cloudwatch:PutMetricData"], resources=["*"],
                                conditions={"StringEquals": {"cloudwatch:namespace": monitor.METRIC_NAMESPACE}}),
        ]

