"""localenv.pager on its own: a WSGI app with canned whole answers behind it, requests as botocore signs them."""

from __future__ import annotations

import io
import json
import urllib.parse
import xml.etree.ElementTree as ET

from localenv.pager import STATS_PATH, TOKEN_PREFIX, Pager


def auth(signing_name: str) -> str:
    return ("AWS4-HMAC-SHA256 Credential=local-emulator/20261204/ap-northeast-1/"
            f"{signing_name}/aws4_request, SignedHeaders=host, Signature=0")


class Canned:
    """A WSGI app that answers every request with one whole answer and remembers what it was asked."""

    def __init__(self, body: bytes, status: str = "200 OK") -> None:
        self.body, self.status, self.asked = body, status, []

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.asked.append((environ.get("QUERY_STRING", ""), environ["wsgi.input"].read(length)))
        start_response(self.status, [("Content-Type", "text/xml"), ("Content-Length", str(len(self.body)))])
        return [self.body]


def call(app, *, signing: str, body: bytes = b"", method: str = "POST", path: str = "/", query: str = "",
         target: str = "", content_type: str = "application/x-www-form-urlencoded"):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "CONTENT_TYPE": content_type,
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "HTTP_AUTHORIZATION": auth(signing)}
    if target:
        environ["HTTP_X_AMZ_TARGET"] = target
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    answer = b"".join(app(environ, start_response))
    assert int(seen["headers"]["Content-Length"]) == len(answer)
    return seen["status"], answer


SUBNETS = (b'<DescribeSubnetsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>'
           b'<subnetSet><item><subnetId>subnet-1</subnetId></item><item><subnetId>subnet-2</subnetId></item>'
           b'<item><subnetId>subnet-3</subnetId></item></subnetSet></DescribeSubnetsResponse>')
EC2 = "ec2"


def subnet_ids(answer: bytes) -> tuple[list[str], str | None]:
    root = ET.fromstring(answer)
    ns = "{http://ec2.amazonaws.com/doc/2016-11-15/}"
    token = root.find(f"{ns}nextToken")
    return [e.text for e in root.iter(f"{ns}subnetId")], None if token is None else token.text


def test_an_ec2_answer_comes_one_item_a_page_and_the_token_never_reaches_moto():
    app = Canned(SUBNETS)
    pager = Pager(app, 1)
    form = {"Action": "DescribeSubnets", "Version": "2016-11-15"}
    got, token = [], None
    for _ in range(5):
        body = urllib.parse.urlencode({**form, **({"NextToken": token} if token else {})}).encode()
        status, answer = call(pager, signing=EC2, body=body)
        assert status.startswith("200")
        ids, token = subnet_ids(answer)
        got += ids
        if token is None:
            break
    assert got == ["subnet-1", "subnet-2", "subnet-3"]
    assert all(b"NextToken" not in asked for _, asked in app.asked)
    assert pager.stats()["paged"] == {"ec2:DescribeSubnets": 3}


def test_an_iam_answer_says_it_is_truncated_until_the_last_page():
    body = (b'<ListRolePoliciesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListRolePoliciesResult>'
            b'<PolicyNames><member>a</member><member>b</member><member>c</member></PolicyNames>'
            b'<IsTruncated>false</IsTruncated></ListRolePoliciesResult></ListRolePoliciesResponse>')
    pager = Pager(Canned(body), 2)
    form = {"Action": "ListRolePolicies", "Version": "2010-05-08", "RoleName": "r"}
    _, first = call(pager, signing="iam", body=urllib.parse.urlencode(form).encode())
    assert b"<IsTruncated>true</IsTruncated>" in first and f"{TOKEN_PREFIX}2".encode() in first
    _, last = call(pager, signing="iam", body=urllib.parse.urlencode({**form, "Marker": f"{TOKEN_PREFIX}2"}).encode())
    assert b"<member>c</member>" in last and b"<member>a</member>" not in last
    assert b"<IsTruncated>false</IsTruncated>" in last and TOKEN_PREFIX.encode() not in last


