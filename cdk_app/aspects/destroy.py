"""Mutating Aspect: every resource is deleted with the stack (no Retain, no Snapshot, no deletion protection)."""

from __future__ import annotations

import jsii
from aws_cdk import Annotations, CfnResource, IAspect, RemovalPolicy
from constructs import IConstruct

from cdk_app.aspects._cfn import cfn_properties
from platform_spec import catalog
from platform_spec.rules.stk_destroy import POLICY_RULE_ID, PROTECTION_RULE_ID, protection_settings


@jsii.implements(IAspect)
class DestroyPolicyAspect:
    rule_ids = (POLICY_RULE_ID, PROTECTION_RULE_ID)

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource):
            return
        # Also reaches resources CDK creates out of sight (e.g. the API Gateway CloudWatch role).
        node.apply_removal_policy(RemovalPolicy.DESTROY)
        found = protection_settings(node.cfn_resource_type, cfn_properties(node))
        for setting in found:
            if setting == "LoadBalancerAttributes.deletion_protection.enabled":
                continue  # an attribute list entry; the template-stage rule reports it
            node.add_property_override(setting, False)
            Annotations.of(node).add_warning_v2(
                f"{PROTECTION_RULE_ID}:{setting}",
                catalog.get(PROTECTION_RULE_ID).message(f"{setting} was on and has been turned off"))
