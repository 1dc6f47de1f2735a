"""Compliance packs (cdk-nag) and the one way to suppress a finding: on the resource, citing a catalog deviation."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aspects, CfnResource
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NagPackSuppression,
    NagSuppressions,
    NIST80053R5Checks,
    PCIDSS321Checks,
    RegexAppliesTo,
)
from constructs import IConstruct

from cdk_app.config import AppConfig
from cdk_app.nag_pack import StreamTechChecks
from platform_spec import catalog

# The packs every synthesis runs. cdk-nag 2.38.x runs them as Aspects, so a finding is an Annotations
# error (synthesis fails) unless a suppression on that resource excuses it.
PACK_NAMES = ("AwsSolutions", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321", "StreamTech")
INLINE_POLICY_RULES = tuple(f"{pack}-IAMNoInlinePolicy" for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"))


def apply_compliance_packs(scope: IConstruct, config: AppConfig, *, reports: bool = True) -> None:
    aspects = Aspects.of(scope)
    for pack in (AwsSolutionsChecks(reports=reports), HIPAASecurityChecks(reports=reports),
                 NIST80053R5Checks(reports=reports), PCIDSS321Checks(reports=reports),
                 StreamTechChecks(suffix=config.environment_suffix, cmk_alias=config.key_aliases,
                                  reports=reports)):
        aspects.add(pack)


def reason(deviation_id: str) -> str:
    """The suppression reason: the deviation's id and rationale (at least one full sentence)."""
    rule = catalog.get(deviation_id)
    if not rule.accepted_deviation:
        raise ValueError(f"{deviation_id} is not an accepted deviation; only deviations may excuse findings")
    return f"{deviation_id}: {rule.rationale}"


def suppress(resource: IConstruct, deviation_id: str, *, nag: Sequence[str] = (), checkov: Sequence[str] = (),
             applies_to: Sequence[str | RegexAppliesTo | dict[str, str]] | None = None) -> None:
    """Excuse findings on `resource` alone (its CfnResource if given an L2), citing catalog deviation `deviation_id`.

    `nag` are cdk-nag rule ids, `checkov` Checkov check ids; `applies_to` narrows cdk-nag rules with
    granular findings (e.g. 'Resource::*', or {'regex': '/.../'} for a pattern). Every suppression must also
    appear in policies/reviewed_suppressions.json; a test compares the two.
    """
    text = reason(deviation_id)
    target = resource if isinstance(resource, CfnResource) else resource.node.default_child
    if not isinstance(target, CfnResource):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource to suppress on")
    if nag:
        NagSuppressions.add_resource_suppressions(
            target, [NagPackSuppression(id=rule, reason=text, applies_to=list(applies_to) if applies_to else None)
                     for rule in nag])
    if checkov:
        existing = (target.get_metadata("checkov") or {}).get("skip", [])
        target.add_metadata("checkov", {"skip": existing + [{"id": rule, "comment": text} for rule in checkov]})
