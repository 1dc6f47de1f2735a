"""The cases of platform_spec/rules/stk_sqs.py (STK-SQS-001, STK-SQS-002, STK-SQS-003), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import by_name, props, without_tls_deny
from tests.policy.templates import queues, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-SQS-001": {"pass": template(queues()), "fail": template(queues(redrive=False))},
    "STK-SQS-002": {"pass": template(queues()), "fail": template(queues(tls=False))},
    # the worker scales on CPU only: the backlog of the queue is not followed
    "STK-SQS-003": {"pass": template(queues()), "fail": template(queues(scaling={
        "Type": "AWS::ApplicationAutoScaling::ScalingPolicy", "Properties": {
            "PolicyName": "cpu-fx", "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 60, "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}}}))},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "queue-without-dlq": (lambda t: by_name(t, "AWS::SQS::Queue", "QueueName", "intake-queue-test").pop(
        "RedrivePolicy"), "STK-SQS-001"),
    "queue-tls-policy-removed": (lambda t: [t["Resources"].pop(k) for k, v in list(t["Resources"].items())
                                            if v["Type"] == "AWS::SQS::QueuePolicy"], "STK-SQS-002"),
    "worker-scales-on-cpu-only": (lambda t: by_name(t, "AWS::ApplicationAutoScaling::ScalingPolicy", "PolicyName",
                                                     "worker-backlog-scaling-test").update(
        TargetTrackingScalingPolicyConfiguration={"TargetValue": 60, "PredefinedMetricSpecification": {
            "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}), "STK-SQS-003"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-SQS-001", "no DLQ", lambda p: props(p, "AWS::SQS::Queue", QueueName="intake-queue-test").pop(
        "RedrivePolicy")),
    ("STK-SQS-002", "TLS deny gone", lambda p: without_tls_deny(props(p, "AWS::SQS::QueuePolicy"), "PolicyDocument")),
]
