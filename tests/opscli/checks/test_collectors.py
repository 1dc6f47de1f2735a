"""opscli.checks.collectors, the secrets' checks of `rotate-check secrets`, on answers stubbed with botocore's
Stubber: when a secret was last accessed (moto leaves it out), a version stuck in AWSPENDING, a replica in another
region and a deletion scheduled are judged; an answer it cannot fully read, or a circle of version pages, is ERROR,
never PASS or FAIL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.stub import Stubber

from opscli.aws import Aws
from opscli.checks import Context, run_collector
from opscli.checks import collectors as c
from opscli.model import exit_code
from opscli.targets import from_suffix
from platform_spec.result import Status
from platform_spec.rules import stk_res_stores as residency
from platform_spec.rules import stk_secret_live
from tests.opscli.stubs import ACCOUNT, CMK, NOW, T


def ctx(aws: Aws) -> Context:
    return Context(aws=aws, targets=T, now=NOW)


def by_check(findings):
    return {f.check_id: f for f in findings}


def test_secret_last_accessed_from_stubbed_answer(stubbed):
    """moto omits LastAccessedDate; the unused-secret judgement is tested on a stubbed describe."""
    described = {"ARN": "arn:aws:secretsmanager:ap-northeast-1:1:secret:s-AbCdEf", "Name": "s",
                 "RotationEnabled": True, "RotationLambdaARN": "arn:aws:lambda:ap-northeast-1:1:function:rot",
                 "LastRotatedDate": NOW - timedelta(days=10), "NextRotationDate": NOW + timedelta(days=20),
                 "LastAccessedDate": NOW - timedelta(days=200), "KmsKeyId": CMK}
    with Stubber(stubbed.client("secretsmanager")) as sm, Stubber(stubbed.client("kms")) as kms:
        sm.add_response("describe_secret", described)
        sm.add_response("list_secret_version_ids", {"Versions": [
            {"VersionId": "v" * 32, "VersionStages": ["AWSPENDING"], "CreatedDate": NOW - timedelta(days=3)}]})
        kms.add_response("describe_key", {"KeyMetadata": {"KeyId": "k", "KeyManager": "CUSTOMER"}})
        findings = by_check(run_collector(c.SECRET, c.secret, ctx(stubbed), "s"))
    assert findings["secret.last_accessed"].status is Status.FAIL
    assert findings["secret.last_accessed"].reason == "last accessed 200 days ago: the secret may be unused"
    pending = findings["secret.pending"]
    assert pending.status is Status.FAIL and "stuck in AWSPENDING" in pending.reason
    assert findings["secret.rotation_age"].status is Status.PASS and findings["secret.cmk"].status is Status.PASS


@pytest.mark.parametrize("describe, versions, broken", [
    ({}, {"Versions": []}, "DescribeSecret answered without 'ARN'"),  # an empty or HTML 200 parses to nothing
    ({"ARN": "arn:aws:secretsmanager:ap-northeast-1:1:secret:s-AbCdEf", "Name": "s", "RotationEnabled": True,
      "RotationLambdaARN": "arn:aws:lambda:ap-northeast-1:1:function:rot"}, {}, "without 'Versions'"),
])
def test_a_secret_answer_it_cannot_fully_read_is_error_never_pass_or_fail(stubbed, describe, versions, broken):
    """Issue 12: a garbage DescribeSecret made 'never rotated' FAILs, an answer without Versions made 'nothing
    stuck in AWSPENDING' a PASS. Without the fields there is no evidence either way."""
    client = stubbed.client("secretsmanager")

    def garble(parsed, model, **_):
        if model.name == "DescribeSecret" and not describe:
            parsed.clear()
        if model.name == "ListSecretVersionIds" and not versions:
            parsed.pop("Versions", None)
    client.meta.events.register("after-call.secretsmanager.*", garble)
    full = {"ARN": "arn:aws:secretsmanager:ap-northeast-1:1:secret:s-AbCdEf", "Name": "s"}
    with Stubber(client) as stub:
        stub.add_response("describe_secret", describe or full)
        if describe:
            stub.add_response("list_secret_version_ids", {"Versions": []})
        findings = run_collector(c.SECRET, c.secret, ctx(stubbed), "s")
    by = by_check(findings)
    if not describe:
        assert {f.status for f in findings} == {Status.ERROR} and all(broken in f.reason for f in findings)
    else:
        assert by["secret.pending"].status is Status.ERROR and broken in by["secret.pending"].reason
        assert by["secret.last_accessed"].status is Status.ERROR
    assert exit_code(findings) == 3


def test_a_secrets_page_token_seen_before_is_error_never_a_verdict(stubbed):
    """rotate-check pages ListSecretVersionIds by hand: a circle of tokens is ERROR for what the versions decide."""
    described = {"ARN": "arn:aws:secretsmanager:ap-northeast-1:1:secret:s-AbCdEf", "Name": "s"}
    with Stubber(stubbed.client("secretsmanager")) as stub:
        stub.add_response("describe_secret", described)
        for token in ("A", "B", "A", None):
            stub.add_response("list_secret_version_ids", {"Versions": [], **({"NextToken": token} if token else {})})
        findings = by_check(run_collector(c.SECRET, c.secret, ctx(stubbed), "s"))
    assert findings["secret.pending"].status is Status.ERROR
    assert "answered the page token 'A' a second time" in findings["secret.pending"].reason


def test_a_secret_replicated_to_virginia_and_scheduled_for_deletion_fails_both(stubbed):
    deleted = NOW + timedelta(days=7)
    described = {"ARN": f"arn:aws:secretsmanager:ap-northeast-1:{ACCOUNT}:secret:db-res-AbCdEf", "Name": "db-res",
                 "DeletedDate": deleted, "PrimaryRegion": "ap-northeast-1",
                 "ReplicationStatus": [{"Region": "us-east-1", "KmsKeyId": "alias/aws/secretsmanager",
                                        "Status": "InSync", "StatusMessage": "Replication succeeded"}]}
    with Stubber(stubbed.client("secretsmanager")) as stub:
        stub.add_response("describe_secret", described)
        stub.add_response("list_secret_version_ids", {"Versions": []})
        findings = {f.check_id: f for f in run_collector(
            c.SECRET, c.secret, Context(aws=stubbed, targets=from_suffix("res"), now=NOW), "db-res")}
    rule_of = dict(stk_secret_live.SECRET_CHECKS)
    assert findings["secret.replicas"].status is Status.FAIL and rule_of["secret.replicas"] == \
        residency.SECRET_REPLICAS_ID
    assert "replicated to us-east-1 (InSync)" in findings["secret.replicas"].reason
    assert findings["secret.deletion"].status is Status.FAIL and rule_of["secret.deletion"] == \
        stk_secret_live.DELETION_ID
    assert f"scheduled for deletion on {deleted:%Y-%m-%d} (in 7 day(s))" in findings["secret.deletion"].reason
