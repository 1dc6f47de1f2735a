"""opscli.readers.wafv2 on answers stubbed with botocore's Stubber: the web ACL's tags over every page (WAF pages
them by hand), a circle of pages ERROR, and a byte-match statement read in its template form."""

from __future__ import annotations

import json

from botocore.stub import Stubber

from opscli import livestack, stackcheck
from platform_spec.result import Status
from tests.opscli.stubs import read, web_acl_answer


def test_web_acl_tags_are_read_over_every_page(stubbed):
    """WAF pages its tags with NextMarker and botocore has no paginator for it: found by the emulator's paged mode
    (the web ACL failed STK-TAG-001 there, its tags cut to the first page)."""
    acl = ("AWS::WAFv2::WebACL", "waf-fault|1|REGIONAL", {})
    with Stubber(stubbed.client("wafv2")) as stub:
        stub.add_response("get_web_acl", web_acl_answer())
        stub.add_response("list_tags_for_resource", {"TagInfoForResource": {"TagList": [
            {"Key": "Project", "Value": "p"}]}, "NextMarker": "m2"})
        stub.add_response("list_tags_for_resource", {"TagInfoForResource": {"TagList": [
            {"Key": "Owner", "Value": "o"}]}})
        live = read(stubbed, Acl=acl)
        stub.assert_no_pending_responses()
    assert sorted(t["Key"] for t in live.resources["Acl"].properties["Tags"]) == ["Owner", "Project"]


def test_a_byte_match_is_read_in_its_template_form_and_the_stack_judged(stubbed):
    """WAF answers a byte-match statement's SearchString as a blob (bytes): copied as it was, it crashed the
    whole audit when the picture was serialized. It reads as the template writes it: SearchString as text, or
    SearchStringBase64 where the bytes are not text."""
    answer = web_acl_answer()
    statement = {"FieldToMatch": {"UriPath": {}}, "PositionalConstraint": "STARTS_WITH",
                 "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}
    answer["WebACL"]["Rules"] = [
        {"Name": n, "Priority": i, "Action": {"Block": {}},
         "Statement": {"ByteMatchStatement": {**statement, "SearchString": search}},
         "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": n}}
        for i, (n, search) in enumerate((("admin", b"/admin"), ("binary", b"\xff\xfe")))]
    acl = ("AWS::WAFv2::WebACL", "waf-fault|1|REGIONAL", {})
    with Stubber(stubbed.client("wafv2")) as stub:
        stub.add_response("get_web_acl", answer)
        stub.add_response("list_tags_for_resource", {"TagInfoForResource": {"TagList": [
            {"Key": "Project", "Value": "p"}]}})
        live = read(stubbed, Acl=acl)
    assert live.resources["Acl"].state == livestack.ReadState.READ, live.resources["Acl"].detail
    matches = [r["Statement"]["ByteMatchStatement"] for r in live.resources["Acl"].properties["Rules"]]
    assert matches[0]["SearchString"] == "/admin" and matches[1]["SearchStringBase64"] == "//4="
    json.dumps(live.live_template())  # the picture every report and rule reads is plain data
    assert {f.rule_id: f.status for f in stackcheck.judge(live) if f.rule_id == "STK-WAF-001"} == \
        {"STK-WAF-001": Status.PASS}


def test_an_endpoint_that_pages_in_a_circle_is_error_not_a_hang(stubbed):
    acl = ("AWS::WAFv2::WebACL", "waf-fault|1|REGIONAL", {})
    with Stubber(stubbed.client("wafv2")) as stub:
        stub.add_response("get_web_acl", web_acl_answer())
        for _ in range(2):
            stub.add_response("list_tags_for_resource", {"TagInfoForResource": {"TagList": [
                {"Key": "Project", "Value": "p"}]}, "NextMarker": "m2"})
        live = read(stubbed, Acl=acl)
    assert live.resources["Acl"].state == livestack.ReadState.ERROR
    assert "answered NextMarker 'm2' twice" in live.resources["Acl"].detail
