"""cdk_app/constructs/cache.py in the session's synthesized TapStack: Redis on two nodes or more over AZs, failover, the
CMK at rest, TLS required, AUTH from the existing secret, in the private subnets."""

from __future__ import annotations

import json

import pytest

from platform_spec.intrinsics import ref_target
from tests.unit.cdk_app.constructs.template_reads import key_id, private_subnet_ids

pytestmark = pytest.mark.synth


def test_redis_has_two_nodes_multi_az_failover_cmk_and_tls_required(synth):
    kid = key_id(synth)
    _, rg = synth.one("AWS::ElastiCache::ReplicationGroup")
    p = rg["Properties"]
    assert p["NumCacheClusters"] >= 2
    assert p["MultiAZEnabled"] is True and p["AutomaticFailoverEnabled"] is True
    assert len(set(p["PreferredCacheClusterAZs"])) == p["NumCacheClusters"]
    assert p["AtRestEncryptionEnabled"] is True and ref_target(p["KmsKeyId"]) == kid
    assert p["TransitEncryptionEnabled"] is True and p["TransitEncryptionMode"] == "required"
    assert "redis-auth-test" in json.dumps(p["AuthToken"])
    subnet_group = synth.template["Resources"][ref_target(p["CacheSubnetGroupName"])]["Properties"]
    assert {ref_target(s) for s in subnet_group["SubnetIds"]} == private_subnet_ids(synth)
