"""Deployers of the network: VPC, subnets, route tables and routes, gateways, addresses, security groups and their
rules, flow logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localenv.deployers.base import DeployContext, deployer, tags


@deployer("AWS::EC2::VPC")
def vpc(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    ec2 = ctx.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock=p["CidrBlock"], TagSpecifications=[
        {"ResourceType": "vpc", "Tags": tags(p)}])["Vpc"]["VpcId"]
    for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
        if attribute in p:
            ec2.modify_vpc_attribute(VpcId=vpc_id, **{attribute: {"Value": str(p[attribute]).lower() == "true"}})
    default_sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                       {"Name": "group-name", "Values": ["default"]}])
    return vpc_id, {"VpcId": vpc_id, "CidrBlock": p["CidrBlock"],
                    "DefaultSecurityGroup": default_sg["SecurityGroups"][0]["GroupId"]}


@deployer("AWS::EC2::Subnet")
def subnet(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    subnet = ctx.client("ec2").create_subnet(VpcId=p["VpcId"], CidrBlock=p["CidrBlock"],
                                              AvailabilityZone=p["AvailabilityZone"], TagSpecifications=[
                                                  {"ResourceType": "subnet", "Tags": tags(p)}])["Subnet"]
    return subnet["SubnetId"], {"SubnetId": subnet["SubnetId"], "AvailabilityZone": p["AvailabilityZone"]}


@deployer("AWS::EC2::RouteTable")
def route_table(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    table = ctx.client("ec2").create_route_table(VpcId=p["VpcId"], TagSpecifications=[
        {"ResourceType": "route-table", "Tags": tags(p)}])["RouteTable"]["RouteTableId"]
    return table, {"RouteTableId": table}


@deployer("AWS::EC2::SubnetRouteTableAssociation")
def route_table_association(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    assoc = ctx.client("ec2").associate_route_table(RouteTableId=p["RouteTableId"], SubnetId=p["SubnetId"])
    return assoc["AssociationId"], {}


@deployer("AWS::EC2::InternetGateway")
def internet_gateway(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    igw = ctx.client("ec2").create_internet_gateway(TagSpecifications=[
        {"ResourceType": "internet-gateway", "Tags": tags(p)}])["InternetGateway"]["InternetGatewayId"]
    return igw, {"InternetGatewayId": igw}


@deployer("AWS::EC2::VPCGatewayAttachment")
def gateway_attachment(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    ctx.client("ec2").attach_internet_gateway(InternetGatewayId=p["InternetGatewayId"], VpcId=p["VpcId"])
    return f"{p['InternetGatewayId']}|{p['VpcId']}", {}


@deployer("AWS::EC2::EIP")
def eip(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    address = ctx.client("ec2").allocate_address(Domain="vpc", TagSpecifications=[
        {"ResourceType": "elastic-ip", "Tags": tags(p)}])
    return address["PublicIp"], {"AllocationId": address["AllocationId"], "PublicIp": address["PublicIp"]}


@deployer("AWS::EC2::NatGateway")
def nat_gateway(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    nat = ctx.client("ec2").create_nat_gateway(
        SubnetId=p["SubnetId"], AllocationId=p["AllocationId"],
        TagSpecifications=[{"ResourceType": "natgateway", "Tags": tags(p)}])
    return nat["NatGateway"]["NatGatewayId"], {}


@deployer("AWS::EC2::Route")
def route(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    target = {k: p[k] for k in ("GatewayId", "NatGatewayId") if p.get(k)}
    ctx.client("ec2").create_route(RouteTableId=p["RouteTableId"],
                                    DestinationCidrBlock=p["DestinationCidrBlock"], **target)
    return f"{p['RouteTableId']}|{p['DestinationCidrBlock']}", {}


@deployer("AWS::EC2::SecurityGroup")
def security_group(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    ec2 = ctx.client("ec2")
    group = ec2.create_security_group(
        GroupName=p.get("GroupName", lid), Description=p["GroupDescription"], VpcId=p["VpcId"],
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tags(p)}])["GroupId"]
    if "SecurityGroupEgress" in p:  # as CloudFormation does: declared egress replaces the default allow-all
        ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        if p["SecurityGroupEgress"]:
            ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[
                _permission(rule, "DestinationSecurityGroupId") for rule in p["SecurityGroupEgress"]])
    if p.get("SecurityGroupIngress"):
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
            _permission(rule, "SourceSecurityGroupId") for rule in p["SecurityGroupIngress"]])
    return group, {"GroupId": group}


@deployer("AWS::EC2::SecurityGroupIngress")
def security_group_ingress(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    ctx.client("ec2").authorize_security_group_ingress(GroupId=p["GroupId"], IpPermissions=[
        _permission(p, "SourceSecurityGroupId")])
    return f"{lid}", {}


@deployer("AWS::EC2::SecurityGroupEgress")
def security_group_egress(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    ec2 = ctx.client("ec2")
    # As CloudFormation does: a SecurityGroupEgress resource replaces the group's default allow-all egress
    # (aws-cdk #987 and #998; CDK relies on it for egress between security groups of allow_all_outbound=False
    # groups, whose template then declares no inline egress).
    group = ec2.describe_security_groups(GroupIds=[p["GroupId"]])["SecurityGroups"][0]
    default = [perm for perm in group.get("IpPermissionsEgress", []) if perm.get("IpProtocol") == "-1"
               and any(r.get("CidrIp") == "0.0.0.0/0" for r in perm.get("IpRanges", []))]
    if default:
        ec2.revoke_security_group_egress(GroupId=p["GroupId"], IpPermissions=[
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.authorize_security_group_egress(GroupId=p["GroupId"], IpPermissions=[
        _permission(p, "DestinationSecurityGroupId")])
    return f"{lid}", {}


@deployer("AWS::EC2::FlowLog")
def flow_log(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    flow = ctx.client("ec2").create_flow_logs(
        ResourceIds=[p["ResourceId"]], ResourceType=p["ResourceType"], TrafficType=p["TrafficType"],
        LogDestinationType="cloud-watch-logs", LogGroupName=p["LogGroupName"],
        DeliverLogsPermissionArn=p["DeliverLogsPermissionArn"],
        TagSpecifications=[{"ResourceType": "vpc-flow-log", "Tags": tags(p)}])
    return flow["FlowLogIds"][0], {}


def _permission(rule: Mapping[str, Any], peer_key: str) -> dict[str, Any]:
    """One CloudFormation security-group rule as an EC2 IpPermission."""
    permission: dict[str, Any] = {"IpProtocol": str(rule["IpProtocol"])}
    for key in ("FromPort", "ToPort"):
        if key in rule:
            permission[key] = int(rule[key])
    description = {"Description": rule["Description"]} if rule.get("Description") else {}
    if rule.get("CidrIp"):
        permission["IpRanges"] = [{"CidrIp": rule["CidrIp"], **description}]
    if rule.get("CidrIpv6"):
        permission["Ipv6Ranges"] = [{"CidrIpv6": rule["CidrIpv6"], **description}]
    if rule.get(peer_key):
        permission["UserIdGroupPairs"] = [{"GroupId": rule[peer_key], **description}]
    return permission
