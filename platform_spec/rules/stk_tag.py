"""STK-TAG-001: taggable resources carry every required tag with a non-empty value."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from platform_spec.intrinsics import tag_map
from platform_spec.result import Result
from platform_spec.rule import resource_rule
from platform_spec.tagging import REQUIRED_TAG_KEYS

RULE_ID = "STK-TAG-001"

# Where the tags of a type live when it is not "Tags".
TAG_PROPERTY = {
    "AWS::EFS::FileSystem": "FileSystemTags",
    "AWS::EFS::AccessPoint": "AccessPointTags",
}
# Resource types that accept tags in CloudFormation and appear in (or near) this stack. Types not
# listed are not taggable through CloudFormation (e.g. AWS::EC2::Route, AWS::IAM::Policy).
TAGGABLE_TYPES = frozenset({
    "AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::RouteTable", "AWS::EC2::InternetGateway",
    "AWS::EC2::NatGateway", "AWS::EC2::EIP", "AWS::EC2::SecurityGroup", "AWS::EC2::FlowLog",
    "AWS::KMS::Key", "AWS::RDS::DBInstance", "AWS::RDS::DBSubnetGroup", "AWS::RDS::DBParameterGroup",
    "AWS::ElastiCache::ReplicationGroup", "AWS::ElastiCache::SubnetGroup", "AWS::EFS::FileSystem",
    "AWS::EFS::AccessPoint", "AWS::ECS::Cluster", "AWS::ECS::Service", "AWS::ECS::TaskDefinition",
    "AWS::IAM::Role", "AWS::Logs::LogGroup", "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup", "AWS::ApiGateway::RestApi", "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::VpcLink", "AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlan",
    "AWS::SNS::Topic", "AWS::SQS::Queue", "AWS::S3::Bucket", "AWS::Lambda::Function",
    "AWS::CloudWatch::Alarm", "AWS::WAFv2::WebACL",
})


def check(resource_type: str, properties: Mapping[str, Any], required: Collection[str],
          expected: Mapping[str, str] | None = None) -> Result:
    """PASS when every key of `required` is present with a value (and equals `expected[key]` if given)."""
    if resource_type not in TAGGABLE_TYPES:
        return Result.na()
    tags = tag_map(properties.get(TAG_PROPERTY.get(resource_type, "Tags")))
    missing = [key for key in required if not tags.get(key)]
    if missing:
        return Result.fail(f"missing required tags: {', '.join(missing)}")
    if expected:
        wrong = [f"{k}={tags.get(k)!r} (expected {v!r})" for k, v in expected.items() if tags.get(k) != v]
        if wrong:
            return Result.fail(f"wrong tag values: {', '.join(wrong)}")
    return Result.ok("all required tags present")


resource_rule(RULE_ID, TAGGABLE_TYPES,
              lambda t, p, c: check(t, p, REQUIRED_TAG_KEYS, dict(c.expected_tags) or None))
