"""Validating Aspect: every encrypted resource uses this stack's customer-managed key."""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, IAspect, Stack
from constructs import IConstruct

from cdk_app.aspects._cfn import cfn_properties, project_cmk_ids, report
from platform_spec.rules import stk_kms


@jsii.implements(IAspect)
class KmsUsageAspect:
    """The project CMK of a stack is the key behind one of `alias_names` (each stack of the app has its own, named
    by the naming table) in that stack; any other key, or none, is a violation."""

    rule_ids = (stk_kms.RULE_ID,)

    def __init__(self, alias_names: str | tuple[str, ...]) -> None:
        self.alias_name = alias_names
        self._cmk_ids: dict[str, frozenset[str]] = {}

    def _cmks(self, stack: Stack) -> frozenset[str]:
        path = stack.node.path
        if path not in self._cmk_ids:
            self._cmk_ids[path] = project_cmk_ids(stack, self.alias_name)
        return self._cmk_ids[path]

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource) or node.cfn_resource_type not in stk_kms.KEY_PROPERTIES:
            return
        result = stk_kms.check(node.cfn_resource_type, cfn_properties(node), self._cmks(Stack.of(node)))
        if result.failed:
            report(node, stk_kms.RULE_ID, result.reason)
