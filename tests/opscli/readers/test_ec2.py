"""opscli.readers.ec2 on answers stubbed with botocore's Stubber: the declared subnets are read in one call, over
every page, and one the answer leaves out is missing."""

from __future__ import annotations

from botocore.stub import Stubber

from opscli import livestack
from tests.opscli.stubs import ACCOUNT, scope, subnet


def test_declared_subnets_are_read_in_one_call_over_every_page_and_a_missing_one_is_missing(stubbed):
    """One DescribeSubnets for every declared subnet (by id filter, every page), where there was one per subnet;
    the subnet the answer leaves out is MISSING, the others are read."""
    subnets = {f"Subnet{n}": ("AWS::EC2::Subnet", f"subnet-{n}", {}) for n in range(3)}
    ids = ["subnet-0", "subnet-1", "subnet-2"]
    with Stubber(stubbed.client("ec2")) as stub:
        stub.add_response("describe_subnets", {"Subnets": [subnet("subnet-0")], "NextToken": "p2"},
                          {"Filters": [{"Name": "subnet-id", "Values": ids}]})
        stub.add_response("describe_subnets", {"Subnets": [subnet("subnet-2")]},
                          {"Filters": [{"Name": "subnet-id", "Values": ids}], "NextToken": "p2"})
        live = livestack.read_stack(stubbed, scope(**subnets), account=ACCOUNT, max_workers=3)
        stub.assert_no_pending_responses()
    assert stubbed.log.calls == ["ec2:DescribeSubnets"] * 2
    assert {lid: r.state for lid, r in live.resources.items()} == {
        "Subnet0": livestack.ReadState.READ, "Subnet1": livestack.ReadState.MISSING,
        "Subnet2": livestack.ReadState.READ}
    assert live.resources["Subnet1"].detail == "subnet subnet-1 not found"
    assert live.resources["Subnet2"].properties["CidrBlock"] == "10.0.0.0/24"
