"""CloudFormation's intrinsic functions read without resolving anything, as the rules read a template
(platform_spec.rules.intrinsics)."""

from __future__ import annotations

from platform_spec.rules.intrinsics import ref_target, render, tag_map


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
