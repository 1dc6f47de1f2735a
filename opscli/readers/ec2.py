"""Readers of the network: VPC, subnets, security groups, routing, flow log, NAT."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opscli.readers.base import (
    ATTRIBUTES,
    FACTS,
    UNDECLARED,
    Call,
    NotFound,
    ReadContext,
    ask,
    need,
    no_reader,
    one_of_all,
    only,
    reader,
    resolved,
    tag_list,
)
from opscli.stack import Declared, Present
from platform_spec.result import CouldNotLook

DESCRIBE_SECURITY_GROUPS = Call("ec2:DescribeSecurityGroups")
DESCRIBE_ROUTE_TABLES = Call("ec2:DescribeRouteTables")

no_reader("AWS::EC2::VPCGatewayAttachment", "attachment only; the routes through the internet gateway are read")
no_reader("Custom::VpcRestrictDefaultSG", "a deployment-time custom resource; the default security group it empties is "
                                          "not declared by the stack")


def _ec2_page(ctx: ReadContext, method: str, operation: str, filter_name: str, key: str
              ) -> Callable[[list[str], str | None], tuple[Any, str | None]]:
    """One page of an EC2 Describe* by id filter (a filter leaves out an id that does not exist, where the ids
    parameter would fail the whole call)."""
    def page(ids: list[str], token: str | None) -> tuple[Any, str | None]:
        kwargs: dict[str, Any] = {"Filters": [{"Name": filter_name, "Values": ids}]}
        if token:
            kwargs["NextToken"] = token
        answer = ask(operation, getattr(ctx.aws.client("ec2"), method), **kwargs)
        return answer.get(key), answer.get("NextToken")
    return page


def _matching_rule(ctx: ReadContext, standalone: Declared | Present,
                   rules: list[dict[str, Any]]) -> dict[str, Any] | None:
    declared = {k: ctx.resolve(v) for k, v in standalone.properties.items() if k not in ("GroupId", "Description")}
    return next((rule for rule in rules if all(str(rule.get(k)) == str(v) for k, v in declared.items())), None)


def _rules(permissions: Any, direction: str) -> list[dict[str, Any]]:
    """IpPermissions in CloudFormation's rule-per-peer shape (SecurityGroupIngress / SecurityGroupEgress)."""
    peer = "SourceSecurityGroupId" if direction == "ingress" else "DestinationSecurityGroupId"
    rules = []
    for perm in permissions if isinstance(permissions, list) else []:
        base = {"IpProtocol": str(perm.get("IpProtocol"))}
        if "FromPort" in perm:
            base["FromPort"] = perm["FromPort"]
        if "ToPort" in perm:
            base["ToPort"] = perm["ToPort"]
        for key, item_key, out in (("IpRanges", "CidrIp", "CidrIp"), ("Ipv6Ranges", "CidrIpv6", "CidrIpv6"),
                                ("UserIdGroupPairs", "GroupId", peer), ("PrefixListIds", "PrefixListId",
                                                                        "DestinationPrefixListId")):
            for item in perm.get(key, []) or []:
                rule = {**base, out: item.get(item_key)}
                if item.get("Description"):
                    rule["Description"] = item["Description"]
                rules.append(rule)
    return rules


@reader("AWS::EC2::SecurityGroup", (DESCRIBE_SECURITY_GROUPS,),
        "GroupName GroupDescription VpcId SecurityGroupIngress SecurityGroupEgress Tags",
        derived=lambda p: {"GroupId": p.id})
def security_group(ctx: ReadContext, r: Present) -> dict[str, Any]:
    op = "DescribeSecurityGroups"
    group = one_of_all(ctx, op, "AWS::EC2::SecurityGroup", r.physical_id, "security group", "GroupId",
                       _ec2_page(ctx, "describe_security_groups", op, "group-id", "SecurityGroups"))
    props = {"GroupName": need(group, "GroupName", str, operation=op),
             "GroupDescription": need(group, "Description", str, operation=op),
             "VpcId": group.get("VpcId"),
             "SecurityGroupIngress": _rules(need(group, "IpPermissions", list, operation=op), "ingress"),
             "SecurityGroupEgress": _rules(need(group, "IpPermissionsEgress", list, operation=op), "egress"),
             "Tags": tag_list(group.get("Tags", []))}
    if r.type == "AWS::EC2::SecurityGroup":
        # Rules the stack declares as their own resources (SecurityGroupIngress / Egress) are read as those.
        for kind, key in (("AWS::EC2::SecurityGroupIngress", "SecurityGroupIngress"),
                          ("AWS::EC2::SecurityGroupEgress", "SecurityGroupEgress")):
            for standalone in ctx.scope.of_type(kind):
                if _resolves_to(ctx, standalone.properties.get("GroupId"), r.physical_id):
                    rule = _matching_rule(ctx, standalone, props[key])
                    if rule is not None:
                        props[key].remove(rule)
    return props


