"""The whole-stack engine: every per-resource rule, plus the rules that need the whole stack
(the exact CMK, the attached parameter group, subnet placement, scaling, deletion policies) which Checkov
cannot express (it sees one resource at a time and strips DeletionPolicy).

It judges a template: the synthesized one at the template stage, and at the live stage the template-shaped
picture opscli reads back from the deployed resources (readers turn answers into property shape)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from platform_spec import catalog
from platform_spec.context import Context
from platform_spec.registry import RESOURCE_RULES, STACK_RULES_BY_ID
from platform_spec.result import Result, Status
from platform_spec.rules import stk_destroy, stk_intake, stk_kms, stk_rds
from platform_spec.rules.intrinsics import ref_target, render

# The whole-template rules _relationship_results judges, and those the rule modules register (each also proven
# by a failing fixture).
RELATIONSHIP_RULE_IDS = frozenset({"STK-DESTROY-001", "STK-DESTROY-002", "STK-KMS-001", "STK-RDS-003", "STK-NET-001",
                                   "STK-EFS-002", "STK-ECS-002", "STK-S3-002", "STK-SQS-001", "STK-SQS-002",
                                   "STK-SQS-003"}) | frozenset(STACK_RULES_BY_ID)
_ROUTING = frozenset({"AWS::EC2::Subnet", "AWS::EC2::Route", "AWS::EC2::RouteTable", "AWS::EC2::InternetGateway",
                      "AWS::EC2::SubnetRouteTableAssociation"})
# The resource types each whole-stack rule reads beyond the resource it judges: a live picture missing one of
# them (it could not be read) cannot support that rule's verdict.
RELATIONSHIP_TYPES: dict[str, frozenset[str]] = {
    "STK-KMS-001": frozenset({"AWS::KMS::Alias", "AWS::KMS::Key"}),
    "STK-RDS-003": frozenset({"AWS::RDS::DBParameterGroup"}),
    "STK-NET-001": _ROUTING,
    "STK-EFS-002": _ROUTING | {"AWS::EFS::MountTarget"},
    "STK-ECS-002": frozenset({"AWS::ApplicationAutoScaling::ScalableTarget"}),
    "STK-S3-002": frozenset({"AWS::S3::BucketPolicy"}),
    "STK-SQS-001": frozenset({"AWS::SQS::Queue"}),
    "STK-SQS-002": frozenset({"AWS::SQS::QueuePolicy"}),
    "STK-SQS-003": frozenset({"AWS::ApplicationAutoScaling::ScalingPolicy",
                              "AWS::ApplicationAutoScaling::ScalableTarget"}),
    "STK-DESTROY-001": frozenset(),  # the resource's own attributes
    "STK-DESTROY-002": frozenset(),
    **{rule_id: rule.reads for rule_id, rule in STACK_RULES_BY_ID.items()},
}
CMK_ALIAS = re.compile(r"alias/kms-key-(?P<suffix>[a-z0-9-]+)")


@dataclass(frozen=True)
class Finding:
    rule_id: str
    logical_id: str
    resource_type: str
    status: Status
    reason: str

    @property
    def title(self) -> str:
        return catalog.get(self.rule_id).title


def project_cmks(resources: Mapping[str, Any]) -> tuple[str | None, frozenset[str]]:
    """(suffix, logical ids of the keys behind alias/kms-key-<suffix>) found in the template."""
    suffix, ids = None, set()
    for resource in resources.values():
        if resource.get("Type") != "AWS::KMS::Alias":
            continue
        props = resource.get("Properties", {})
        match = CMK_ALIAS.fullmatch(str(props.get("AliasName", "")))
        target = ref_target(props.get("TargetKeyId"))
        if match and target:
            suffix, _ = match.group("suffix"), ids.add(target)
    return suffix, frozenset(ids)


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
    return public - {None}


def _relationship_results(resources: Mapping[str, Any], cmk_ids: frozenset[str]) -> Iterable[tuple[str, str, Result]]:
    """(rule id, logical id, result) for the whole-template rules."""
    public = public_subnets(resources)
    subnets = {k for k, v in resources.items() if v.get("Type") == "AWS::EC2::Subnet"}
    private = subnets - public
    scaled = {ref_target(part) for v in resources.values()
              if v.get("Type") == "AWS::ApplicationAutoScaling::ScalableTarget"
              for part in (v["Properties"].get("ResourceId", {}).get("Fn::Join", ["", []])[1]
                           if isinstance(v["Properties"].get("ResourceId"), dict) else [])}
    mount_subnets: dict[str, set[str]] = {}
    for _lid, v in resources.items():
        if v.get("Type") == "AWS::EFS::MountTarget":
            fs = ref_target(v["Properties"].get("FileSystemId"))
            mount_subnets.setdefault(fs, set()).add(ref_target(v["Properties"].get("SubnetId")))

    for rule_id, stack_rule in STACK_RULES_BY_ID.items():
        for lid, result in stack_rule.check(resources):
            yield rule_id, lid, result
    for lid, result in stk_intake.bucket_policy_results(resources):
        yield stk_intake.BUCKET_TLS_ID, lid, result
    for rule_id, lid, result in stk_intake.queue_results(resources):
        yield rule_id, lid, result
    for lid, resource in resources.items():
        rtype, props = resource.get("Type", ""), resource.get("Properties", {}) or {}
        yield "STK-DESTROY-001", lid, stk_destroy.check_policies(resource)
        yield "STK-DESTROY-002", lid, stk_destroy.check_protection(rtype, props)
        if rtype in stk_kms.KEY_PROPERTIES:
            if not cmk_ids:
                yield "STK-KMS-001", lid, Result.fail("the template has no key behind alias/kms-key-<suffix>")
            else:
                yield "STK-KMS-001", lid, stk_kms.check(rtype, props, cmk_ids)
        if rtype == stk_rds.INSTANCE and str(props.get("Engine", "")).startswith("postgres"):
            group = resources.get(ref_target(props.get("DBParameterGroupName")) or "", {})
            if group.get("Type") != stk_rds.PARAMETER_GROUP:
                yield "STK-RDS-003", lid, Result.fail("the attached parameter group is not defined in this template")
            elif not stk_rds.force_ssl_on(group.get("Properties", {}).get("Parameters")):
                yield "STK-RDS-003", lid, Result.fail("the attached parameter group does not set rds.force_ssl=1")
            else:
                yield "STK-RDS-003", lid, Result.ok("the attached parameter group sets rds.force_ssl=1")
        if rtype in ("AWS::RDS::DBSubnetGroup", "AWS::ElastiCache::SubnetGroup"):
            used = {ref_target(s) for s in props.get("SubnetIds", [])}
            exposed = sorted(str(s) for s in used & public)
            yield "STK-NET-001", lid, (Result.fail(f"includes public subnets {', '.join(exposed)}") if exposed
                                      else Result.ok("private subnets only"))
        if rtype == "AWS::EFS::MountTarget" and ref_target(props.get("SubnetId")) in public:
            yield "STK-NET-001", lid, Result.fail("mount target in a public subnet")
        if rtype == "AWS::EFS::FileSystem":
            missing = sorted(private - mount_subnets.get(lid, set()))
            yield "STK-EFS-002", lid, (Result.fail(f"no mount target in private subnets {', '.join(missing)}")
                                      if missing else Result.ok(f"mount targets in all {len(private)} private subnets"))
        if rtype == "AWS::ECS::Service":
            yield "STK-ECS-002", lid, (Result.ok("auto scaling registered") if lid in scaled
                                      else Result.fail("no Application Auto Scaling target for this service"))


def evaluate(template: Mapping[str, Any], *, expected_tags: Mapping[str, str] | None = None,
             rule_ids: Iterable[str] | None = None, account: str | None = None) -> list[Finding]:
    """Every applicable finding (PASS and FAIL) of the template; restricted to `rule_ids` if given."""
    resources = template.get("Resources", {})
    suffix, cmk_ids = project_cmks(resources)
    context = Context(suffix=suffix, cmk_ids=cmk_ids, expected_tags=tuple(sorted((expected_tags or {}).items())),
                      account=account)
    wanted = set(rule_ids) if rule_ids is not None else None
    findings: list[Finding] = []

    def add(rule_id: str, lid: str, rtype: str, result: Result) -> None:
        if result.status is Status.NOT_APPLICABLE or (wanted is not None and rule_id not in wanted):
            return
        findings.append(Finding(rule_id, lid, rtype, result.status, result.reason))

    for lid, resource in resources.items():
        rtype = resource.get("Type", "")
        for rule in RESOURCE_RULES:
            if rule.rule_id == "STK-KMS-001":
                continue  # judged with the exact CMK below
            if rule.applies_to(rtype):
                add(rule.rule_id, lid, rtype, rule.evaluate(rtype, resource.get("Properties"), context))
    for rule_id, lid, result in _relationship_results(resources, cmk_ids):
        add(rule_id, lid, resources[lid].get("Type", ""), result)
    return findings


def failures(template: Mapping[str, Any], **kwargs: Any) -> list[Finding]:
    return [f for f in evaluate(template, **kwargs) if f.status is Status.FAIL]


__all__ = ["Finding", "evaluate", "failures", "project_cmks", "public_subnets", "render"]
