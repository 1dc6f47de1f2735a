"""cdk_app/constructs/api.py in the session's synthesized TapStack: a regional REST API, logged, traced, keyed,
through a VPC link to an internal NLB."""

from __future__ import annotations

import json

import pytest

from platform_spec.intrinsics import ref_target
from tests.conftest import CDK_AND_CHECKOV

pytestmark = pytest.mark.synth


@CDK_AND_CHECKOV  # aws_cdk.assertions or a synthesis in process
def test_api_is_regional_logged_traced_keyed_and_backed_by_the_vpc_link(synth):
    synth.assertions.has_resource_properties("AWS::ApiGateway::RestApi", {
        "Name": "api-test", "EndpointConfiguration": {"Types": ["REGIONAL"]}})
    _, stage = synth.one("AWS::ApiGateway::Stage")
    p = stage["Properties"]
    assert p["TracingEnabled"] is True and "DestinationArn" in p["AccessLogSetting"]
    assert p["MethodSettings"][0]["LoggingLevel"] == "INFO"
    methods = synth.resources("AWS::ApiGateway::Method").values()
    assert len(methods) == 4
    for m in methods:
        integration = m["Properties"]["Integration"]
        assert integration["Type"] == "HTTP_PROXY" and integration["ConnectionType"] == "VPC_LINK"
        assert m["Properties"]["ApiKeyRequired"] is True and "RequestValidatorId" in m["Properties"]
    _link_id, link = synth.one("AWS::ApiGateway::VpcLink")
    nlb_id, nlb = synth.one("AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert [ref_target(t) for t in link["Properties"]["TargetArns"]] == [nlb_id]
    assert nlb["Properties"]["Scheme"] == "internal"
    assert "api-key-secret-test" in json.dumps(synth.one("AWS::ApiGateway::ApiKey")[1]["Properties"]["Value"])
