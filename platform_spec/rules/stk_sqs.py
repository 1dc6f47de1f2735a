"""STK-SQS-001/002/003: the intake queues have a dead-letter queue, deny every request made without TLS, and the
workers that consume them scale on their backlog."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, as_int, is_true, ref_target
from platform_spec.result import Result
from platform_spec.rule import stack_rule
from platform_spec.rules.tls_policy import denies_insecure_transport, with_tls_deny

DLQ_ID = "STK-SQS-001"
QUEUE_TLS_ID = "STK-SQS-002"
BACKLOG_SCALING_ID = "STK-SQS-003"


def _metric(query: Any) -> Mapping[str, Any]:
    return as_dict(as_dict(as_dict(query).get("MetricStat")).get("Metric"))


def _dimensions(query: Any) -> list[dict[str, Any]]:
    dimensions = _metric(query).get("Dimensions")
    return [{"Name": as_dict(d).get("Name"), "Value": as_dict(d).get("Value")}
            for d in (dimensions if isinstance(dimensions, list) else [])]


def backlog_scaling(policy_type: Any, configuration: Any, queue_name: str) -> Result:
    """STK-SQS-003 for one scaling policy (a template's properties or DescribeScalingPolicies' answer, same
    shape): target tracking on `queue_name`'s visible messages divided by the running tasks."""
    if policy_type != "TargetTrackingScaling":
        return Result.fail(f"policy type {policy_type!r}, not target tracking")
    config = as_dict(configuration)
    queries = as_dict(config.get("CustomizedMetricSpecification")).get("Metrics")
    if not isinstance(queries, list):
        return Result.fail("no metric-math customized metric")
    visible = [q for q in queries if _metric(q).get("Namespace") == "AWS/SQS"
               and _metric(q).get("MetricName") == "ApproximateNumberOfMessagesVisible"
               and {"Name": "QueueName", "Value": queue_name} in _dimensions(q)]
    tasks = [q for q in queries if _metric(q).get("MetricName") == "RunningTaskCount"]
    if not visible:
        return Result.fail(f"does not read the visible messages of {queue_name}")
    if not tasks:
        return Result.fail("does not divide by the running task count")
    returned = [q for q in queries if is_true(as_dict(q).get("ReturnData"))]
    expression = str(as_dict(returned[0]).get("Expression", "")) if len(returned) == 1 else ""
    if not (str(as_dict(visible[0]).get("Id")) in expression and str(as_dict(tasks[0]).get("Id")) in expression):
        return Result.fail("the returned expression is not the backlog per task")
    target = config.get("TargetValue")
    if not isinstance(target, (int, float)) or target <= 0:
        return Result.fail(f"target value {target!r} is not a positive backlog per task")
    return Result.ok(f"target tracking: {expression} = {target:g} messages per task")


def any_backlog_scaling(policies: list[tuple[Any, Any]], queue_name: str) -> Result:
    """PASS when one of the (policy type, configuration) pairs scales on `queue_name`'s backlog per task."""
    results = [backlog_scaling(kind, config, queue_name) for kind, config in policies]
    passing = [r for r in results if not r.failed]
    if passing:
        return passing[0]
    reasons = "; ".join(sorted({r.reason for r in results})) or "no scaling policy at all"
    return Result.fail(f"no worker scaling policy follows the backlog of {queue_name} ({reasons})")


def queue_results(resources: Mapping[str, Any]) -> list[tuple[str, str, Result]]:
    """(rule id, queue logical id, result) for STK-SQS-001/002/003 over every queue of the template."""
    dead_letter_targets = set()
    for resource in resources.values():
        if resource.get("Type") == "AWS::SQS::Queue":
            redrive = as_dict(as_dict(resource.get("Properties")).get("RedrivePolicy"))
            dead_letter_targets.add(ref_target(redrive.get("deadLetterTargetArn")))
    policies: dict[str, Any] = {}
    for resource in resources.values():
        if resource.get("Type") == "AWS::SQS::QueuePolicy":
            props = as_dict(resource.get("Properties"))
            for queue in props.get("Queues", []) if isinstance(props.get("Queues"), list) else []:
                policies[ref_target(queue) or ""] = props.get("PolicyDocument")
    # A queue a Lambda function consumes (an event source mapping) is scaled on its backlog by Lambda itself.
    consumed = {ref_target(props.get("EventSourceArn")): props.get("FunctionName")
                for r in resources.values() if r.get("Type") == "AWS::Lambda::EventSourceMapping"
                for props in [as_dict(r.get("Properties"))]}
    scaling = [(as_dict(r.get("Properties")).get("PolicyType"),
                as_dict(r.get("Properties")).get("TargetTrackingScalingPolicyConfiguration"))
               for r in resources.values() if r.get("Type") == "AWS::ApplicationAutoScaling::ScalingPolicy"]
    results = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::SQS::Queue":
            continue
        redrive = as_dict(as_dict(resource.get("Properties")).get("RedrivePolicy"))
        if logical_id in dead_letter_targets:
            results.append((DLQ_ID, logical_id, Result.ok("is a dead-letter queue")))
        elif redrive.get("deadLetterTargetArn") and (as_int(redrive.get("maxReceiveCount")) or 0) >= 1:
            results.append((DLQ_ID, logical_id, Result.ok(
                f"dead-letter queue after {redrive['maxReceiveCount']} receives")))
            results.append((BACKLOG_SCALING_ID, logical_id, Result.ok(
                "consumed by a Lambda event source mapping: Lambda scales its pollers on the backlog")
                if logical_id in consumed else any_backlog_scaling(
                scaling, str(as_dict(resource.get("Properties")).get("QueueName")))))
        else:
            results.append((DLQ_ID, logical_id,
                            Result.fail("no dead-letter queue: a poison message is retried forever")))
        tls = denies_insecure_transport(policies.get(logical_id), "sqs")
        results.append((QUEUE_TLS_ID, logical_id, Result.ok("queue policy denies non-TLS requests") if tls else
                        Result.fail("no queue policy denying aws:SecureTransport=false", document=with_tls_deny(
                            policies.get(logical_id), "sqs:*", {"Fn::GetAtt": [logical_id, "Arn"]}))))
    return results


def _queue_rule(rule_id: str):
    return lambda resources: [(lid, result) for rid, lid, result in queue_results(resources) if rid == rule_id]


stack_rule(DLQ_ID, {"AWS::SQS::Queue"}, _queue_rule(DLQ_ID))
stack_rule(QUEUE_TLS_ID, {"AWS::SQS::QueuePolicy"}, _queue_rule(QUEUE_TLS_ID))
stack_rule(BACKLOG_SCALING_ID, {"AWS::ApplicationAutoScaling::ScalingPolicy",
                                "AWS::ApplicationAutoScaling::ScalableTarget", "AWS::Lambda::EventSourceMapping"},
           _queue_rule(BACKLOG_SCALING_ID))