def _resolves_to(ctx: ReadContext, value: Any, expected: Any) -> bool:
    try:
        return ctx.resolve(value) == expected
    except Exception:  # noqa: BLE001 - an unresolvable reference is simply not this group
        return False


def _standalone_rule(ctx: ReadContext, r: Present, direction: str) -> dict[str, Any]:
    group_id = ctx.resolve(r.properties.get("GroupId"))
    if not isinstance(group_id, str) or not group_id:
        raise CouldNotLook(f"the rule's GroupId resolves to {group_id!r}, not a security group's id")
    group = security_group(ctx, Declared(r.logical_id, "standalone rule", group_id, "CREATE_COMPLETE").as_present())
    key = "SecurityGroupIngress" if direction == "ingress" else "SecurityGroupEgress"
    rule = _matching_rule(ctx, r, group[key])
    if rule is None:
        raise NotFound(f"no {direction} rule of {group_id} matches the declared one")
    return {"GroupId": group_id, **rule}


@reader("AWS::EC2::SecurityGroupIngress", (DESCRIBE_SECURITY_GROUPS,),
        "GroupId IpProtocol FromPort ToPort SourceSecurityGroupId CidrIp CidrIpv6 Description")
def security_group_ingress(ctx: ReadContext, r: Present) -> dict[str, Any]:
    return _standalone_rule(ctx, r, "ingress")


@reader("AWS::EC2::SecurityGroupEgress", (DESCRIBE_SECURITY_GROUPS,),
        "GroupId IpProtocol FromPort ToPort DestinationSecurityGroupId CidrIp CidrIpv6 Description")
def security_group_egress(ctx: ReadContext, r: Present) -> dict[str, Any]:
    return _standalone_rule(ctx, r, "egress")


@reader("AWS::EC2::VPC", (Call("ec2:DescribeVpcs"),
                          Call("ec2:DescribeVpcAttribute", ("arn:aws:ec2:{region}:{account}:vpc/*",)),
                          DESCRIBE_SECURITY_GROUPS),
        "CidrBlock InstanceTenancy EnableDnsSupport EnableDnsHostnames Tags", derived=lambda p: {"VpcId": p.id})
def vpc(ctx: ReadContext, r: Present) -> dict[str, Any]:
    ec2 = ctx.aws.client("ec2")
    answer = ask("DescribeVpcs", ec2.describe_vpcs, "InvalidVpcID.NotFound", VpcIds=[r.physical_id])
    found = only(answer.get("Vpcs"), f"VPC {r.physical_id}", "DescribeVpcs", by_id=True)
    props = {"CidrBlock": need(found, "CidrBlock", str, operation="DescribeVpcs"),
             "InstanceTenancy": found.get("InstanceTenancy", "default"), "Tags": tag_list(found.get("Tags", []))}
    for attribute, name in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        value = ask("DescribeVpcAttribute", ec2.describe_vpc_attribute, VpcId=r.physical_id, Attribute=attribute)
        props[name] = need(need(value, name, Mapping, operation="DescribeVpcAttribute"), "Value", bool,
                           operation="DescribeVpcAttribute")
    default = ask("DescribeSecurityGroups", ec2.describe_security_groups, Filters=[
        {"Name": "vpc-id", "Values": [r.physical_id]}, {"Name": "group-name", "Values": ["default"]}])
    groups = default.get("SecurityGroups") or []
    if len(groups) == 1 and isinstance(groups[0], Mapping) and "GroupId" in groups[0]:
        props[ATTRIBUTES] = {"DefaultSecurityGroup": groups[0]["GroupId"], "CidrBlock": props["CidrBlock"]}
    return props


