"""Validating Aspect: explicit physical names follow {resource-type}-{suffix} and fit service limits."""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, IAspect
from constructs import IConstruct

from cdk_app.aspects._cfn import cfn_properties, report
from platform_spec.rules import stk_name


@jsii.implements(IAspect)
class NamingAspect:
    rule_ids = (stk_name.RULE_ID,)

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource) or node.cfn_resource_type not in stk_name.NAME_PROPERTIES:
            return
        result = stk_name.check(node.cfn_resource_type, cfn_properties(node), self.suffix)
        if result.failed:
            report(node, stk_name.RULE_ID, result.reason)
