"""Validating Aspect: every stack is pinned to ap-northeast-1 at synthesis."""

from __future__ import annotations

import jsii
from aws_cdk import IAspect, Stack, Token
from constructs import IConstruct

from cdk_app.aspects._cfn import report
from platform_spec.rules import stk_region


@jsii.implements(IAspect)
class RegionAspect:
    rule_ids = (stk_region.RULE_ID,)

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, Stack):
            return
        region = None if Token.is_unresolved(node.region) else node.region
        result = stk_region.check(region)
        if result.failed:
            report(node, stk_region.RULE_ID, result.reason)
