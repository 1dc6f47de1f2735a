"""Drift lists the declared properties it could not compare (and why) in every view, not only their count. (Which
ones it could not compare: tests/opscli/test_stackcheck.py.)"""

from __future__ import annotations

import json

from opscli.cli import main
from opscli.model import Report, resource_label
from opscli.sanitize import is_visible
from opscli.stackcheck import NOT_IN_ANSWER, Unverified
from platform_spec import exit_codes
from tests.opscli.test_hostile_text import HOSTILE, RAW, fake_run


def _report() -> Report:
    db = resource_label("AWS::RDS::DBInstance", "DatabaseInstance", f"rds-{HOSTILE}")
    unverified = [Unverified(db, "PerformanceInsightsRetentionPeriod", NOT_IN_ANSWER),
                  Unverified(db, "EnablePerformanceInsights", NOT_IN_ANSWER),
                  Unverified(db, f"Tags{HOSTILE}", f"its declared value does not resolve: {HOSTILE}")]
    return Report("drift", {"stack": "TapStackx", "region": "ap-northeast-1"}, findings=[], coverage={
        "declared": 1, "read": 1, "missing": [], "errors": [], "no_reader": {}, "not_emulated": {},
        "unverifiable": 3, "unverified": [u.to_dict() for u in unverified]})


def test_every_view_lists_them_whole_and_sanitized(monkeypatch, capsys, tmp_path, aws_credentials):
    """The table (80 columns: wrapped, never cut), JSON and the HTML report list every one; AWS's text in them
    is shown as escapes."""
    import opscli.core

    monkeypatch.setattr(opscli.core, "drift", fake_run(_report()))
    monkeypatch.setenv("COLUMNS", "80")
    page = tmp_path / "drift.html"
    main(["drift", "--suffix", "x", "--no-history", "--report", f"html={page}"])
    table = capsys.readouterr().out
    flat = " ".join(table.split())
    assert "3 declared properties not in the answers" in flat and "not compared (3 declared properties" in flat
    assert "DatabaseInstance: PerformanceInsightsRetentionPeriod, EnablePerformanceInsights — not in the answers" \
        in flat, table
    assert "Tags<\\x1b[2J|" in flat and "…" not in table
    assert not any(raw in table for raw in RAW)
    main(["drift", "--suffix", "x", "--no-history", "-o", "json"])
    listed = json.loads(capsys.readouterr().out)["coverage"]["unverified"]
    assert [(u["property"], u["why"]) for u in listed][:2] == [("PerformanceInsightsRetentionPeriod", NOT_IN_ANSWER),
                                                              ("EnablePerformanceInsights", NOT_IN_ANSWER)]
    html = page.read_text()
    assert is_visible(html, lines=True) and "PerformanceInsightsRetentionPeriod, EnablePerformanceInsights" in html
    assert "Tags&lt;\\x1b[2J|" in html and "its declared value does not resolve" in html


def test_an_audit_lists_nothing_it_did_not_try_to_compare(monkeypatch, capsys, aws_credentials):
    """No "not compared" block where the coverage has no such list (the audit, an older report)."""
    import opscli.core

    report = _report()
    report.coverage = {**report.coverage, "unverifiable": 0, "unverified": []}
    monkeypatch.setattr(opscli.core, "drift", fake_run(report))
    assert main(["drift", "--suffix", "x", "--no-history"]) in (exit_codes.EXIT_OK, exit_codes.EXIT_INCOMPLETE)
    assert "not compared" not in capsys.readouterr().out


def test_a_long_id_in_the_list_is_never_folded_in_the_middle():
    """A logical id (up to 255 characters) or a reference longer than the terminal's line is one token: it stands
    whole on a line of its own rather than being folded across two."""
    from tests.opscli.test_terminal import assert_fits, view

    logical = "DatabaseSecurityGroupfromTapStackprodVideoProcessingWorkerSecurityGroupF0541DCA5433B15F6617"
    reference = "CacheReplicationGroupBFE59FF3.ReaderEndPoint.Address"
    report = _report()
    report.coverage["unverified"] = [Unverified(resource_label("AWS::EC2::SecurityGroupIngress", logical, "sgr-1"),
                                                "Description", f"its declared value does not resolve: {reference}"
                                                ).to_dict()]
    for width in (40, 80):
        text = view(report, width)
        assert_fits(text, width)
        assert {f"{logical}:", reference} <= set(text.split()), text
