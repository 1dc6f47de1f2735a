"""STK-OPS-001 on plain data (platform_spec.rules.stk_ops): one entry of the accepted-findings file, judged on a
given day. opscli's --accepted applies the entries that pass (tests/opscli/test_accepted.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from platform_spec.result import Status
from platform_spec.rules.stk_ops import accepted_entry

TODAY = dt.date(2026, 11, 27)
GOOD = {"rule": "STK-KMS-002", "resource": "EncryptionKey3A692D6E", "approver": "security-lead@streamtech.jp",
        "reason": "Rotation is suspended during the HSM migration; it is re-enabled at cutover.",
        "expires": dt.date(2027, 1, 31)}


def test_a_well_formed_current_entry_passes():
    assert accepted_entry(GOOD, TODAY).status is Status.PASS


@pytest.mark.parametrize("change, said", [
    ({"expires": dt.date(2026, 11, 26)}, "expired on 2026-11-26"),
    ({"expires": dt.date(2028, 1, 1)}, "more than 366 days ahead"),
    ({"expires": "2027-01-31"}, "expires must be a date"),
    ({"expires": dt.datetime(2027, 1, 31, 12)}, "expires must be a date"),
    ({"reason": "ok"}, "at least one full sentence"),
    ({"reason": "Rotation is suspended for the migration"}, "at least one full sentence"),  # no full stop
    ({"rule": "CKV_AWS_7"}, "not a catalog id"),
    ({"rule": "STK-OPS-001"}, "cannot be accepted"),
    ({"resource": " "}, "resource must name"),
    ({"approver": ""}, "approver must name"),
    ({"ticket": "SEC-1"}, "unknown field(s) ticket"),
])
def test_an_expired_or_malformed_entry_fails(change, said):
    verdict = accepted_entry({**GOOD, **change}, TODAY)
    assert verdict.status is Status.FAIL and said in verdict.reason


def test_a_missing_field_fails():
    entry = {k: v for k, v in GOOD.items() if k != "approver"}
    assert "missing 'approver'" in accepted_entry(entry, TODAY).reason
