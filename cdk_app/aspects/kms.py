"""Validating Aspect: every encrypted resource uses this stack's customer-managed key."""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, IAspect, Stack
from aws_cdk import aws_kms as kms
from constructs import IConstruct

from cdk_app.aspects._cfn import cfn_properties, report
from policies.rules import stk_kms


@jsii.implements(IAspect)
class KmsUsageAspect:
    def __init__(self) -> None:
        self._cmk_ids: dict[str, frozenset[str]] = {}

    def _cmks(self, stack: Stack) -> frozenset[str]:
        path = stack.node.path
        if path not in self._cmk_ids:
            self._cmk_ids[path] = frozenset(
                stack.resolve(child.logical_id) for child in stack.node.find_all() if isinstance(child, kms.CfnKey))
        return self._cmk_ids[path]

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource) or node.cfn_resource_type not in stk_kms.KEY_PROPERTIES:
            return
        result = stk_kms.check(node.cfn_resource_type, cfn_properties(node), self._cmks(Stack.of(node)))
        if result.failed:
            report(node, stk_kms.RULE_ID, result.reason)
