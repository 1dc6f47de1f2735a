"""Deployers of Application Auto Scaling's scalable targets and scaling policies (the services' task counts)."""

from __future__ import annotations

from localenv.deployers.base import DeployContext, deployer


@deployer("AWS::ApplicationAutoScaling::ScalableTarget")
def scalable_target(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    ctx.client("application-autoscaling").register_scalable_target(
        ServiceNamespace=p["ServiceNamespace"], ResourceId=p["ResourceId"],
        ScalableDimension=p["ScalableDimension"], MinCapacity=int(p["MinCapacity"]),
        MaxCapacity=int(p["MaxCapacity"]))
    return f"{p['ResourceId']}|{p['ScalableDimension']}|{p['ServiceNamespace']}", {}


@deployer("AWS::ApplicationAutoScaling::ScalingPolicy")
def scaling_policy(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    namespace = p.get("ServiceNamespace") or "ecs"
    resource_id, dimension = p.get("ResourceId"), p.get("ScalableDimension")
    if "ScalingTargetId" in p:
        resource_id, dimension, namespace = p["ScalingTargetId"].split("|")
    config = dict(p["TargetTrackingScalingPolicyConfiguration"])
    ctx.client("application-autoscaling").put_scaling_policy(
        PolicyName=p["PolicyName"], ServiceNamespace=namespace, ResourceId=resource_id,
        ScalableDimension=dimension, PolicyType=p["PolicyType"], TargetTrackingScalingPolicyConfiguration=config)
    return p["PolicyName"], {}
