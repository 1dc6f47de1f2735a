"""Validating Aspect: no secret is created or written, no credential sits in a plain environment variable."""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, IAspect
from constructs import IConstruct

from cdk_app.aspects._cfn import cfn_properties, report
from platform_spec.rules import stk_secret


@jsii.implements(IAspect)
class NoCreatedSecretsAspect:
    rule_ids = (stk_secret.CREATED_RULE_ID, stk_secret.ENV_RULE_ID)

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource):
            return
        created = stk_secret.check_created(node.cfn_resource_type)
        if created.failed:
            report(node, stk_secret.CREATED_RULE_ID, created.reason)
        if node.cfn_resource_type == "AWS::ECS::TaskDefinition":
            env = stk_secret.check_environment(node.cfn_resource_type, cfn_properties(node))
            if env.failed:
                report(node, stk_secret.ENV_RULE_ID, env.reason)