@reader("AWS::EC2::Subnet", (Call("ec2:DescribeSubnets"),), "VpcId CidrBlock AvailabilityZone MapPublicIpOnLaunch Tags",
        derived=lambda p: {"SubnetId": p.id})
def subnet(ctx: ReadContext, r: Present) -> dict[str, Any]:
    op = "DescribeSubnets"
    found = one_of_all(ctx, op, "AWS::EC2::Subnet", r.physical_id, "subnet", "SubnetId",
                       _ec2_page(ctx, "describe_subnets", op, "subnet-id", "Subnets"))
    return {"VpcId": need(found, "VpcId", str, operation=op), "CidrBlock": need(found, "CidrBlock", str, operation=op),
            "AvailabilityZone": need(found, "AvailabilityZone", str, operation=op),
            "MapPublicIpOnLaunch": need(found, "MapPublicIpOnLaunch", bool, operation=op),
            "Tags": tag_list(found.get("Tags", []))}


@reader("AWS::EC2::FlowLog", (Call("ec2:DescribeFlowLogs"),),
        "ResourceId ResourceType TrafficType LogDestinationType LogGroupName DeliverLogsPermissionArn Tags")
def flow_log(ctx: ReadContext, r: Present) -> dict[str, Any]:
    op = "DescribeFlowLogs"
    answer = ask(op, ctx.aws.client("ec2").describe_flow_logs, FlowLogIds=[r.physical_id])
    found = only(answer.get("FlowLogs"), f"flow log {r.physical_id}", op, by_id=False)
    resource = need(found, "ResourceId", str, operation=op)
    props = {"ResourceId": resource, "TrafficType": need(found, "TrafficType", str, operation=op),
             "ResourceType": {"vpc": "VPC", "subnet": "Subnet", "eni": "NetworkInterface"}.get(
                 resource.split("-", 1)[0], "VPC"),
             "LogDestinationType": found.get("LogDestinationType", "cloud-watch-logs"),
             "Tags": tag_list(found.get("Tags", []))}
    for key in ("LogGroupName", "DeliverLogsPermissionArn"):
        if key in found:
            props[key] = found[key]
    return props


def _route_table(ctx: ReadContext, table_id: str) -> Mapping[str, Any]:
    op = "DescribeRouteTables"
    return one_of_all(ctx, op, "AWS::EC2::RouteTable", table_id, "route table", "RouteTableId",
                      _ec2_page(ctx, "describe_route_tables", op, "route-table-id", "RouteTables"))


@reader("AWS::EC2::RouteTable", (DESCRIBE_ROUTE_TABLES,), "VpcId Tags", derived=lambda p: {"RouteTableId": p.id})
def route_table(ctx: ReadContext, r: Present) -> dict[str, Any]:
    table = _route_table(ctx, r.physical_id)
    declared = {resolved(ctx, d.properties.get("DestinationCidrBlock")) for d in ctx.scope.of_type("AWS::EC2::Route")
                if resolved(ctx, d.properties.get("RouteTableId")) == r.physical_id}
    endpoints = {resolved(ctx, {"Ref": d.logical_id}) for d in ctx.scope.of_type("AWS::EC2::VPCEndpoint")
                 if r.physical_id in {resolved(ctx, t) for t in d.properties.get("RouteTableIds") or []}}
    undeclared = []
    for found in need(table, "Routes", list, operation="DescribeRouteTables"):
        if not isinstance(found, Mapping):
            continue
        target = next((str(found[k]) for k in ("GatewayId", "NatGatewayId", "TransitGatewayId",
                                               "VpcPeeringConnectionId", "NetworkInterfaceId", "InstanceId",
                                               "EgressOnlyInternetGatewayId", "CarrierGatewayId",
                                               "LocalGatewayId", "CoreNetworkArn") if found.get(k)), "?")
        destination = found.get("DestinationCidrBlock") or found.get("DestinationIpv6CidrBlock") or \
            found.get("DestinationPrefixListId")
        if target == "local" or destination in declared or (found.get("DestinationPrefixListId") and
                                                           target in endpoints):
            continue  # the VPC's own route, a declared route, or a declared gateway endpoint's
        undeclared.append(f"route {destination} -> {target}")
    return {"VpcId": need(table, "VpcId", str, operation="DescribeRouteTables"),
            "Tags": tag_list(table.get("Tags", [])), FACTS: {UNDECLARED: undeclared}}


