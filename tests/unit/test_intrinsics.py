"""CloudFormation's intrinsic functions (platform_spec.intrinsics), every way the code reads them: without resolving
anything, as the rules read a template; the logical ids a value refers to; and resolved against a deployment's ids
and attributes, as the local deployer and opscli's drift resolve it."""

from __future__ import annotations

import pytest

from platform_spec.intrinsics import (
    Resolver,
    Unresolvable,
    as_int,
    malformed_references,
    ref_target,
    references,
    render,
    tag_map,
)

# --- read without resolving --------------------------------------------------------------------------------------

def test_intrinsics():
    assert ref_target({"Ref": "A"}) == "A"
    assert ref_target({"Fn::GetAtt": ["B", "Arn"]}) == "B"
    assert ref_target({"Fn::GetAtt": "C.Arn"}) == "C"
    assert ref_target("arn:aws:kms:...") is None and ref_target({"Ref": 1}) is None
    assert render({"Fn::Join": ["", ["/aws/lambda/", {"Ref": "F"}]]}) == "/aws/lambda/{token}"
    assert render({"Fn::Sub": "x-${AWS::Region}-y"}) == "x-{token}-y"
    assert render({"Ref": "X"}) == "{token}" and render(3) is None
    assert tag_map({"a": "b"}) == {"a": "b"} and tag_map([{"Key": "k", "Value": "v"}]) == {"k": "v"}
    assert tag_map(None) == {}


# --- resolved against a deployment -------------------------------------------------------------------------------

QUEUE_ARN = "arn:aws:sqs:ap-northeast-1:123456789012:intake"


def resolver(**options) -> Resolver:
    """A deployment with a bucket (Ref), a queue (its Arn attribute), a parameter and two zones."""
    made = Resolver(pseudo={"AWS::Region": "ap-northeast-1", "AWS::AccountId": "123456789012", "AWS::NoValue": None},
                    parameters={"Env": "test"}, azs=["ap-northeast-1a", "ap-northeast-1c"], **options)
    made.refs["Bucket"] = "intake-test"
    made.attrs["Queue"] = {"Arn": QUEUE_ARN}
    return made


@pytest.mark.parametrize("value, resolved", [
    ({"Ref": "Bucket"}, "intake-test"),
    ({"Ref": "Env"}, "test"),
    ({"Ref": "AWS::NoValue"}, None),  # a property left out
    ({"Fn::GetAtt": ["Queue", "Arn"]}, QUEUE_ARN),
    ({"Fn::GetAtt": "Queue.Arn"}, QUEUE_ARN),
    ({"Fn::Sub": "${Bucket}-${AWS::Region}-${Queue.Arn}"}, f"intake-test-ap-northeast-1-{QUEUE_ARN}"),
    ({"Fn::Sub": ["${Name}/${Env}", {"Name": {"Ref": "Bucket"}}]}, "intake-test/test"),  # its own variables first
    ({"Fn::Join": ["-", [{"Ref": "Env"}, {"Fn::Select": [1, {"Fn::GetAZs": ""}]}]]}, "test-ap-northeast-1c"),
    ({"Fn::Split": [",", "a,b"]}, ["a", "b"]),
    ({"Tags": [{"Ref": "Bucket"}, 3]}, {"Tags": ["intake-test", 3]}),  # inside maps and lists, the rest as it is
])
def test_intrinsics_resolve_to_the_deployments_values(value, resolved):
    assert resolver().resolve(value) == resolved


def test_a_dynamic_reference_resolves_through_the_secret_reader_it_was_given():
    read = resolver(secret_value=lambda secret_id, key: f"<{secret_id}:{key}>")
    assert read.resolve("user={{resolve:secretsmanager:db-credentials:SecretString:password}}") == \
        "user=<db-credentials:password>"
    with pytest.raises(Unresolvable, match="secret db-credentials"):
        resolver().resolve("{{resolve:secretsmanager:db-credentials:SecretString:password}}")


@pytest.mark.parametrize("value, named", [
    ({"Ref": "Missing"}, "Missing"),
    ({"Fn::GetAtt": ["Queue", "Url"]}, "Queue.Url"),
    ({"Fn::Sub": "${Missing.Arn}"}, "Missing.Arn"),
])
def test_what_the_deployment_does_not_have_is_unresolvable_naming_it(value, named):
    with pytest.raises(Unresolvable, match=named):
        resolver().resolve(value)


