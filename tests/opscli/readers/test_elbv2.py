"""opscli.readers.elbv2 on answers stubbed with botocore's Stubber: a boolean load balancer attribute (a string in
the answer) spelled otherwise than true or false is ERROR."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from opscli import livestack
from tests.opscli.stubs import LB_ARN, TAGS, read


@pytest.mark.parametrize("value", ["TRUE", "1", ""])
def test_an_elb_boolean_attribute_spelled_otherwise_is_error(stubbed, value):
    """DescribeLoadBalancerAttributes answers Key/Value strings: a boolean one is exactly true or false."""
    lb = {"LoadBalancerArn": LB_ARN, "LoadBalancerName": "nlb-fault", "Scheme": "internal", "Type": "network",
          "AvailabilityZones": [], "DNSName": "d"}
    declared = {"LoadBalancerAttributes": [{"Key": "deletion_protection.enabled", "Value": "false"}]}
    with Stubber(stubbed.client("elbv2")) as stub:
        stub.add_response("describe_load_balancers", {"LoadBalancers": [lb]})
        stub.add_response("describe_load_balancer_attributes", {"Attributes": [
            {"Key": "deletion_protection.enabled", "Value": "false"},
            {"Key": "load_balancing.cross_zone.enabled", "Value": value}]})
        stub.add_response("describe_tags", {"TagDescriptions": [{"ResourceArn": LB_ARN, "Tags": TAGS}]})
        live = read(stubbed, Lb=("AWS::ElasticLoadBalancingV2::LoadBalancer", LB_ARN, declared))
    assert live.resources["Lb"].state == livestack.ReadState.ERROR
    assert f"load_balancing.cross_zone.enabled = {value!r}, not true or false" in live.resources["Lb"].detail
