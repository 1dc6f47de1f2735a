"""The network's shape read from a template (platform_spec.rules.topology): a subnet is public when its route table
sends 0.0.0.0/0 to an internet gateway or it maps public IPs, and every other subnet is private."""

from __future__ import annotations

from platform_spec.rules.topology import private_subnets, public_subnets


def resource(type_: str, **properties) -> dict:
    return {"Type": f"AWS::EC2::{type_}", "Properties": properties}


def network(**extra) -> dict:
    """An internet gateway, a NAT gateway, a public route table and a private one, and subnets A (public) and B."""
    return {
        "Igw": resource("InternetGateway"), "Nat": resource("NatGateway"),
        "PublicTable": resource("RouteTable"), "PrivateTable": resource("RouteTable"),
        "ToInternet": resource("Route", RouteTableId={"Ref": "PublicTable"}, DestinationCidrBlock="0.0.0.0/0",
                               GatewayId={"Ref": "Igw"}),
        "ToNat": resource("Route", RouteTableId={"Ref": "PrivateTable"}, DestinationCidrBlock="0.0.0.0/0",
                          NatGatewayId={"Ref": "Nat"}),
        "A": resource("Subnet"), "B": resource("Subnet"),
        "AToPublic": resource("SubnetRouteTableAssociation", SubnetId={"Ref": "A"},
                              RouteTableId={"Ref": "PublicTable"}),
        "BToPrivate": resource("SubnetRouteTableAssociation", SubnetId={"Ref": "B"},
                               RouteTableId={"Ref": "PrivateTable"}),
        **extra}


def test_a_subnet_routed_to_an_internet_gateway_is_public_and_one_behind_a_nat_is_private():
    resources = network()
    assert (public_subnets(resources), private_subnets(resources)) == ({"A"}, {"B"})


def test_a_subnet_that_maps_public_ips_is_public_whatever_its_routes():
    resources = network(C=resource("Subnet", MapPublicIpOnLaunch=True), D=resource("Subnet", MapPublicIpOnLaunch="x"))
    assert (public_subnets(resources), private_subnets(resources)) == ({"A", "C"}, {"B", "D"})


def test_a_default_route_to_anything_but_a_declared_internet_gateway_makes_nothing_public():
    resources = network()
    resources["ToInternet"]["Properties"]["GatewayId"] = "igw-0123456789abcdef0"  # not one the template declares
    assert public_subnets(resources) == set()
    resources = network()
    resources["ToInternet"]["Properties"]["DestinationCidrBlock"] = "10.1.0.0/16"
    assert public_subnets(resources) == set() and private_subnets(resources) == {"A", "B"}
