"""Accepted findings (issue 13): a reviewed file turns a matching live FAIL into ACCEPTED in every output; an
expired or malformed entry is itself a FAIL (STK-OPS-001); an ERROR is never accepted."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from opscli import accepted
from opscli.cli import main
from opscli.errors import UsageError
from opscli.model import Finding, exit_code
from platform_spec.result import Status
from tests.opscli.conftest import sharing_reads

TODAY = dt.date(2026, 11, 27)
KEY = "AWS::KMS::Key EncryptionKey3A692D6E (1111-2222)"
GOOD = {"rule": "STK-KMS-002", "resource": "EncryptionKey3A692D6E", "approver": "security-lead@streamtech.jp",
        "reason": "Rotation is suspended during the HSM migration; it is re-enabled at cutover.",
        "expires": dt.date(2027, 1, 31)}


def fail(resource: str = KEY, status: Status = Status.FAIL) -> Finding:
    return Finding("kms.rotation", "STK-KMS-002", status, resource, "EnableKeyRotation is not true")


def test_a_matching_fail_becomes_accepted_and_the_entry_is_reported():
    out = accepted.apply([fail()], [GOOD], "accepted.toml", TODAY)
    finding, entry = out
    assert finding.status is Status.ACCEPTED and "security-lead@streamtech.jp" in finding.reason
    assert "EnableKeyRotation is not true" in finding.reason  # what was accepted stays readable
    assert (entry.rule_id, entry.status) == ("STK-OPS-001", Status.PASS) and "accepts 1 FAIL" in entry.reason
    assert exit_code(out) == 0


@pytest.mark.parametrize("name", ["EncryptionKey3A692D6E", "1111-2222", KEY])
def test_the_resource_may_be_named_by_logical_id_physical_id_or_in_full(name):
    [finding, _] = accepted.apply([fail()], [{**GOOD, "resource": name}], "a.toml", TODAY)
    assert finding.status is Status.ACCEPTED


def test_an_error_is_never_accepted():
    out = accepted.apply([fail(status=Status.ERROR)], [GOOD], "a.toml", TODAY)
    assert out[0].status is Status.ERROR and out[1].status is Status.NOT_APPLICABLE and exit_code(out) == 3


def test_a_mismatched_entry_accepts_nothing_and_says_so():
    out = accepted.apply([fail(resource="AWS::KMS::Key OtherKey (9)")], [GOOD], "a.toml", TODAY)
    assert out[0].status is Status.FAIL and out[1].status is Status.NOT_APPLICABLE
    assert "matches no FAIL" in out[1].reason and exit_code(out) == 1
    out = accepted.apply([fail()], [{**GOOD, "rule": "STK-KMS-001"}], "a.toml", TODAY)
    assert out[0].status is Status.FAIL


def test_an_expired_entry_is_a_fail_and_the_finding_stays_failed():
    out = accepted.apply([fail()], [{**GOOD, "expires": dt.date(2026, 10, 1)}], "a.toml", TODAY)
    assert [f.status for f in out] == [Status.FAIL, Status.FAIL] and out[1].rule_id == "STK-OPS-001"
    assert "expired on 2026-10-01" in out[1].reason and "a.toml#1 STK-KMS-002" in out[1].resource


@pytest.mark.parametrize("text, said", [("[[accept]\nrule = ", "is not TOML"), ("rule = 'x'", "only [[accept]]"),
                                        ("accept = 3", "only [[accept]]")])
def test_a_file_that_is_not_an_accepted_list_is_a_usage_error(tmp_path, text, said):
    path = tmp_path / "accepted.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=said.replace("[", r"\[")):
        accepted.load(path)


@pytest.mark.synth
def test_an_accepted_live_deviation_is_accepted_in_every_output(deployed, restored_deployment, tmp_path, capsys):
    import boto3

    endpoint = restored_deployment.endpoint
    kms = boto3.client("kms", endpoint_url=endpoint, region_name="ap-northeast-1",
                       aws_access_key_id="x", aws_secret_access_key="x")
    key_id = kms.describe_key(KeyId="alias/kms-key-test")["KeyMetadata"]["KeyId"]
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    path = tmp_path / "accepted.toml"
    path.write_text(f'''[[accept]]
rule = "STK-KMS-002"
resource = "{key_id}"
reason = "Rotation is suspended during the HSM migration; it is re-enabled at cutover."
approver = "security-lead@streamtech.jp"
expires = {expires}
''')
    kms.disable_key_rotation(KeyId=key_id)
    try:
        with sharing_reads({}):  # both runs judge the one changed state: read once
            assert main(["audit", "--suffix", "test", "-o", "json"]) == 1
            capsys.readouterr()
            code = main(["audit", "--suffix", "test", "-o", "json", "--accepted", str(path),
                         "--report", f"sarif={tmp_path / 'audit.sarif'}"])
    finally:
        kms.enable_key_rotation(KeyId=key_id)
    document = json.loads(capsys.readouterr().out)
    assert code == 0 and document["summary"]["ACCEPTED"] == 1 and document["summary"]["FAIL"] == 0
    [kms_finding] = [f for f in document["findings"] if f["rule_id"] == "STK-KMS-002" and key_id in f["resource"]]
    assert kms_finding["status"] == "ACCEPTED" and expires in kms_finding["reason"]
    [entry] = [f for f in document["findings"] if f["rule_id"] == "STK-OPS-001"]
    assert entry["status"] == "PASS"
    sarif = json.loads((tmp_path / "audit.sarif").read_text())
    [result] = [r for r in sarif["runs"][0]["results"] if r["properties"]["status"] == "ACCEPTED"]
    assert result["kind"] == "fail" and result["suppressions"][0]["status"] == "accepted"
    from tests.opscli.test_render import assert_code_scanning_accepts
    assert_code_scanning_accepts(sarif)
