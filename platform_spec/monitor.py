"""The posture monitor's contract: what its stack (cdk_app), its runtime (opscli.monitor) and the local emulator
(localenv) agree on: names of its stack and outputs, its environment, its metric, the events it is sent (CloudTrail's
on EventBridge, and which services' ones) and the schedule's message. Each is defined here and nowhere else."""

from __future__ import annotations

import json

STACK_PREFIX = "TapMonitor"  # CloudFormation stack name: TapMonitor<suffix>, beside TapStack<suffix>

# The Lambda function's environment (and the local consumer's defaults).
ENV_SUFFIX = "OPSCLI_MONITOR_SUFFIX"
ENV_BUCKET = "OPSCLI_MONITOR_BUCKET"
ENV_NAMESPACE = "OPSCLI_MONITOR_NAMESPACE"
HANDLER = "opscli.monitor.lambda_handler"
LOCAL_MODULE = "opscli.monitor"  # `python -m opscli.monitor --suffix S --queue-url URL ...`: the local consumer

# Failing findings by severity, and the severities whose first new finding pages the operator.
METRIC_NAMESPACE = "StreamTech/PostureMonitor"
METRIC_NAME = "FailingFindings"
METRIC_DIMENSION = "Severity"
ALARM_SEVERITIES = ("HIGH", "CRITICAL")

# The detail-type of every event CloudTrail puts on EventBridge for an API call (the emulator puts it too).
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
# The schedule's message on the queue: {"opscli-monitor": "schedule", "suffix": "<suffix>"}.
SCHEDULE_MARKER = "opscli-monitor"
SCHEDULE_KIND = "schedule"
SCHEDULE_SUFFIX = "suffix"
SCHEDULE_RATE = "rate(1 hour)"

# The stack's outputs (what localenv and the operator read).
OUTPUT_QUEUE_URL = "MonitorQueueUrl"
OUTPUT_DEAD_LETTER_QUEUE_URL = "MonitorDeadLetterQueueUrl"
OUTPUT_BUCKET = "MonitorBucketName"
OUTPUT_FUNCTION = "MonitorFunctionName"
OUTPUTS = (OUTPUT_QUEUE_URL, OUTPUT_DEAD_LETTER_QUEUE_URL, OUTPUT_BUCKET, OUTPUT_FUNCTION)

# CloudFormation's service namespace -> the `source` of its events on EventBridge, where it is not "aws." plus the
# namespace in lower case. Types that are no AWS service (CDK's bookkeeping, custom resources) have none.
_EVENT_SOURCES = {"ElasticLoadBalancingV2": "aws.elasticloadbalancing", "EFS": "aws.elasticfilesystem",
                  "ApplicationAutoScaling": "aws.application-autoscaling", "CDK": None}


def stack_name(suffix: str) -> str:
    return f"{STACK_PREFIX}{suffix}"


def schedule_input(suffix: str) -> dict[str, str]:
    """The message the schedule puts on the queue: run the whole-stack audit of TapStack<suffix>."""
    return {SCHEDULE_MARKER: SCHEDULE_KIND, SCHEDULE_SUFFIX: suffix}


def schedule_body(suffix: str) -> str:
    return json.dumps(schedule_input(suffix), sort_keys=True)


def event_source(resource_type: str) -> str | None:
    """The EventBridge `source` of the CloudTrail events that change a resource of CloudFormation type
    `resource_type` (AWS::EC2::VPC -> aws.ec2); None for a type that is no AWS service."""
    parts = resource_type.split("::")
    if len(parts) != 3 or parts[0] != "AWS":
        return None
    namespace = parts[1]
    return _EVENT_SOURCES[namespace] if namespace in _EVENT_SOURCES else f"aws.{namespace.lower()}"


def event_sources(resource_types: set[str] | frozenset[str] | list[str]) -> list[str]:
    """The sorted, distinct event sources of `resource_types`."""
    return sorted({s for t in resource_types if (s := event_source(t)) is not None})
