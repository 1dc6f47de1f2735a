"""cdk_app/constructs/network.py in the session's synthesized TapStack: public and private subnets in every AZ."""

from __future__ import annotations

import pytest

from platform_spec.intrinsics import tag_map

pytestmark = pytest.mark.synth


def test_vpc_has_public_and_private_subnets_in_every_az(synth):
    subnets = synth.resources("AWS::EC2::Subnet").values()
    by_type = {}
    for s in subnets:
        kind = tag_map(s["Properties"]["Tags"])["aws-cdk:subnet-type"]
        by_type.setdefault(kind, set()).add(s["Properties"]["AvailabilityZone"])
    assert by_type == {"Public": {"ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"},
                       "Private": {"ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"}}
    assert all(not s["Properties"].get("MapPublicIpOnLaunch") for s in subnets)
