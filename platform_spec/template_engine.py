"""The whole-stack engine: every per-resource rule, plus the rules that need the whole stack
(the exact CMK, the attached parameter group, subnet placement, scaling, deletion policies) which Checkov
cannot express (it sees one resource at a time and strips DeletionPolicy).

It judges a template: the synthesized one at the template stage, and at the live stage the template-shaped
picture opscli reads back from the deployed resources (readers turn answers into property shape)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from platform_spec import catalog
from platform_spec.context import Context
from platform_spec.intrinsics import render
from platform_spec.registry import RESOURCE_RULES, STACK_RULES_BY_ID
from platform_spec.result import Result, Status
from platform_spec.rules.stk_kms import project_cmks
from platform_spec.rules.topology import public_subnets

# The whole-template rules: every rule module's registered stack rules (each also proven by a failing fixture).
RELATIONSHIP_RULE_IDS = frozenset(STACK_RULES_BY_ID)
# The resource types each whole-stack rule reads beyond the resource it judges: a live picture missing one of
# them (it could not be read) cannot support that rule's verdict.
RELATIONSHIP_TYPES: dict[str, frozenset[str]] = {rule_id: rule.reads for rule_id, rule in STACK_RULES_BY_ID.items()}


@dataclass(frozen=True)
class Finding:
    rule_id: str
    logical_id: str
    resource_type: str
    status: Status
    reason: str
    scope: str = "resource"  # "stack": a whole-stack rule's verdict (the same id may also judge the one resource)
    evidence: Mapping[str, Any] = field(default_factory=dict, hash=False)  # Result.evidence

    @property
    def title(self) -> str:
        return catalog.get(self.rule_id).title


def _relationship_results(resources: Mapping[str, Any],
                          wanted: Collection[str] | None = None) -> Iterable[tuple[str, str, Result]]:
    """(rule id, logical id, result) for the whole-template rules (those of `wanted` only, if given)."""
    for rule_id, stack_rule in STACK_RULES_BY_ID.items():
        if wanted is not None and rule_id not in wanted:
            continue
        for lid, result in stack_rule.check(resources):
            yield rule_id, lid, result


def evaluate(template: Mapping[str, Any], *, expected_tags: Mapping[str, str] | None = None,
             rule_ids: Iterable[str] | None = None, account: str | None = None,
             bucket_regions: Mapping[str, str | None] | None = None) -> list[Finding]:
    """Every applicable finding (PASS and FAIL) of the template; restricted to `rule_ids` if given (the other rules
    are not evaluated at all). `account` and `bucket_regions`: what the live stage knows beyond the picture
    (Context)."""
    resources = template.get("Resources", {})
    suffix, cmk_ids = project_cmks(resources)
    context = Context(suffix=suffix, cmk_ids=cmk_ids, expected_tags=tuple(sorted((expected_tags or {}).items())),
                      account=account, bucket_regions=tuple(sorted((bucket_regions or {}).items())))
    wanted = set(rule_ids) if rule_ids is not None else None
    findings: list[Finding] = []

    def add(rule_id: str, lid: str, rtype: str, result: Result, scope: str = "resource") -> None:
        if result.status is Status.NOT_APPLICABLE or (wanted is not None and rule_id not in wanted):
            return
        findings.append(Finding(rule_id, lid, rtype, result.status, result.reason, scope, result.evidence))

    for lid, resource in resources.items():
        rtype = resource.get("Type", "")
        for rule in RESOURCE_RULES:
            if wanted is not None and rule.rule_id not in wanted:
                continue
            if rule.rule_id in STACK_RULES_BY_ID and STACK_RULES_BY_ID[rule.rule_id].replaces_resource_rule:
                continue  # the whole-template rule of the same id judges it with what one resource cannot show
            if rule.applies_to(rtype):
                add(rule.rule_id, lid, rtype, rule.evaluate(rtype, resource.get("Properties"), context))
    for rule_id, lid, result in _relationship_results(resources, wanted):
        add(rule_id, lid, resources[lid].get("Type", ""), result, "stack")
    return findings


def failures(template: Mapping[str, Any], **kwargs: Any) -> list[Finding]:
    return [f for f in evaluate(template, **kwargs) if f.status is Status.FAIL]


__all__ = ["Finding", "evaluate", "failures", "project_cmks", "public_subnets", "render"]
