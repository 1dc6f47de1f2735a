"""opscli.readers.elasticache on answers stubbed with botocore's Stubber: the replication group's transit mode
and its members' zones, as recorded shapes give them (moto puts every member in one zone)."""

from __future__ import annotations

from botocore.stub import Stubber

from opscli import stackcheck
from platform_spec.result import Status
from tests.opscli.stubs import ACCOUNT, CMK, TAGS, read


def test_redis_transit_mode_and_members_from_stubbed_answers(stubbed):
    """moto reports every member in one AZ whatever was asked: the live-only spread rule on recorded shapes."""
    group = {"ReplicationGroupId": "redis-fault", "Description": "d",
             "ARN": f"arn:aws:elasticache:ap-northeast-1:{ACCOUNT}:replicationgroup:redis-fault",
             "MultiAZ": "enabled", "AutomaticFailover": "enabled", "TransitEncryptionEnabled": True,
             "TransitEncryptionMode": "preferred", "AuthTokenEnabled": True, "AtRestEncryptionEnabled": True,
             "KmsKeyId": CMK, "MemberClusters": ["redis-fault-001", "redis-fault-002"],
             "NodeGroups": [{"NodeGroupId": "0001", "NodeGroupMembers": [
                 {"CacheClusterId": "redis-fault-001", "PreferredAvailabilityZone": "ap-northeast-1a"},
                 {"CacheClusterId": "redis-fault-002", "PreferredAvailabilityZone": "ap-northeast-1a"}]}]}
    with Stubber(stubbed.client("elasticache")) as stub:
        stub.add_response("describe_replication_groups", {"ReplicationGroups": [group]})
        stub.add_response("list_tags_for_resource", {"TagList": TAGS})
        live = read(stubbed, Redis=("AWS::ElastiCache::ReplicationGroup", "redis-fault", {}))
    findings = stackcheck.judge(live, expected_tags={"Environment": "fault"})
    failed = {(f.check_id, f.rule_id): f.reason for f in findings if f.status is Status.FAIL}
    assert "'preferred'" in failed[("STK-REDIS-002", "STK-REDIS-002")]
    assert "in 1 AZ(s)" in failed[("redis.members_spread", "STK-REDIS-001")]
    assert ("STK-REDIS-001", "STK-REDIS-001") not in failed  # two members, Multi-AZ, failover: the declared part holds
