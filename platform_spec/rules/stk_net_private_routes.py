"""STK-NET-004: no private subnet routes to an internet gateway.

The private subnets hold the workers, the database, the cache and the file system; their traffic leaves through
the NAT gateway, which never admits a connection from outside. A route from a private subnet's table to the
internet gateway makes that subnet public in all but name: one public IP or one opened security group away from
the internet. A subnet is private as CDK declares it (its aws-cdk:subnet-type tag is Private or Isolated)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, ref_target, tag_map
from platform_spec.result import Result
from platform_spec.rule import stack_rule

RULE_ID = "STK-NET-004"
SUBNET = "AWS::EC2::Subnet"
PRIVATE_TYPES = frozenset({"Private", "Isolated"})
READS = frozenset({SUBNET, "AWS::EC2::Route", "AWS::EC2::SubnetRouteTableAssociation", "AWS::EC2::InternetGateway"})


def check(resources: Mapping[str, Any]) -> Iterable[tuple[str, Result]]:
    gateways = {lid for lid, r in resources.items() if r.get("Type") == "AWS::EC2::InternetGateway"}
    to_gateway: dict[str, list[str]] = {}
    nats = sorted(lid for lid, r in resources.items() if r.get("Type") == "AWS::EC2::NatGateway")
    for resource in resources.values():
        if resource.get("Type") == "AWS::EC2::Route":
            props = as_dict(resource.get("Properties"))
            gateway = ref_target(props.get("GatewayId"))
            if gateway in gateways or str(props.get("GatewayId", "")).startswith("igw-"):
                table = ref_target(props.get("RouteTableId")) or str(props.get("RouteTableId"))
                to_gateway.setdefault(table, []).append(str(props.get("DestinationCidrBlock")
                                                            or props.get("DestinationIpv6CidrBlock") or "?"))
    tables: dict[str, str] = {}
    for resource in resources.values():
        if resource.get("Type") == "AWS::EC2::SubnetRouteTableAssociation":
            props = as_dict(resource.get("Properties"))
            subnet, associated = ref_target(props.get("SubnetId")), ref_target(props.get("RouteTableId"))
            if subnet and associated:
                tables[subnet] = associated
    for lid, resource in resources.items():
        if resource.get("Type") != SUBNET:
            continue
        kind = tag_map(as_dict(resource.get("Properties")).get("Tags")).get("aws-cdk:subnet-type")
        if kind not in PRIVATE_TYPES:
            continue
        routes = to_gateway.get(tables.get(lid, ""), [])
        if routes:
            # the fix sends each such route to the stack's NAT gateway instead (where it declares one)
            fixes = [{"table": {"Ref": tables[lid]}, "destination": route, "nat": {"Ref": nats[0]}}
                     for route in sorted(routes) if route != "?"] if nats else []
            yield lid, Result.fail(f"{kind} subnet routes {', '.join(sorted(routes))} to an internet gateway",
                                   **({"routes": fixes} if fixes else {}))
        else:
            yield lid, Result.ok(f"{kind} subnet: no route to an internet gateway")


stack_rule(RULE_ID, READS, check)
