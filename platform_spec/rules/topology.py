"""The network's shape, read from a template (or a live picture in template shape): which subnets are public.
Shared by the whole-stack rules that place data in private subnets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import ref_target

ROUTING = frozenset({"AWS::EC2::Subnet", "AWS::EC2::Route", "AWS::EC2::RouteTable", "AWS::EC2::InternetGateway",
                     "AWS::EC2::SubnetRouteTableAssociation"})


def public_subnets(resources: Mapping[str, Any]) -> set[str]:
    """Subnets whose route table sends 0.0.0.0/0 to an internet gateway, or that map public IPs."""
    igws = {k for k, v in resources.items() if v.get("Type") == "AWS::EC2::InternetGateway"}
    public_tables = {
        ref_target(v["Properties"].get("RouteTableId"))
        for v in resources.values()
        if v.get("Type") == "AWS::EC2::Route" and v.get("Properties", {}).get("DestinationCidrBlock") == "0.0.0.0/0"
        and ref_target(v["Properties"].get("GatewayId")) in igws
    }
    public = {
        ref_target(v["Properties"].get("SubnetId"))
        for v in resources.values()
        if v.get("Type") == "AWS::EC2::SubnetRouteTableAssociation"
        and ref_target(v["Properties"].get("RouteTableId")) in public_tables
    }
    public |= {k for k, v in resources.items()
               if v.get("Type") == "AWS::EC2::Subnet" and v.get("Properties", {}).get("MapPublicIpOnLaunch") is True}
    return {subnet for subnet in public if subnet is not None}


def private_subnets(resources: Mapping[str, Any]) -> set[str]:
    return {k for k, v in resources.items() if v.get("Type") == "AWS::EC2::Subnet"} - public_subnets(resources)
