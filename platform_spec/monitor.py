"""The posture monitor's contract: what its stack (cdk_app), its runtime (opscli.monitor) and the local emulator
(localenv) agree on: names of its stack and outputs, its environment, its metric, the events it is sent (CloudTrail's
on EventBridge, and which services' ones) and the schedule's message. Each is defined here and nowhere else."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

STACK_PREFIX = "TapMonitor"  # CloudFormation stack name: TapMonitor<suffix>, beside TapStack<suffix>

# The Lambda function's environment (and the local consumer's defaults).
ENV_SUFFIX = "OPSCLI_MONITOR_SUFFIX"
ENV_BUCKET = "OPSCLI_MONITOR_BUCKET"
ENV_NAMESPACE = "OPSCLI_MONITOR_NAMESPACE"
ENV_DEAD_LETTER_QUEUE = "OPSCLI_MONITOR_DEAD_LETTER_QUEUE_URL"  # where the monitor dead-letters a message itself
ENV_MAX_RECEIVES = "OPSCLI_MONITOR_MAX_RECEIVES"  # the queue's maxReceiveCount: the last try of a message

# The queue's redrive: a message received this many times without being judged goes to the dead-letter queue. Five,
# the least AWS advises for a queue a Lambda event source mapping reads: a receive that ends in no judgement (the
# function's timeout, a batch returned for another try) counts, and fewer would set changes aside too soon.
MAX_RECEIVES = 5

# How a batch is gathered: the SQS event source mapping's settings, which the local consumer (opscli.monitor's
# __main__) mirrors. A batch closes when BATCH_WINDOW_SECONDS have passed since it began, when it holds BATCH_SIZE
# messages, or before the message that would take its payload past BATCH_PAYLOAD_BYTES, Lambda's limit on an
# invocation's payload, at which the mapping cuts a batch. Every change to one resource within a batch is one read
# (a storm is coalesced), so the batch is as large as AWS allows: 10,000 messages from a standard queue (more than
# 10 needs a window of at least a second).
BATCH_SIZE = 10_000
BATCH_WINDOW_SECONDS = 2
BATCH_PAYLOAD_BYTES = 6 * 1024 * 1024
# The SQS event source's range of windows, and the least window of a batch of more than SMALL_BATCH messages.
MAX_BATCH_WINDOW_SECONDS = 300
SMALL_BATCH = 10
LARGE_BATCH_MIN_WINDOW_SECONDS = 1

# A message the monitor dead-letters itself (poison, or a change still failing on its last receive) keeps its body
# and carries these message attributes: why, which message it was, its receives, and who sent it.
DEAD_LETTER_REASON = "reason"
DEAD_LETTER_MESSAGE_ID = "originalMessageId"
DEAD_LETTER_RECEIVE_COUNT = "receiveCount"
DEAD_LETTER_SOURCE = "source"
DEAD_LETTER_SENDER = "opscli-monitor"
HANDLER = "opscli.monitor.lambda_handler"
LOCAL_MODULE = "opscli.monitor"  # `python -m opscli.monitor --suffix S --queue-url URL ...`: the local consumer

# Failing findings by severity, and the severities whose first new finding pages the operator.
METRIC_NAMESPACE = "StreamTech/PostureMonitor"
METRIC_NAME = "FailingFindings"
METRIC_DIMENSION = "Severity"
ALARM_SEVERITIES = ("HIGH", "CRITICAL")
# What the alarm watches: failing HIGH and CRITICAL findings, one number (no dimension). A whole-stack run always
# puts it, 0 included (the evidence that clears the alarm); a run on some resources only when it found some.
ALARM_METRIC_NAME = "FailingHighOrCriticalFindings"
# The monitor's heartbeat, no dimension: one datum for each whole-stack run whose findings Security Hub took (the
# hourly schedule's, or an IAM change's), 1 when it gave every check a verdict, 0 when it could not (an ERROR, or
# reads cut short). Its alarm pages when no 1 came for HEARTBEAT_PERIODS schedule periods: the monitor does not run,
# cannot reach Security Hub, or runs blind.
HEARTBEAT_METRIC_NAME = "CompleteWholeStackRuns"
HEARTBEAT_PERIODS = 2

# The detail-type of every event CloudTrail puts on EventBridge for an API call (the emulator puts it too).
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
# The schedule's message on the queue: {"opscli-monitor": "schedule", "suffix": "<suffix>"}.
SCHEDULE_MARKER = "opscli-monitor"
SCHEDULE_KIND = "schedule"
SCHEDULE_SUFFIX = "suffix"
SCHEDULE_RATE = "rate(1 hour)"
# SCHEDULE_RATE's, in seconds (tests/unit/cdk_app/constructs/test_posture_monitor.py holds them equal)
SCHEDULE_PERIOD_SECONDS = 3600

# The stack's outputs (what localenv and the operator read).
OUTPUT_QUEUE_URL = "MonitorQueueUrl"
OUTPUT_DEAD_LETTER_QUEUE_URL = "MonitorDeadLetterQueueUrl"
OUTPUT_BUCKET = "MonitorBucketName"
OUTPUT_FUNCTION = "MonitorFunctionName"
OUTPUTS = (OUTPUT_QUEUE_URL, OUTPUT_DEAD_LETTER_QUEUE_URL, OUTPUT_BUCKET, OUTPUT_FUNCTION)

# CloudTrail names an event after the endpoint prefix of the API that was called (eventSource
# <prefix>.amazonaws.com), and puts it on EventBridge with the source aws.<prefix>. The prefix is CloudFormation's
# service namespace in lower case but for these (tests/unit/cdk_app/constructs/test_posture_monitor.py proves every
# namespace opscli reads against botocore's service models, whose endpoint prefixes the emulator's events use too).
_ENDPOINT_PREFIXES = {"CloudWatch": "monitoring", "ElasticLoadBalancingV2": "elasticloadbalancing",
                      "EFS": "elasticfilesystem", "ApplicationAutoScaling": "application-autoscaling"}
# Namespaces of types that are no AWS service's API (CDK's bookkeeping); Custom:: types are none either.
_NO_SERVICE = frozenset({"CDK"})
# The declaration itself: an update of TapStack<suffix> changes what every resource is judged against, so its
# CloudFormation events reach the monitor too (opscli.monitor runs the whole audit on one).
DECLARATION_TYPE = "AWS::CloudFormation::Stack"


def window_argument(text: str) -> float:
    """A command line's batching window in seconds (argparse's `type`), within the SQS event source's range; the
    batch size's own rule (`window_refused`) is the caller's, once it knows the batch size (localenv.monitor
    check_window from the template, then Deployed.with_window from the deployed mapping)."""
    import argparse

    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    refused = window_refused(seconds, 0)
    if refused:
        raise argparse.ArgumentTypeError(f"{text}: {refused}")
    return seconds


def window_refused(window: float, batch_size: int) -> str | None:
    """Why the SQS event source would refuse a batching window of `window` seconds for batches of `batch_size`
    messages, or None when it takes it."""
    if math.isnan(window) or not 0 <= window <= MAX_BATCH_WINDOW_SECONDS:
        return f"the window is 0 to {MAX_BATCH_WINDOW_SECONDS} seconds (the SQS event source's range)"
    if batch_size > SMALL_BATCH and window < LARGE_BATCH_MIN_WINDOW_SECONDS:
        return (f"a batch of more than {SMALL_BATCH} messages ({batch_size}) needs a window of at least "
                f"{LARGE_BATCH_MIN_WINDOW_SECONDS} s, as the SQS event source requires")
    return None


def window_text(seconds: float) -> str:
    """A batching window as a command line says it, every digit kept (1 for 1.0; 1.2345678 as it is, not
    rounded)."""
    return repr(float(seconds)).removesuffix(".0")


def stack_name(suffix: str) -> str:
    return f"{STACK_PREFIX}{suffix}"


def schedule_input(suffix: str) -> dict[str, str]:
    """The message the schedule puts on the queue: run the whole-stack audit of TapStack<suffix>."""
    return {SCHEDULE_MARKER: SCHEDULE_KIND, SCHEDULE_SUFFIX: suffix}


def schedule_body(suffix: str) -> str:
    return json.dumps(schedule_input(suffix), sort_keys=True)


def event_source(resource_type: str) -> str | None:
    """The EventBridge `source` of the CloudTrail events of the API that changes a resource of CloudFormation type
    `resource_type` (AWS::EC2::VPC -> aws.ec2, AWS::CloudWatch::Alarm -> aws.monitoring); None for a type that is
    no AWS service's."""
    parts = resource_type.split("::")
    if len(parts) != 3 or parts[0] != "AWS" or parts[1] in _NO_SERVICE:
        return None
    return f"aws.{_ENDPOINT_PREFIXES.get(parts[1], parts[1].lower())}"


def event_sources(resource_types: Iterable[str]) -> list[str]:
    """The sorted, distinct event sources of `resource_types`."""
    return sorted({s for t in resource_types if (s := event_source(t)) is not None})


def watched_sources(declared_types: Iterable[str]) -> list[str]:
    """What the monitor's rule matches for a stack declaring `declared_types`: the sources of their services and of
    the declaration's own (CloudFormation)."""
    return event_sources({*declared_types, DECLARATION_TYPE})
