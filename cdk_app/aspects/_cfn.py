"""Helpers shared by the validating Aspects: a CfnResource's properties as plain CloudFormation data."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from aws_cdk import Annotations, CfnResource, Stack
from constructs import IConstruct

from platform_spec import catalog


def cfn_properties(resource: CfnResource) -> dict[str, Any]:
    """The resource's properties as they will appear in the template (CloudFormation casing, tokens resolved).

    Raw escape-hatch overrides are not visible here; the template-stage checks see them.
    """
    stack = Stack.of(resource)
    # Resolve first: some L2s hold Lazy lists that the renderer's type checks reject unresolved.
    resolved = stack.resolve(resource._cfn_properties)  # noqa: SLF001 - jsii protected API
    return stack.resolve(resource._render_properties(resolved)) or {}  # noqa: SLF001


def project_cmk_ids(stack: Stack, alias_names: str | Collection[str]) -> frozenset[str]:
    """Logical ids of the key(s) behind `alias_names` (one alias or several) in `stack`: the project CMK of that
    stack."""
    names = {alias_names} if isinstance(alias_names, str) else set(alias_names)
    from aws_cdk import aws_kms as kms

    from platform_spec.intrinsics import ref_target

    return frozenset(
        target
        for child in stack.node.find_all()
        if isinstance(child, kms.CfnAlias) and stack.resolve(child.alias_name) in names
        and (target := ref_target(stack.resolve(child.target_key_id))) is not None
    )


def report(node: IConstruct, rule_id: str, detail: str) -> None:
    """Fail synthesis at `node` with the rule's id and title and what was found."""
    Annotations.of(node).add_error(catalog.get(rule_id).message(f"{detail} (at {node.node.path})"))
