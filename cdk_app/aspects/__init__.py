"""Guardrail Aspects, one concern per file, attached in one place (`apply_guardrails`)."""

from __future__ import annotations

from typing import Protocol

from aws_cdk import AspectPriority, Aspects
from constructs import IConstruct

from cdk_app.aspects.destroy import DestroyPolicyAspect
from cdk_app.aspects.kms import KmsUsageAspect
from cdk_app.aspects.naming import NamingAspect
from cdk_app.aspects.region import RegionAspect
from cdk_app.aspects.secrets import NoCreatedSecretsAspect
from cdk_app.aspects.tagging import TaggingAspect
from cdk_app.config import AppConfig
from platform_spec.tagging import compute_tags


class Guardrail(Protocol):
    """An Aspect of ours: CDK's IAspect, and the catalog rules it enforces (the rule matrix and its test read
    them)."""

    @property
    def rule_ids(self) -> tuple[str, ...]: ...

    def visit(self, node: IConstruct) -> None: ...


def mutating_aspects(config: AppConfig) -> list[Guardrail]:
    """Aspects that fix resources: tags on everything taggable, destroy policies on everything."""
    return [TaggingAspect(compute_tags(config)), DestroyPolicyAspect()]


def validating_aspects(config: AppConfig) -> list[Guardrail]:
    """Aspects that report rule violations as synthesis errors."""
    return [KmsUsageAspect(config.key_aliases), NamingAspect(config.environment_suffix), RegionAspect(),
            NoCreatedSecretsAspect()]


def apply_guardrails(scope: IConstruct, config: AppConfig) -> None:
    """Attach every guardrail to `scope`: mutators first, validators after they have run."""
    aspects = Aspects.of(scope)
    for aspect in mutating_aspects(config):
        aspects.add(aspect, priority=AspectPriority.MUTATING)
    for aspect in validating_aspects(config):
        aspects.add(aspect, priority=AspectPriority.READONLY)
