"""Our cdk-nag pack: the catalog's NAG-engine rules, applied at synthesis through the shared predicates."""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import CfnResource, Stack, Token
from cdk_nag import IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance
from constructs import IConstruct

from cdk_app.aspects._cfn import cfn_properties, project_cmk_ids
from platform_spec import catalog
from platform_spec.context import Context
from platform_spec.registry import BY_ID, ResourceRule
from platform_spec.result import Status

PACK_NAME = "StreamTech"
_COMPLIANCE = {Status.PASS: NagRuleCompliance.COMPLIANT, Status.FAIL: NagRuleCompliance.NON_COMPLIANT,
               Status.NOT_APPLICABLE: NagRuleCompliance.NOT_APPLICABLE}


@jsii.implements(IApplyRule)
class _Application:
    """One rule applied to one resource, in the shape cdk-nag's NagPack.applyRule expects."""

    def __init__(self, rule: ResourceRule, node: CfnResource, context: Context, resource: _Resource) -> None:
        self._rule, self._node, self._context, self._resource = rule, node, context, resource
        entry = catalog.get(rule.rule_id)
        self._info = entry.title
        self._explanation = f"{entry.rationale} Remediation: {entry.remediation}"

    @property
    def info(self) -> str:
        return self._info

    @property
    def explanation(self) -> str:
        return self._explanation

    @property
    def level(self) -> NagMessageLevel:
        return NagMessageLevel.ERROR

    @property
    def node(self) -> CfnResource:
        return self._node

    @property
    def rule_suffix_override(self) -> str:
        return self._rule.rule_id

    @property
    def ignore_suppression_condition(self) -> Any:
        return None

    def rule(self, node: CfnResource) -> NagRuleCompliance:
        # cdk-nag's applyRule calls params.rule(params.node): `node` is this application's own (as another
        # Python proxy of the same construct), whose type and properties the visit read once for all its rules.
        result = self._rule.evaluate(self._resource.type, self._resource.properties, self._context)
        return _COMPLIANCE[result.status]


class _Resource:
    """A CfnResource's type and properties, each read from jsii's Node process once (every read is a round trip)
    and shared by the rules one visit applies to it: nothing changes a resource while cdk-nag applies rules."""

    def __init__(self, node: CfnResource) -> None:
        self._node = node
        self.type: str = node.cfn_resource_type
        self._properties: dict[str, Any] | None = None

    @property
    def properties(self) -> dict[str, Any]:
        if self._properties is None:
            self._properties = cfn_properties(self._node)
        return self._properties


class StreamTechChecks(NagPack):
    """cdk-nag pack 'StreamTech': findings are named StreamTech-<rule id>, e.g. StreamTech-STK-RDS-001."""

    def __init__(self, *, suffix: str, cmk_alias: str | tuple[str, ...], reports: bool = True) -> None:
        super().__init__(reports=reports, verbose=True)
        self._pack_name = PACK_NAME
        self._suffix, self._cmk_alias = suffix, cmk_alias
        self._contexts: dict[str, Context] = {}
        self._rules = [BY_ID[r.id] for r in catalog.rules_for(catalog.Engine.NAG)]

    def _context(self, stack: Stack) -> Context:
        path = stack.node.path
        if path not in self._contexts:
            account = stack.account if not Token.is_unresolved(stack.account) else None
            self._contexts[path] = Context(suffix=self._suffix, cmk_ids=project_cmk_ids(stack, self._cmk_alias),
                                           account=account)
        return self._contexts[path]

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource):
            return
        context = self._context(Stack.of(node))
        resource = _Resource(node)
        for rule in self._rules:
            if rule.applies_to(resource.type):
                self._apply_rule(_Application(rule, node, context, resource))
