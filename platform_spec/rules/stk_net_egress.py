"""STK-NET-005: the security groups of the data stores and of the internal load balancer allow no egress to the
internet.

The declaration restricts egress exactly where nothing should start a connection outward: the database, the cache
and the file system only answer (CDK's allow_all_outbound=False leaves them the "Disallow all traffic" rule), and
the internal NLB only forwards to the service's security group. Egress from one of them to a public address is the
way data leaves without passing the workers: a PostgreSQL extension or a replication command pointed at an
attacker's host. So a guarded group may send only to security groups, prefix lists and private (non-global)
ranges; any rule to a global range (0.0.0.0/0 and ::/0 above all), inline or as its own SecurityGroupEgress
resource, fails.

A group is guarded by what it guards, read from references in the same template or live picture (so the verdict
is the same at both stages): DBInstance.VPCSecurityGroups, DBCluster.VpcSecurityGroupIds,
ReplicationGroup.SecurityGroupIds, CacheCluster.VpcSecurityGroupIds, MountTarget.SecurityGroups and the
SecurityGroups of an internal load balancer.

In a template, a group that declares no egress at all gets EC2's default allow-all rule, unless a standalone
SecurityGroupEgress resource names it: CloudFormation then replaces the default with that rule (aws-cdk #987 and
#998 describe this, and CDK relies on it for rules between security groups)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, ref_target
from platform_spec.result import Result
from platform_spec.rule import stack_rule
from platform_spec.rules.stk_net import ip_permission, ports

RULE_ID = "STK-NET-005"
GROUP = "AWS::EC2::SecurityGroup"
EGRESS = "AWS::EC2::SecurityGroupEgress"
# (type, the property that lists its security groups)
GUARDS: tuple[tuple[str, str], ...] = (
    ("AWS::RDS::DBInstance", "VPCSecurityGroups"),
    ("AWS::RDS::DBCluster", "VpcSecurityGroupIds"),
    ("AWS::ElastiCache::ReplicationGroup", "SecurityGroupIds"),
    ("AWS::ElastiCache::CacheCluster", "VpcSecurityGroupIds"),
    ("AWS::EFS::MountTarget", "SecurityGroups"),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "SecurityGroups"),
)
READS = frozenset({GROUP, EGRESS, *(kind for kind, _ in GUARDS)})
# CDK's rule for allow_all_outbound=False: matches no packet (255.255.255.255 is no host's address).
NO_TRAFFIC = "255.255.255.255/32"


def _guarded(resources: Mapping[str, Any]) -> dict[str, str]:
    """Logical id of each guarded security group -> what it guards ("AWS::RDS::DBInstance Database")."""
    guarded: dict[str, str] = {}
    for lid, resource in resources.items():
        for kind, key in GUARDS:
            if resource.get("Type") != kind:
                continue
            props = as_dict(resource.get("Properties"))
            if kind == "AWS::ElasticLoadBalancingV2::LoadBalancer" and props.get("Scheme") != "internal":
                continue  # an internet-facing load balancer is STK-NET-002's and the design's concern, not this one
            groups = props.get(key)
            for group in groups if isinstance(groups, list) else []:
                target = ref_target(group)
                if target:
                    guarded.setdefault(target, f"{kind.split('::')[-1]} {lid}")
    return guarded


def to_internet(rule: Any) -> str | None:
    """'tcp 443 to 0.0.0.0/0' when an egress rule reaches a global address range, else None."""
    if not isinstance(rule, Mapping):
        return None
    for key in ("CidrIp", "CidrIpv6"):
        value = rule.get(key)
        if value is None:
            continue
        text = str(value).strip()
        if text == NO_TRAFFIC:
            return None
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return f"{ports(rule)} to {text} (not an address range)"
        if network.is_global or network.prefixlen == 0:
            return f"{ports(rule)} to {text}"
    return None



def check(resources: Mapping[str, Any]) -> Iterable[tuple[str, Result]]:
    standalone: dict[str, list[Mapping[str, Any]]] = {}
    for resource in resources.values():
        if resource.get("Type") == EGRESS:
            props = as_dict(resource.get("Properties"))
            group = ref_target(props.get("GroupId"))
            if group:
                standalone.setdefault(group, []).append(props)
    for lid, guards in sorted(_guarded(resources).items()):
        group = resources.get(lid)
        if not isinstance(group, Mapping) or group.get("Type") != GROUP:
            continue  # a group from outside the stack: not this stack's declaration to judge
        props = as_dict(group.get("Properties"))
        inline = props.get("SecurityGroupEgress")
        if inline is None and not standalone.get(lid):
            yield lid, Result.fail(f"guards {guards} and declares no egress rule, so EC2 gives it the default "
                                   "allow-all egress to 0.0.0.0/0",
                                   ip_permissions=[ip_permission({"IpProtocol": "-1"}, "CidrIp", "0.0.0.0/0")])
            continue
        if inline is not None and not isinstance(inline, list):
            yield lid, Result.fail("SecurityGroupEgress is not a list of rules: cannot show egress is restricted")
            continue
        rules = [*(inline or []), *standalone.get(lid, [])]
        found = [hit for rule in rules if (hit := to_internet(rule))]
        if found:
            permissions = [ip_permission(rule, key, str(rule[key]).strip()) for rule in rules if to_internet(rule)
                           for key in ("CidrIp", "CidrIpv6") if rule.get(key) is not None]
            yield lid, Result.fail(f"guards {guards} and sends {', '.join(found)}: data can leave for the internet",
                                   ip_permissions=permissions)
        elif all(isinstance(rule, Mapping) and rule.get("CidrIp") == NO_TRAFFIC for rule in rules):
            yield lid, Result.ok(f"guards {guards}: no egress at all")
        else:
            yield lid, Result.ok(f"guards {guards}: egress only to security groups or private ranges")


stack_rule(RULE_ID, READS, check)