def test_a_json_answer_is_paged_and_its_token_taken_out_of_the_request_body():
    body = json.dumps({"logGroups": [{"logGroupName": n} for n in "abc"]}).encode()
    app = Canned(body)
    pager = Pager(app, 2)
    request = json.dumps({"nextToken": f"{TOKEN_PREFIX}2"}).encode()
    _, answer = call(pager, signing="logs", body=request, target="Logs_20140328.DescribeLogGroups",
                     content_type="application/x-amz-json-1.1")
    assert json.loads(answer) == {"logGroups": [{"logGroupName": "c"}]}
    assert json.loads(app.asked[-1][1]) == {}


def test_a_rest_json_answer_is_paged_by_its_query_string_marker():
    body = json.dumps({"MountTargets": [{"MountTargetId": f"fsmt-{n}"} for n in range(3)]}).encode()
    app = Canned(body)
    pager = Pager(app, 2)
    _, first = call(pager, signing="elasticfilesystem", method="GET", path="/2015-02-01/mount-targets",
                    query="FileSystemId=fs-1")
    assert json.loads(first)["NextMarker"] == f"{TOKEN_PREFIX}2" and len(json.loads(first)["MountTargets"]) == 2
    _, last = call(pager, signing="elasticfilesystem", method="GET", path="/2015-02-01/mount-targets",
                   query=f"FileSystemId=fs-1&Marker={TOKEN_PREFIX}2")
    assert json.loads(last) == {"MountTargets": [{"MountTargetId": "fsmt-2"}]}
    assert app.asked[-1][0] == "FileSystemId=fs-1"


def test_what_the_pager_cannot_page_goes_through_unchanged_and_is_counted_with_its_reason():
    form = urllib.parse.urlencode({"Action": "DescribeSubnets", "Version": "2016-11-15"}).encode()
    cases = [
        (Canned(SUBNETS, "500 Internal Server Error"), form, "not a 200 answer"),
        (Canned(b"<not xml"), form, "the answer does not parse"),
        (Canned(SUBNETS), urllib.parse.urlencode({"Action": "DescribeSubnets", "Version": "2016-11-15",
                                                  "NextToken": "moto-token"}).encode(), "not the pager's"),
    ]
    for app, body, reason in cases:
        pager = Pager(app, 1)
        _, answer = call(pager, signing=EC2, body=body)
        assert answer == app.body
        assert [row["reason"] for row in pager.stats()["left_whole"] if reason in row["reason"]], pager.stats()
        assert pager.stats()["paged"] == {}


def test_an_s3_listing_is_left_whole_and_counted_as_a_gap_of_its_protocol():
    app = Canned(b"<ListBucketResult/>")
    pager = Pager(app, 1)
    call(pager, signing="s3", method="GET", path="/bucket", query="list-type=2")
    assert pager.stats()["left_whole"] == [{"operation": "s3:ListObjectsV2", "reason": "rest-xml protocol",
                                            "answers": 1}]


def test_a_request_that_is_not_pageable_or_not_signed_passes_untouched():
    app = Canned(b"<DescribeVpcEndpointServicesResponse/>")
    pager = Pager(app, 1)
    call(pager, signing=EC2, body=b"Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16")
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "wsgi.input": io.BytesIO(b"")}
    list(pager(environ, lambda status, headers: None))
    assert pager.stats() == {"size": 1, "paged": {}, "left_whole": []} and len(app.asked) == 2


def test_the_stats_path_answers_what_was_paged():
    pager = Pager(Canned(SUBNETS), 1)
    call(pager, signing=EC2, body=b"Action=DescribeSubnets&Version=2016-11-15")
    _status, answer = call(pager, signing=EC2, method="GET", path=STATS_PATH)
    assert json.loads(answer)["paged"] == {"ec2:DescribeSubnets": 1}
