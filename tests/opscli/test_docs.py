"""The pictures in docs/ are real runs (scripts/screenshots.py: the stack deployed locally, audited after two
live changes) and these tests render them again from the recorded run: the terminal view must be what
opscli/terminal.py prints today, and the HTML report of the same run must show its FAILs in a real browser."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from rich.console import Console

from opscli import terminal
from opscli.html import to_html
from opscli.model import Finding, Report
from platform_spec.result import Status
from tests.conftest import ROOT

DOCS = ROOT / "docs"
RUN = DOCS / "audit-run.json"


def recorded(path: Path = RUN) -> tuple[Report, int]:
    document = json.loads(path.read_text())
    names = {f.name for f in dataclasses.fields(Finding)}
    findings = [Finding.from_dict({k: v for k, v in item.items() if k in names}) for item in document["findings"]]
    report = Report(command=document["command"], target=document["target"], findings=findings,
                    api_calls=document["summary"]["api_calls"], seconds=document["summary"]["seconds"],
                    coverage=document.get("coverage"), created=datetime.fromisoformat(document["time"]))
    return report, document["summary"]["exit_code"]


def terminal_view(path: Path = RUN) -> tuple[str, str]:
    """The terminal view of the recorded run at 80 columns: as text, and as SVG (rich's export)."""
    report, code = recorded(path)
    console = Console(file=io.StringIO(), width=80, record=True, color_system="truecolor", emoji=False,
                      highlight=False)
    terminal.table(report, console, code)
    return console.export_text(clear=False), console.export_svg(title="opscli audit --suffix prod")


def test_the_recorded_run_is_a_real_audit_of_the_local_deployment_with_two_live_changes():
    report, code = recorded()
    assert code == 1 and len(report.findings) > 400
    assert report.target["endpoint"].startswith("http://127.0.0.1:") and report.target["stack"] == "TapStackprod"
    assert sorted(f.rule_id for f in report.findings if f.status is Status.FAIL) == ["STK-KMS-002", "STK-NET-005"]


def test_the_terminal_pictures_are_what_opscli_prints_today():
    text, svg = terminal_view()
    assert (DOCS / "audit-terminal.txt").read_text() == text, "run: python scripts/screenshots.py"
    assert (DOCS / "audit-terminal.svg").read_text() == svg, "run: python scripts/screenshots.py"
    lines = text.splitlines()
    # 80 columns, but for a token longer than a line (a fix's JSON argument): whole, on a line of its own
    assert all(len(line) <= 80 or len(line.split()) == 1 for line in lines)
    report, _ = recorded()
    assert lines[1] == f"  {report.target['endpoint']}"  # the endpoint, whole: the header wraps rather than cut it
    assert lines[2].startswith("FAIL  ") and "2 FAIL" in lines[2]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_the_report_of_the_recorded_run_shows_its_fails_in_a_browser(tmp_path):
    from PIL import Image

    from tests.opscli.test_html import FAIL_RGB, painted, render_in_chromium

    with Image.open(DOCS / "audit-report.png") as picture:
        assert picture.format == "PNG" and picture.size == (1400, 1800)
    report, code = recorded()
    page, shot = tmp_path / "audit.html", tmp_path / "audit.png"
    page.write_text(to_html(report, code))
    dom = render_in_chromium(page, shot)
    assert dom.count('<td class="FAIL"') >= 2 and "STK-NET-005" in dom and "127.0.0.1" in dom
    assert painted(shot, FAIL_RGB) > 200
