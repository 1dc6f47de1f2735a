"""The in-process deployments' kept clients (tests/opscli/conftest.py): a client is reused only where a new one
would be made the same, and one made for other credentials signs with them."""

from __future__ import annotations

from tests.opscli.conftest import _KeptClients


def test_a_client_made_after_the_credentials_changed_signs_with_the_new_ones(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFIRSTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "first")
    kept = _KeptClients()
    first = kept.client("sts")
    assert kept.client("sts") is first  # made once
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASECONDKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "second")
    second = kept.client("sts")
    assert second is not first
    assert second._request_signer._credentials.access_key == "AKIASECONDKEY"
    assert first._request_signer._credentials.access_key == "AKIAFIRSTKEY"
