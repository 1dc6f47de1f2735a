"""Readers of Application Auto Scaling targets and policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import Call, MalformedAnswer, ReadContext, ask, need, only, pages, reader
from opscli.stack import Present


@reader("AWS::ApplicationAutoScaling::ScalableTarget", (Call("application-autoscaling:DescribeScalableTargets"),),
        "ServiceNamespace ResourceId ScalableDimension MinCapacity MaxCapacity")
def scalable_target(ctx: ReadContext, r: Present) -> dict[str, Any]:
    namespace = ctx.resolve(r.properties.get("ServiceNamespace"))
    resource_id = ctx.resolve(r.properties.get("ResourceId"))
    dimension = ctx.resolve(r.properties.get("ScalableDimension"))
    op = "DescribeScalableTargets"
    answer = ask(op, ctx.aws.client("application-autoscaling").describe_scalable_targets,
                 ServiceNamespace=namespace, ResourceIds=[resource_id], ScalableDimension=dimension)
    target = only(answer.get("ScalableTargets"), f"scalable target {resource_id}", op, by_id=False)
    return {"ServiceNamespace": namespace, "ResourceId": resource_id, "ScalableDimension": dimension,
            "MinCapacity": need(target, "MinCapacity", int, operation=op),
            "MaxCapacity": need(target, "MaxCapacity", int, operation=op)}


@reader("AWS::ApplicationAutoScaling::ScalingPolicy", (Call("application-autoscaling:DescribeScalingPolicies"),),
        "PolicyName PolicyType TargetTrackingScalingPolicyConfiguration")
def scaling_policy(ctx: ReadContext, r: Present) -> dict[str, Any]:
    target = ctx.scope.by_logical_id().get(_ref_target(r.properties.get("ScalingTargetId")) or "")
    if target is None:
        raise MalformedAnswer("the declared scaling policy's ScalingTargetId is not a target of this stack")
    namespace = ctx.resolve(target.properties.get("ServiceNamespace"))
    resource_id = ctx.resolve(target.properties.get("ResourceId"))
    name = ctx.resolve(r.properties.get("PolicyName"))
    op = "DescribeScalingPolicies"

    def every_policy_of_the_resource() -> list[Any]:
        every = pages(ctx.aws.client("application-autoscaling"), "describe_scaling_policies", op,
                      ServiceNamespace=namespace, ResourceId=resource_id)
        return [p for page in every for p in need(page, "ScalingPolicies", list, operation=op)]

    # One answer per scaled resource, shared by its policies (the stack gives one service three).
    policies = [p for p in ctx.once(op, f"{namespace} {resource_id}", every_policy_of_the_resource)
                if isinstance(p, Mapping) and p.get("PolicyName") == name]
    policy = only(policies, f"scaling policy {name}", op, by_id=False)
    props: dict[str, Any] = {"PolicyName": name, "PolicyType": need(policy, "PolicyType", str, operation=op)}
    if "TargetTrackingScalingPolicyConfiguration" in policy:
        props["TargetTrackingScalingPolicyConfiguration"] = policy["TargetTrackingScalingPolicyConfiguration"]
    return props


def _ref_target(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("Ref"), str):
        return value["Ref"]
    return None