@reader("AWS::EC2::Route", (DESCRIBE_ROUTE_TABLES,),
        "RouteTableId DestinationCidrBlock GatewayId NatGatewayId")
def route(ctx: ReadContext, r: Present) -> dict[str, Any]:
    table_id = ctx.resolve(r.properties.get("RouteTableId"))
    destination = ctx.resolve(r.properties.get("DestinationCidrBlock"))
    table = _route_table(ctx, table_id)
    routes = [x for x in need(table, "Routes", list, operation="DescribeRouteTables")
              if isinstance(x, Mapping) and x.get("DestinationCidrBlock") == destination]
    found = only(routes, f"route to {destination} in {table_id}", "DescribeRouteTables", by_id=False)
    props = {"RouteTableId": table_id, "DestinationCidrBlock": destination}
    for key in ("GatewayId", "NatGatewayId"):  # a route has one target: the other is read as not set
        props[key] = found.get(key) or None
    return props


@reader("AWS::EC2::SubnetRouteTableAssociation", (DESCRIBE_ROUTE_TABLES,), "RouteTableId SubnetId")
def route_table_association(ctx: ReadContext, r: Present) -> dict[str, Any]:
    subnet_id = ctx.resolve(r.properties.get("SubnetId"))
    op = "DescribeRouteTables"

    def subnets(table: Mapping[str, Any]) -> list[str]:  # the subnets a table is associated with
        return [a["SubnetId"] for a in need(table, "Associations", list, operation=op)
                if isinstance(a, Mapping) and isinstance(a.get("SubnetId"), str)]

    # The table that holds the subnet's association, whichever it is (the declared one or not: that is drift).
    table = one_of_all(ctx, op, "AWS::EC2::Subnet", subnet_id, "route table of subnet", subnets,
                       _ec2_page(ctx, "describe_route_tables", op, "association.subnet-id", "RouteTables"))
    return {"SubnetId": subnet_id, "RouteTableId": need(table, "RouteTableId", str, operation=op)}


@reader("AWS::EC2::InternetGateway", (Call("ec2:DescribeInternetGateways"),), "Tags",
        derived=lambda p: {"InternetGatewayId": p.id})
def internet_gateway(ctx: ReadContext, r: Present) -> dict[str, Any]:
    op = "DescribeInternetGateways"
    answer = ask(op, ctx.aws.client("ec2").describe_internet_gateways, "InvalidInternetGatewayID.NotFound",
                 InternetGatewayIds=[r.physical_id])
    found = only(answer.get("InternetGateways"), f"internet gateway {r.physical_id}", op, by_id=True)
    return {"Tags": tag_list(found.get("Tags", []))}


@reader("AWS::EC2::EIP", (Call("ec2:DescribeAddresses"),), "Domain Tags", derived=lambda p: {"PublicIp": p.id})
def elastic_ip(ctx: ReadContext, r: Present) -> dict[str, Any]:
    op = "DescribeAddresses"
    answer = ask(op, ctx.aws.client("ec2").describe_addresses, "InvalidAddress.NotFound", PublicIps=[r.physical_id])
    found = only(answer.get("Addresses"), f"address {r.physical_id}", op, by_id=True)
    return {"Domain": need(found, "Domain", str, operation=op), "Tags": tag_list(found.get("Tags", [])),
            ATTRIBUTES: {"AllocationId": found.get("AllocationId")}}


@reader("AWS::EC2::NatGateway", (Call("ec2:DescribeNatGateways"),), "SubnetId AllocationId Tags",
        derived=lambda p: {"NatGatewayId": p.id})
def nat_gateway(ctx: ReadContext, r: Present) -> dict[str, Any]:
    op = "DescribeNatGateways"
    answer = ask(op, ctx.aws.client("ec2").describe_nat_gateways, "NatGatewayNotFound", NatGatewayIds=[r.physical_id])
    found = only(answer.get("NatGateways"), f"NAT gateway {r.physical_id}", op, by_id=True)
    addresses = found.get("NatGatewayAddresses") or [{}]
    props = {"SubnetId": need(found, "SubnetId", str, operation=op), "Tags": tag_list(found.get("Tags", []))}
    if isinstance(addresses[0], Mapping) and addresses[0].get("AllocationId"):
        props["AllocationId"] = addresses[0]["AllocationId"]
    return props
