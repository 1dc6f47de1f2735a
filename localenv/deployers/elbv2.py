"""Deployers of the load balancer, its target groups and listeners."""

from __future__ import annotations

from localenv.deployers.base import DeployContext, deployer, tags


@deployer("AWS::ElasticLoadBalancingV2::LoadBalancer")
def load_balancer(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    lb = ctx.client("elbv2").create_load_balancer(
        Name=p["Name"], Subnets=p["Subnets"], SecurityGroups=p.get("SecurityGroups", []),
        Scheme=p.get("Scheme", "internal"), Type=p.get("Type", "network"), Tags=tags(p))["LoadBalancers"][0]
    if p.get("LoadBalancerAttributes"):
        ctx.client("elbv2").modify_load_balancer_attributes(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Attributes=[{"Key": a["Key"], "Value": str(a["Value"])} for a in p["LoadBalancerAttributes"]])
    return lb["LoadBalancerArn"], {"DNSName": lb["DNSName"], "LoadBalancerArn": lb["LoadBalancerArn"],
                                   "LoadBalancerFullName": lb["LoadBalancerArn"].split("loadbalancer/")[-1]}


@deployer("AWS::ElasticLoadBalancingV2::TargetGroup")
def target_group(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    group = ctx.client("elbv2").create_target_group(
        Name=p["Name"], Protocol=p["Protocol"], Port=int(p["Port"]), VpcId=p["VpcId"],
        TargetType=p.get("TargetType", "ip"), Tags=tags(p),
        **{k: (int(p[k]) if k.endswith(("Seconds", "Count")) else p[k])
           for k in ("HealthCheckProtocol", "HealthCheckPath", "HealthCheckIntervalSeconds",
                     "HealthyThresholdCount", "UnhealthyThresholdCount") if k in p})["TargetGroups"][0]
    return group["TargetGroupArn"], {"TargetGroupFullName": group["TargetGroupArn"].split(":")[-1],
                                     "TargetGroupName": group["TargetGroupName"]}


@deployer("AWS::ElasticLoadBalancingV2::Listener")
def listener(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    listener = ctx.client("elbv2").create_listener(
        LoadBalancerArn=p["LoadBalancerArn"], Protocol=p["Protocol"], Port=int(p["Port"]),
        DefaultActions=[{"Type": a["Type"], "TargetGroupArn": a["TargetGroupArn"]} for a in p["DefaultActions"]])
    return listener["Listeners"][0]["ListenerArn"], {}
