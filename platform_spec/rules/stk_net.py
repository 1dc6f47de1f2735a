"""STK-NET-002: no security group admits traffic from anywhere (0.0.0.0/0 or ::/0), on any port.

Nothing in this stack is meant to be reached from the internet through a security group: clients come through
API Gateway (AWS-managed, outside the VPC), and the load balancer behind its VPC link is internal. So an ingress
rule open to the world is exposure whatever the port; on a data store's port (PostgreSQL, Redis, NFS) it is the
path from the internet to the data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_int
from platform_spec.result import Result
from platform_spec.rule import plain_rule

OPEN_INGRESS_ID = "STK-NET-002"
GROUP = "AWS::EC2::SecurityGroup"
INGRESS = "AWS::EC2::SecurityGroupIngress"
TYPES = frozenset({GROUP, INGRESS})
ANYWHERE = {"CidrIp": "0.0.0.0/0", "CidrIpv6": "::/0"}


def ports(rule: Mapping[str, Any]) -> str:
    """A security group rule's protocol and ports as people say them: 'tcp 5433', 'tcp 0-65535', 'all traffic'."""
    protocol = str(rule.get("IpProtocol", "?"))
    if protocol in ("-1", "all"):
        return "all traffic"
    low, high = rule.get("FromPort"), rule.get("ToPort")
    return f"{protocol} {low if low == high else f'{low}-{high}'}"


def ip_permission(rule: Mapping[str, Any], cidr_key: str, cidr: str) -> dict[str, Any]:
    """One CloudFormation ingress or egress rule, narrowed to one of its ranges, as EC2's IpPermissions take it (what
    revoke-security-group-ingress / -egress match): protocol, ports (none for all traffic) and the range."""
    protocol = str(rule.get("IpProtocol", "-1"))
    protocol = "-1" if protocol in ("all", "-1") else protocol
    permission: dict[str, Any] = {"IpProtocol": protocol}
    for key in ("FromPort", "ToPort"):
        port = as_int(rule.get(key))
        if protocol != "-1" and port is not None:
            permission[key] = port
    ranges = "IpRanges" if cidr_key == "CidrIp" else "Ipv6Ranges"
    permission[ranges] = [{cidr_key: cidr}]
    return permission


def open_to_anywhere(rule: Any) -> str | None:
    """'tcp 5433 from 0.0.0.0/0' when an ingress rule admits the whole internet, else None."""
    if not isinstance(rule, Mapping):
        return None
    for key, anywhere in ANYWHERE.items():
        if str(rule.get(key, "")).strip() == anywhere:
            return f"{ports(rule)} from {anywhere}"
    return None


def check_no_ingress_from_anywhere(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type == GROUP:
        rules = properties.get("SecurityGroupIngress") or []
        if not isinstance(rules, list):
            return Result.fail("SecurityGroupIngress is not a list of rules: cannot show it admits no one from "
                               "anywhere")
    elif resource_type == INGRESS:
        rules = [properties]
    else:
        return Result.na()
    opened = [found for rule in rules if (found := open_to_anywhere(rule))]
    if opened:
        permissions = [ip_permission(rule, key, anywhere) for rule in rules if isinstance(rule, Mapping)
                       for key, anywhere in ANYWHERE.items() if str(rule.get(key, "")).strip() == anywhere]
        return Result.fail(f"admits {', '.join(opened)}: anyone on the internet can reach it",
                           ip_permissions=permissions)
    return Result.ok("no ingress from anywhere")


plain_rule(OPEN_INGRESS_ID, TYPES, check_no_ingress_from_anywhere)
