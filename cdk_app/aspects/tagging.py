"""Mutating Aspect: puts the required cost and compliance tags on every taggable resource."""

from __future__ import annotations

from collections.abc import Mapping

import jsii
from aws_cdk import CfnResource, IAspect, TagManager
from constructs import IConstruct

from platform_spec.rules.stk_tag import RULE_ID, TAG_PROPERTY, TAGGABLE_TYPES

# Same priority as Tags.of(...).add: a tag set explicitly on a resource with a higher priority wins.
TAG_PRIORITY = 100


@jsii.implements(IAspect)
class TaggingAspect:
    rule_ids = (RULE_ID,)

    def __init__(self, tags: Mapping[str, str]) -> None:
        self.tags = dict(tags)

    def visit(self, node: IConstruct) -> None:
        if TagManager.is_taggable(node):
            manager = node.tags
        elif TagManager.is_taggable_v2(node):
            manager = node.cdk_tag_manager
        elif isinstance(node, CfnResource) and node.cfn_resource_type in TAGGABLE_TYPES:
            # Untyped CfnResources (e.g. CDK's custom-resource providers) have no tag manager,
            # but their CloudFormation type accepts tags.
            node.add_property_override(
                TAG_PROPERTY.get(node.cfn_resource_type, "Tags"),
                [{"Key": k, "Value": v} for k, v in sorted(self.tags.items())])
            return
        else:
            return
        for key, value in self.tags.items():
            manager.set_tag(key, value, TAG_PRIORITY, True)
