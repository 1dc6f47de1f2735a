"""opscli.readers.ecs on answers stubbed with botocore's Stubber: a service ECS answers MISSING under failures is
missing, a status spelled in another case is ERROR."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from opscli import livestack
from tests.opscli.stubs import read


def test_an_ecs_service_answered_missing_under_failures_is_missing():
    """The way ECS says a name is not there (a failure MISSING, no service) stays MISSING."""
    from opscli.readers import NotFound
    from opscli.readers.ecs import _described

    with pytest.raises(NotFound, match=r"service s not found \(DescribeServices: MISSING\)"):
        _described({"services": [], "failures": [{"arn": "arn:s", "reason": "MISSING"}]}, "services", "service s",
                   ("ACTIVE", "DRAINING", "INACTIVE"), "DescribeServices")


@pytest.mark.parametrize("status", ["inactive", "Active"])
def test_an_ecs_status_in_another_case_is_error(stubbed, status):
    """ECS's statuses are strings its model does not enumerate: "inactive" would count as not INACTIVE."""
    with Stubber(stubbed.client("ecs")) as stub:
        stub.add_response("describe_clusters", {"clusters": [{"clusterName": "c", "status": status}],
                                                "failures": []})
        live = read(stubbed, C=("AWS::ECS::Cluster", "c", {}))
    assert live.resources["C"].state == livestack.ReadState.ERROR
    assert f"answered status {status!r}, which AWS spells otherwise" in live.resources["C"].detail
