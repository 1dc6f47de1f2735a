"""Readers of the internal load balancer, listener and target group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import ATTRIBUTES, Call, ReadContext, ask, boolean_text, need, only, reader, tag_list
from opscli.stack import Present

DESCRIBE_TAGS = Call("elbv2:DescribeTags")


def _elb_tags(ctx: ReadContext, arn: str) -> list[dict[str, str]]:
    answer = ask("DescribeTags", ctx.aws.client("elbv2").describe_tags, ResourceArns=[arn])
    described = only(need(answer, "TagDescriptions", list, operation="DescribeTags"), f"tags of {arn}",
                     "DescribeTags", by_id=True)
    return tag_list(need(described, "Tags", list, operation="DescribeTags"))


@reader("AWS::ElasticLoadBalancingV2::LoadBalancer", (Call("elbv2:DescribeLoadBalancers"),
                                                      Call("elbv2:DescribeLoadBalancerAttributes"),
                                                      DESCRIBE_TAGS),
        "Name Scheme Type Subnets SecurityGroups LoadBalancerAttributes Tags",
        derived=lambda p: {"LoadBalancerArn": p.id})
def load_balancer(ctx: ReadContext, r: Present) -> dict[str, Any]:
    elb = ctx.aws.client("elbv2")
    op = "DescribeLoadBalancers"
    answer = ask(op, elb.describe_load_balancers, "LoadBalancerNotFound", LoadBalancerArns=[r.physical_id])
    lb = only(answer.get("LoadBalancers"), f"load balancer {r.physical_id}", op, by_id=True)
    attributes = ask("DescribeLoadBalancerAttributes", elb.describe_load_balancer_attributes,
                     LoadBalancerArn=r.physical_id)
    return {ATTRIBUTES: {"DNSName": lb.get("DNSName"),
                         "LoadBalancerFullName": r.physical_id.split("loadbalancer/")[-1]},
            "Name": need(lb, "LoadBalancerName", str, operation=op), "Scheme": need(lb, "Scheme", str, operation=op),
            "Tags": _elb_tags(ctx, r.physical_id),
            "Type": need(lb, "Type", str, operation=op),
            "Subnets": sorted(z["SubnetId"] for z in lb.get("AvailabilityZones", []) if "SubnetId" in z),
            "SecurityGroups": sorted(lb.get("SecurityGroups", [])),
            # Only the attributes the stack sets: the rest are AWS's defaults, not part of the declaration.
            "LoadBalancerAttributes": [a for a in _attributes(attributes)
                                       if isinstance(a, Mapping) and a.get("Key") in _declared_keys(r)]}


def _attributes(answer: Mapping[str, Any]) -> list[Any]:
    """The answer's Key/Value attributes, each boolean one ("….enabled") exactly "true" or "false": the values are
    strings, which the answer check cannot hold to a boolean's spelling, and a rule compares them as strings."""
    op = "DescribeLoadBalancerAttributes"
    attributes = need(answer, "Attributes", list, operation=op)
    for attribute in attributes:
        if isinstance(attribute, Mapping) and str(attribute.get("Key", "")).endswith(".enabled"):
            boolean_text(attribute.get("Value"), str(attribute["Key"]), op)
    return attributes


def _declared_keys(r: Present) -> set[str]:
    return {str(a.get("Key")) for a in r.properties.get("LoadBalancerAttributes", []) if isinstance(a, Mapping)}


@reader("AWS::ElasticLoadBalancingV2::Listener", (Call("elbv2:DescribeListeners"),),
        "LoadBalancerArn Port Protocol DefaultActions")
def listener(ctx: ReadContext, r: Present) -> dict[str, Any]:
    op = "DescribeListeners"
    answer = ask(op, ctx.aws.client("elbv2").describe_listeners, "ListenerNotFound", ListenerArns=[r.physical_id])
    found = only(answer.get("Listeners"), f"listener {r.physical_id}", op, by_id=True)
    return {"LoadBalancerArn": need(found, "LoadBalancerArn", str, operation=op),
            "Port": need(found, "Port", int, operation=op), "Protocol": need(found, "Protocol", str, operation=op),
            "DefaultActions": [{k: v for k, v in a.items() if k in ("Type", "TargetGroupArn")}
                               for a in found.get("DefaultActions", [])]}


@reader("AWS::ElasticLoadBalancingV2::TargetGroup", (Call("elbv2:DescribeTargetGroups"), DESCRIBE_TAGS),
        "Name Port Protocol TargetType VpcId HealthCheckProtocol HealthCheckPath HealthCheckIntervalSeconds "
        "HealthyThresholdCount UnhealthyThresholdCount Tags", derived=lambda p: {"TargetGroupArn": p.id})
def target_group(ctx: ReadContext, r: Present) -> dict[str, Any]:
    op = "DescribeTargetGroups"
    answer = ask(op, ctx.aws.client("elbv2").describe_target_groups, "TargetGroupNotFound",
                 TargetGroupArns=[r.physical_id])
    found = only(answer.get("TargetGroups"), f"target group {r.physical_id}", op, by_id=True)
    props = {"Name": need(found, "TargetGroupName", str, operation=op), "Tags": _elb_tags(ctx, r.physical_id)}
    for key in ("Port", "Protocol", "TargetType", "VpcId", "HealthCheckProtocol", "HealthCheckPath",
                "HealthCheckIntervalSeconds", "HealthyThresholdCount", "UnhealthyThresholdCount"):
        if key in found:
            props[key] = found[key]
    return props
