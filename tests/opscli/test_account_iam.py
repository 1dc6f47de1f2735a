"""The audit's one account-wide read (opscli.account_iam): the account's IAM in every page of
GetAccountAuthorizationDetails (the emulator pages it as IAM does), each managed policy's default document kept, and
an answer that cannot be fully read never a verdict."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from botocore.stub import Stubber

from opscli import account_iam
from opscli.aws import Aws, new_session
from opscli.readers.base import MalformedAnswer
from platform_spec.result import CouldNotLook

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}]})


def _guarded() -> Aws:
    return Aws(session=new_session(region_name="ap-northeast-1"), max_attempts=1)


@pytest.mark.parametrize("roles", [0, 3, 7])
def test_every_page_is_read_and_each_policy_keeps_its_default_document(moto_env, roles, monkeypatch):
    from localenv import emulator

    emulator._page_authorization_details(2)  # two items a page: seven roles and a policy are five pages
    try:
        iam = new_session(region_name="ap-northeast-1").client("iam")
        arn = iam.create_policy(PolicyName="reads-videos", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))[
            "Policy"]["Arn"]
        iam.create_policy_version(PolicyArn=arn, SetAsDefault=True, PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}))
        for n in range(roles):
            iam.create_role(RoleName=f"role-{n}", AssumeRolePolicyDocument=TRUST)
            iam.attach_role_policy(RoleName=f"role-{n}", PolicyArn=arn)
        aws = _guarded()
        found = account_iam.read(aws)
    finally:
        emulator._page_authorization_details(None)
    assert sorted(r["RoleName"] for r in found.roles) == [f"role-{n}" for n in range(roles)]
    assert found.pages >= (roles + 1 + 1) // 2
    assert found.policies[arn]["Statement"][0]["Action"] == "kms:Decrypt"  # the default version, not v1
    assert all(isinstance(r["AssumeRolePolicyDocument"], dict) for r in found.roles)
    calls = [c for c in aws.log.calls if c == "iam:GetAccountAuthorizationDetails"]
    assert len(calls) == found.pages


def test_the_emulators_pages_refuse_a_marker_or_size_iam_would_refuse(moto_env):
    """The emulator's paging of GetAccountAuthorizationDetails reads MaxItems and Marker as IAM does: a size
    outside 1 to 1000 or a marker it never returned is a ValidationError, never a crash of the emulator."""
    from botocore.exceptions import ClientError

    from localenv import emulator

    emulator._page_authorization_details(2)
    try:
        iam = new_session(region_name="ap-northeast-1").client("iam")
        first = iam.get_account_authorization_details(MaxItems=1)
        assert first["IsTruncated"] and first["Marker"] == "1"
        # a marker of leading zeros is the same marker (int() alone refuses over 4,300 digits)
        assert iam.get_account_authorization_details(Marker="0" * 5000 + "1")["IsTruncated"] is not None
        for marker in ("\u00b2", "not-a-marker", "-1"):  # a superscript two: isdigit() admits it, int() refuses it
            with pytest.raises(ClientError, match="ValidationError"):
                iam.get_account_authorization_details(Marker=marker)
    finally:
        emulator._page_authorization_details(None)


def _answer(**changes):
    page = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": [], "IsTruncated": False}
    page.update(changes)
    return page


@pytest.mark.parametrize("answer, said", [
    (_answer(IsTruncated=True, Marker="m1"), 'the page token {"Marker": "m1"} a second time'),
    (_answer(IsTruncated=True), "there are more results, without a page token"),
    ({k: v for k, v in _answer().items() if k != "RoleDetailList"}, "without 'RoleDetailList'"),
    (_answer(RoleDetailList=[{"RoleName": "r", "Arn": "arn:aws:iam::1:role/r", "RolePolicyList": [],
                              "AttachedManagedPolicies": [], "AssumeRolePolicyDocument": "%7Bnot json"}]),
     "is not JSON"),
    (_answer(Policies=[{"Arn": "arn:aws:iam::1:policy/p", "PolicyVersionList": [
        {"Document": "{}", "IsDefaultVersion": False}]}]), "0 default versions"),
])
def test_an_answer_that_cannot_be_fully_read_is_could_not_look(answer, said, aws_credentials):
    aws = _guarded()
    with Stubber(aws.client("iam")) as stub:
        for _ in range(2):
            stub.add_response("get_account_authorization_details", answer)
        with pytest.raises(MalformedAnswer, match=said):
            account_iam.read(aws)


@pytest.mark.parametrize("encode", [str, urllib.parse.quote], ids=["text", "url-encoded"])
def test_a_policy_document_naming_a_key_twice_is_could_not_look_not_its_last_value(encode, aws_credentials):
    """botocore decodes IAM's policy documents and keeps the last of two keys (this trust would read as a Deny);
    another reader may keep the first (an Allow to another account): the document has no one meaning."""
    twice = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": '
             '"arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole", "Effect": "Deny"}]}')
    role = {"RoleName": "r", "Arn": "arn:aws:iam::123456789012:role/r", "RolePolicyList": [],
            "AttachedManagedPolicies": [], "AssumeRolePolicyDocument": encode(twice)}
    aws = _guarded()
    with Stubber(aws.client("iam")) as stub:
        stub.add_response("get_account_authorization_details", _answer(RoleDetailList=[role]))
        with pytest.raises(CouldNotLook, match="the key 'Effect' twice in one object"):
            account_iam.read(aws)
    with Stubber(aws.client("iam")) as stub:  # the same document, each key once, is read
        stub.add_response("get_account_authorization_details", _answer(RoleDetailList=[
            {**role, "AssumeRolePolicyDocument": encode(TRUST)}]))
        assert account_iam.read(aws).roles[0]["AssumeRolePolicyDocument"] == json.loads(TRUST)
