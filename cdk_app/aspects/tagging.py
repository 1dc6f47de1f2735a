"""Mutating Aspect: puts the required cost and compliance tags on every taggable resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import jsii
from aws_cdk import CfnResource, IAspect, ITaggable, ITaggableV2, TagManager
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
        # cast: is_taggable/is_taggable_v2 are TypeScript type guards (`construct is ITaggable`), which jsii's
        # Python types flatten to bool.
        if TagManager.is_taggable(node):
            manager = cast(ITaggable, node).tags
        elif TagManager.is_taggable_v2(node):
            manager = cast(ITaggableV2, node).cdk_tag_manager
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
