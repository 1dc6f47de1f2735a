"""opscli.readers.base, the readers' shared helpers, on answers stubbed with botocore's Stubber: a page token seen
before or "more" without a token is ERROR (one pagination and a batched read alike); a batched answer it cannot
attribute, or an empty list for an id asked by its id, is ERROR, never MISSING; and the registry takes a type once
and a call scoped or unscoped, not both."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from opscli import livestack, stackcheck
from opscli.readers import NO_READER, READERS, Call, no_reader, reader
from platform_spec.result import Status
from tests.opscli.stubs import ACCOUNT, LB_ARN, read, scope, subnet


@pytest.mark.parametrize("answer, said", [
    ({"Subnets": [subnet("subnet-0"), subnet("subnet-0")]}, "answered subnet subnet-0 twice"),
    ({"Subnets": [{k: v for k, v in subnet("subnet-0").items() if k != "SubnetId"}]}, "without 'SubnetId'"),
])
def test_a_batched_answer_it_cannot_attribute_is_error_for_every_resource_of_it(stubbed, answer, said):
    """An item without its id, or one id answered twice: no subnet of the answer gets a verdict."""
    subnets = {f"Subnet{n}": ("AWS::EC2::Subnet", f"subnet-{n}", {}) for n in range(2)}
    with Stubber(stubbed.client("ec2")) as stub:
        stub.add_response("describe_subnets", answer)
        stub.add_response("describe_subnets", answer)  # the second reader asks again: an error is not remembered
        live = livestack.read_stack(stubbed, scope(**subnets), account=ACCOUNT, max_workers=1)
    for resource in live.resources.values():
        assert resource.state == livestack.ReadState.ERROR and said in resource.detail, resource.detail


@pytest.mark.parametrize("service, method, answer, resource", [
    ("rds", "describe_db_instances", {"DBInstances": []}, ("AWS::RDS::DBInstance", "rds-fault", {})),
    ("elasticache", "describe_replication_groups", {"ReplicationGroups": []},
     ("AWS::ElastiCache::ReplicationGroup", "redis-fault", {})),
    ("efs", "describe_file_systems", {"FileSystems": []}, ("AWS::EFS::FileSystem", "fs-00000001", {})),
    ("ec2", "describe_vpcs", {"Vpcs": []}, ("AWS::EC2::VPC", "vpc-00000001", {})),
    ("elbv2", "describe_load_balancers", {"LoadBalancers": []},
     ("AWS::ElasticLoadBalancingV2::LoadBalancer", LB_ARN, {})),
    ("ecs", "describe_services", {"services": [], "failures": []},
     ("AWS::ECS::Service", "svc-fault", {"Cluster": "ecs-cluster-fault"})),
], ids=lambda value: value if isinstance(value, str) else None)
def test_a_describe_by_id_answered_with_an_empty_list_is_error_not_missing(stubbed, service, method, answer,
                                                                           resource):
    """AWS answers a not-found error for an id that does not exist (ECS: a failure MISSING), so an empty list is
    no answer: the resource is ERROR, where it was MISSING with "not found" FAILs."""
    with Stubber(stubbed.client(service)) as stub:
        stub.add_response(method, answer)
        live = read(stubbed, R=resource)
    assert live.resources["R"].state == livestack.ReadState.ERROR, live.resources["R"]
    assert live.resources["R"].detail.startswith("could not look")
    assert {f.status for f in stackcheck.judge(live)} == {Status.ERROR}


def test_a_page_token_seen_before_in_one_pagination_is_error(stubbed):
    """A, B, A: botocore's paginator stops only on one token twice in a row; around the circle the reader would
    read the same parameters again as new ones (or forever). The reader refuses the token it has seen."""
    group = ("AWS::RDS::DBParameterGroup", "rds-params-fault", {})
    with Stubber(stubbed.client("rds")) as stub:
        stub.add_response("describe_db_parameter_groups", {"DBParameterGroups": [
            {"DBParameterGroupName": "rds-params-fault", "DBParameterGroupFamily": "postgres16"}]})
        for marker in ("A", "B", "A", None):
            page = {"Parameters": [{"ParameterName": f"p{marker}", "ParameterValue": "1"}]}
            stub.add_response("describe_db_parameters", {**page, **({"Marker": marker} if marker else {})})
        live = read(stubbed, Params=group)
    assert live.resources["Params"].state == livestack.ReadState.ERROR, live.resources["Params"]
    assert "answered the page token" in live.resources["Params"].detail and "a second time" in \
        live.resources["Params"].detail


def test_a_page_that_says_there_is_more_without_a_token_is_error(stubbed):
    """IAM's IsTruncated with no Marker: botocore's paginator ends there, and the policy on the missing page
    (an inline `kms:*` beside the declared ones) would read as absent: a clean PASS."""
    from opscli.readers import MalformedAnswer
    from opscli.readers.base import pages

    iam = stubbed.client("iam")
    with Stubber(iam) as stub:
        stub.add_response("list_role_policies", {"PolicyNames": ["declared"], "IsTruncated": True})
        with pytest.raises(MalformedAnswer, match="more results, without a page token"):
            list(pages(iam, "list_role_policies", "ListRolePolicies", RoleName="r"))
    with Stubber(iam) as stub:  # the last page of a real pagination: IsTruncated false, no Marker
        stub.add_response("list_role_policies", {"PolicyNames": ["declared"], "IsTruncated": False})
        assert [p["PolicyNames"] for p in pages(iam, "list_role_policies", "ListRolePolicies", RoleName="r")] == \
            [["declared"]]


def test_a_page_token_seen_before_in_a_batched_read_is_error(stubbed):
    subnets = {"Subnet0": ("AWS::EC2::Subnet", "subnet-0", {})}
    with Stubber(stubbed.client("ec2")) as stub:
        for token in ("A", "B", "A", None):
            stub.add_response("describe_subnets", {"Subnets": [subnet("subnet-0")] if token is None else [],
                                                   **({"NextToken": token} if token else {})})
        live = read(stubbed, **subnets)
    assert live.resources["Subnet0"].state == livestack.ReadState.ERROR
    assert "answered the page token 'A' a second time" in live.resources["Subnet0"].detail


def test_a_type_is_registered_once_and_a_call_is_scoped_or_unscoped_not_both():
    """The registry refuses a second reader, or a reason beside a reader; a call names its scope or why it has none."""
    with pytest.raises(ValueError, match="declared twice"):
        no_reader("AWS::KMS::Key", "a reason given beside the key's reader")
    with pytest.raises(ValueError, match="declared twice"):
        reader("AWS::CDK::Metadata", (), "Nothing")(lambda ctx, r: {})
    with pytest.raises(ValueError, match="both scoped and unscoped"):
        Call("kms:DescribeKey", ("arn:aws:kms:{region}:{account}:key/*",), unscoped="a reason beside a scope")
    assert "AWS::CDK::Metadata" not in READERS and "AWS::KMS::Key" not in NO_READER