def test_references_are_the_logical_ids_a_value_names_but_a_subs_own_variables():
    assert references([{"Ref": "A"}, {"Fn::GetAtt": "B.Arn"}, {"Fn::GetAtt": ["C", "Arn"]}, {"X": {"Ref": "D"}}]) == \
        {"A", "B", "C", "D"}
    assert references({"Fn::Sub": ["${Name}-${Bucket}-${Queue.Arn}-${!Literal}", {"Name": {"Ref": "Other"}}]}) == \
        {"Bucket", "Queue", "Other"}


def test_references_follow_sub_and_the_attribute_of_a_getatt_and_read_only_functions():
    """${X} and ${X.Attr} in a Sub, inside any other function, are references; a Ref naming a GetAtt's attribute
    is one; a map of more than one key is no function (as CloudFormation and the Resolver read it), its values are
    read."""
    assert references({"Fn::Join": ["", [{"Fn::Sub": "${AWS::Region}-${Api}"}, {"Fn::Sub": "${Fn.Arn}"}]]}) == \
        {"AWS::Region", "Api", "Fn"}
    assert references({"Fn::GetAtt": ["Queue", {"Ref": "AttrName"}]}) == {"Queue", "AttrName"}
    assert references({"Ref": "A", "Other": {"Ref": "B"}}) == {"B"}
    assert references("${NotASub}") == set() and references(None) == set()


@pytest.mark.parametrize("value, found", [
    ({"Fn::GetAtt": 5}, set()),  # neither a list nor a string
    ({"Fn::GetAtt": {"Ref": "A"}}, {"A"}),
    ({"Fn::GetAtt": []}, set()),
    ({"Fn::GetAtt": [5, {"Ref": "A"}]}, {"A"}),  # no string to name the resource; the rest is read
    ({"Fn::Sub": []}, set()),  # an empty Sub
    ({"Fn::Sub": [5, {"Name": {"Ref": "A"}}]}, {"A"}),  # its first element no string
    ({"Fn::Sub": ["${A}-${B}"]}, {"A", "B"}),  # no variable map
    ({"Fn::Sub": ["${A}-${B}", [{"Ref": "C"}]]}, {"A", "B", "C"}),  # a variable "map" that is a list
    ({"Fn::Sub": {"Ref": "A"}}, {"A"}),
    ({"Ref": {"Ref": "A"}}, {"A"}),
])
def test_references_never_raise_on_malformed_intrinsics_and_read_what_they_hold(value, found):
    """Malformed input is judged, never crashes a rule: what a malformed intrinsic holds is read like any value."""
    assert references(value) == found
    assert references({"Resources": {"R": {"Properties": {"P": [value]}}}}) == found


def test_references_read_any_depth_without_recursion():
    deep: object = {"Ref": "A"}
    for _ in range(5000):
        deep = [{"Key": deep}]
    assert references(deep) == {"A"}


def test_malformed_references_name_what_cloudformation_would_refuse_and_nothing_it_accepts():
    good = [{"Ref": "A"}, {"Fn::GetAtt": "B.Arn"}, {"Fn::GetAtt": ["C", {"Ref": "Attr"}]}, {"Fn::Sub": "${D}"},
            {"Fn::Sub": ["${Name}", {"Name": {"Ref": "E"}}]}, {"Tags": {"Fn::Join": ["", ["a"]]}}]
    assert malformed_references(good) == []
    bad = [{"Fn::GetAtt": []}, {"Fn::GetAtt": 5}, {"Fn::GetAtt": "NoAttr"}, {"Fn::Sub": []}, {"Fn::Sub": [5, {}]},
           {"Fn::Sub": ["${A}"]}, {"Ref": 1}, {"Ref": "A", "Extra": 1}]
    for value in bad:
        assert len(malformed_references({"Resources": {"R": {"Properties": {"P": value}}}})) == 1, value



@pytest.mark.parametrize("value, expected", [
    (3, 3), ("3", 3), ("-1", -1), ("007", 7), ("0" * 5000 + "7", 7), (-1, -1),
    (True, None), (3.0, None), ("\uff13", None), ("\u00b2", None), (" 3", None), ("3_0", None), ("", None),
    ("-", None), ("9" * 5000, None), (None, None), ({"Ref": "Count"}, None),
])
def test_a_template_number_is_an_int_or_a_string_of_ascii_digits(value, expected):
    assert as_int(value) == expected
