"""The HTML report (issue 13): one self-contained static page, rendered by a real browser (Debian's headless
Chromium): the posture matrix and a FAIL must be visible, not just present in the markup."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from datetime import UTC
from pathlib import Path

import pytest
from PIL import Image

from opscli.html import to_html
from opscli.model import Finding, Report
from platform_spec.result import Status

FAIL_RGB = (0xC6, 0x28, 0x28)  # td.FAIL in opscli/html.py


def sample_report(template=None) -> Report:
    items = [Finding("kms.rotation", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key EncryptionKey3A692D6E (k-1)",
                     "EnableKeyRotation is not true <script>alert(1)</script>", severity="MEDIUM"),
             Finding("rds.multi_az", "STK-RDS-001", Status.PASS, "AWS::RDS::DBInstance DatabaseInstance (rds-x)",
                    "on"),
             Finding("stack.x", "STK-STACK-001", Status.ERROR, "AWS::SQS::Queue IntakeQueue (q)",
                     "could not look: denied"),
             Finding("kms.state", "STK-KMS-003", Status.ACCEPTED, "AWS::KMS::Key EncryptionKey3A692D6E (k-1)",
                     "accepted until 2027-01-31 by sec@x: reason.")]
    return Report(command="audit", target={"suffix": "x", "stack": "TapStackx"}, findings=items, api_calls=7,
                  seconds=1.2, coverage={"declared": 4, "read": 3, "errors": ["q"]}, template=template)


def test_the_page_is_self_contained_and_escapes_what_it_shows(synth):
    page = to_html(sample_report(synth.template), 3)
    assert "<script" not in page.lower().replace("&lt;script&gt;", "")  # the hostile reason is text, not markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)  # nothing fetched when it is opened
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"]  # the SVG namespace only
    for cell in ('class="FAIL"', 'class="ERROR"', 'class="ACCEPTED"', 'class="PASS"'):
        assert cell in page
    assert 'data-type="AWS::KMS::Key" data-status="FAIL"' in page  # the picture shows where the FAIL is
    assert "Create the key with enable_key_rotation=True" in page  # the catalog's remediation


def perimeter_report(template, **changes) -> Report:
    """An audit's report of the synthesized stack as if read live, with `changes` applied to its resources first
    (logical id -> a function that changes its properties in place): findings and paths of the same picture."""
    import copy

    from opscli.model import resource_label
    from platform_spec import template_engine
    from platform_spec.rules.paths import stack_paths

    resources = copy.deepcopy(template["Resources"])
    for kind, change in changes.items():
        for resource in resources.values():
            if resource["Type"] == kind:
                change(resource["Properties"])
    findings = [Finding(f.rule_id, f.rule_id, f.status, resource_label(f.resource_type, f.logical_id, None),
                        f.reason) for f in template_engine.evaluate({"Resources": resources}, account="123456789012")]
    return Report(command="audit", target={"suffix": "test", "stack": "TapStacktest"}, findings=findings,
                  paths=stack_paths(resources, account="123456789012"), template=template)


def opened(properties):
    """The intake queue's policy admits another account; the intake rule copies every event to Virginia."""
    if "PolicyDocument" in properties:
        properties["PolicyDocument"]["Statement"].append({
            "Sid": "PartnerReads", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "sqs:ReceiveMessage", "Resource": "*"})
    if "Targets" in properties:
        properties["Targets"].append({"Id": "Copy", "Arn": "arn:aws:sqs:us-east-1:999999999999:copies"})


def test_the_page_draws_the_perimeter_before_the_architecture(synth):
    fresh = to_html(perimeter_report(synth.template), 0)
    section = fresh[fresh.index("<h2>Perimeter</h2>"):fresh.index("<h2>Architecture</h2>")]
    assert '<svg class="perimeter"' in section and "0 cross the perimeter" in section
    assert 'data-tone="FAIL"' not in section and '<table class="crossings">' not in section
    assert "service events.amazonaws.com" in section and "the stack&#x27;s IntakeQueue" in section
    page = to_html(perimeter_report(synth.template, **{"AWS::SQS::QueuePolicy": opened, "AWS::Events::Rule": opened}),
                   1)
    section = page[page.index("<h2>Perimeter</h2>"):page.index("<h2>Architecture</h2>")]
    assert section.count('<g class="edge" data-tone="FAIL"') == 3  # the partner into both queues, the copy out
    crossings = section[section.index('<table class="crossings">'):]
    assert crossings.count('<td class="FAIL">FAIL</td>') == 3 and "data to: <b>arn:aws:sqs:us-east-1:999999999999" \
        ":copies</b>" in crossings and "reaches in: <b>account 999999999999" in crossings
    assert "<h2>Perimeter</h2>" not in to_html(sample_report(synth.template), 3)  # drift, rotate-check: no paths


NEEDS_CHROMIUM = pytest.mark.skipif(shutil.which("chromium") is None, reason=(
    "needs Debian's chromium (scripts/system-deps.sh --browser installs it; scripts/test.sh runs that)"))


def render_in_chromium(page: Path, shot: Path, *, height: int = 900) -> str:
    """Chromium's DOM of `page` (--dump-dom), and its screenshot at 1200x`height` in `shot`: one browser does
    both."""
    profile = tempfile.mkdtemp(prefix="chromium-")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars"]
    try:
        dom = subprocess.run(["chromium", *flags, "--dump-dom", f"--screenshot={shot}",
                              f"--window-size=1200,{height}", page.as_uri()], capture_output=True, text=True,
                             timeout=60, check=True).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert shot.exists(), f"chromium wrote no screenshot of {page}"
    return dom


def painted(shot: Path, rgb: tuple[int, int, int], *, height: int = 900, rows: tuple[int, int] = (0, 900)) -> int:
    """How many pixels of the 1200x`height` screenshot, within its `rows` (top, bottom), have exactly the colour
    `rgb`."""
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == (1200, height), (image.format, image.size)
        colours = image.convert("RGB").crop((0, rows[0], 1200, rows[1])).getcolors(maxcolors=1200 * height)
    return next((count for count, colour in colours if colour == rgb), 0)


@NEEDS_CHROMIUM
def test_a_real_browser_renders_the_matrix_and_the_fail_is_visible(synth, tmp_path):
    page, shot = tmp_path / "audit.html", tmp_path / "audit.png"
    page.write_text(to_html(sample_report(synth.template), 3))
    dom = render_in_chromium(page, shot)
    assert '<table class="matrix">' in dom and '<td class="FAIL"' in dom  # the browser parsed the matrix
    assert painted(shot, FAIL_RGB) > 200  # the FAIL cell is painted red, not just present in the markup


@NEEDS_CHROMIUM
def test_a_real_browser_paints_the_perimeters_crossings_red_and_a_fresh_one_without(synth, tmp_path):
    """Each picture's perimeter section as its own page shows it in a 1200x900 window: here both, one above the
    other, in one browser's 1200x1800 window, each in a box 900 pixels high from the page's top (the body's top
    margin moves into the box: the heading sits where it sits on its own page), and the red counted in each."""
    def perimeter_section(report: Report) -> tuple[str, str]:
        html = to_html(report, 0)
        head = html[:html.index("<body>") + len("<body>")]
        return head, html[html.index("<h2>Perimeter</h2>"):html.index("<h2>Architecture</h2>")]

    head, fresh = perimeter_section(perimeter_report(synth.template))
    _, opened_up = perimeter_section(perimeter_report(synth.template, **{"AWS::SQS::QueuePolicy": opened,
                                                                          "AWS::Events::Rule": opened}))
    page, shot = tmp_path / "perimeters.html", tmp_path / "perimeters.png"
    box = '<div style="height:900px;overflow:hidden;border:0;margin:0;padding:0">'
    page.write_text(head.replace("<body>", '<body style="margin-top:0">') + box + fresh + "</div>" + box +
                    opened_up + "</div></body></html>")
    dom = render_in_chromium(page, shot, height=1800)
    assert dom.count('<svg class="perimeter"') == 2
    red = [painted(shot, FAIL_RGB, height=1800, rows=rows) for rows in ((0, 900), (900, 1800))]
    # the legend's line is all the red of a fresh one
    assert red[0] < 200 and red[1] > red[0] + 1000, red


@NEEDS_CHROMIUM
@pytest.mark.synth
def test_the_report_of_a_real_audit_opens_in_the_browser(shared_read, tmp_path, capsys):
    """What the main command writes (python -m localenv run: opscli audit --report html=reports/audit.html),
    here from the session's deployment."""
    from opscli.cli import main

    page, shot = tmp_path / "audit.html", tmp_path / "audit.png"
    assert main(["audit", "--suffix", "test", "--only-failed", "--report", f"html={page}"]) == 0
    capsys.readouterr()
    dom = render_in_chromium(page, shot)
    assert '<table class="matrix">' in dom and dom.count('<td class="PASS"') > 30 and 'class="FAIL"' not in dom
    assert "COMPLIANT" in dom and "Nothing: every check passed." in dom and "<svg" in dom
    assert painted(shot, (0x2E, 0x7D, 0x32)) > 200  # the green verdict and PASS cells are on screen


def test_the_page_is_evidence_it_names_what_was_looked_at_and_explains_each_finding(synth):
    report = sample_report(synth.template)
    report.target.update(account="123456789012", region="ap-northeast-1", endpoint="http://127.0.0.1:5000")
    report.register = [{"rule": "STK-KMS-003", "resource": "EncryptionKey3A692D6E", "reason": "Key import pending.",
                        "approver": "sec@x", "expires": "2027-01-31", "accepts": 1}]
    page = to_html(report, 3)
    for said in ("account <b>123456789012</b>", "region <b>ap-northeast-1</b>", "endpoint <b>http://127.0.0.1:5000</b>",
                 "stack <b>TapStackx</b>", "opscli 0.1.0"):
        assert said in page, said
    attention = page[page.index("<h2>Needs attention"):page.index("<h2>Register")]
    assert "Automatic yearly rotation limits" in attention  # the rationale
    assert "read with cloudformation:GetTemplate, cloudformation:ListStackResources, kms:" in attention
    assert "AWS Security Hub (FSBP): KMS.4" in attention and "now:</b> aws kms enable-key-rotation" in attention
    assert 'class="ACCEPTED"' not in attention  # accepted deviations are not "needs attention"
    register = page[page.index("<h2>Register"):]
    assert "<td>sec@x</td><td>2027-01-31</td><td>1 FAIL</td>" in register and "STK-DEV-001" in register


def test_history_gives_the_trend_and_since_when_a_finding_fails(tmp_path):
    from datetime import datetime, timedelta

    from opscli import history

    path = tmp_path / "history.sqlite"
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    failing = Finding("kms.rotation", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key Key (k-1)", "off", severity="MEDIUM")
    passing = Finding("kms.rotation", "STK-KMS-002", Status.PASS, "AWS::KMS::Key Key (k-1)", "on")
    for n, finding in enumerate([failing, passing, failing, failing]):  # the streak starts at the third run
        run = Report(command="audit", target={"suffix": "x", "stack": "TapStackx"}, findings=[finding],
                     created=start + timedelta(days=n))
        history.record(path, run, 1 if finding is failing else 0)
    past = history.read(path, run)
    assert [r["FAIL"] for r in past.trend] == [1, 0, 1, 1]
    assert past.first_failed == {"TapStackx/STK-KMS-002/Key/kms.rotation": (start + timedelta(days=2)).isoformat()}
    page = to_html(run, 1, past=past)
    assert "failing since 2026-12-03 09:00 UTC" in page and page.count('class="bar-fail"') == 4
    other = Report(command="drift", target={"suffix": "x", "stack": "TapStackx"}, findings=[])
    assert history.read(path, other).trend == []  # another command's history is its own


def test_runs_that_could_not_look_are_counted_beside_the_trend_not_in_it(tmp_path):
    from datetime import datetime, timedelta

    from opscli import history

    path = tmp_path / "history.sqlite"
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    failing = Finding("kms.rotation", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key Key (k-1)", "off", severity="MEDIUM")
    dead = Finding("stack.scope", "STK-STACK-001", Status.ERROR, "TapStackx", "could not look: endpoint unreachable")
    for n, (finding, code) in enumerate([(failing, 1), (dead, 3), (failing, 1)]):
        run = Report(command="audit", target={"suffix": "x", "stack": "TapStackx"}, findings=[finding],
                     created=start + timedelta(days=n))
        history.record(path, run, code)
    page = to_html(run, 1, past=history.read(path, run))
    trend = page[page.index("<h2>Trend</h2>"):page.index("<h2>Posture matrix")]
    assert trend.count('class="bar-fail"') == 2 and "2026-12-02" not in trend.split("could not look")[0]
    assert "1 run(s) could not look" in trend and "the last at 2026-12-02 09:00 UTC, exit 3, 1 ERROR" in trend
    assert "failing since 2026-12-01 09:00 UTC" in page  # the dead run did not reset it


def test_the_header_names_the_caller_the_template_and_the_commit():
    from opscli.model import Provenance

    report = sample_report()
    assert "run by <b>not read" in to_html(report, 3) and "commit <b>none (not run from" in to_html(report, 3)
    report.provenance = Provenance(caller="arn:aws:iam::123456789012:user/\u202eauditor", template_sha256="ab" * 32,
                                   template_of="GetTemplate's TemplateBody", commit="c0" * 20)
    header = to_html(report, 3).split('<div class="verdict"')[0]
    assert "run by <b>arn:aws:iam::123456789012:user/\\u202eauditor</b>" in header  # shown, never acted on
    assert f"template sha256 <b>{'ab' * 32} (of GetTemplate&#x27;s TemplateBody)</b>" in header
    assert f"commit <b>{'c0' * 20}</b>" in header


@pytest.mark.parametrize("hostile", ["fifo", "foreign", "garbage", "directory"])
def test_a_history_that_is_not_ours_is_refused_and_never_changes_the_verdict(tmp_path, hostile, capsys):
    import os
    import sqlite3

    from opscli import history

    path = tmp_path / "history.sqlite"
    if hostile == "fifo":
        os.mkfifo(path)
    elif hostile == "foreign":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE users (name TEXT)")
        db.commit()
        db.close()
    elif hostile == "garbage":
        path.write_bytes(b"\x00not a database" * 100)
    else:
        path.mkdir()
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(history.HistoryError):
        history.record(path, sample_report(), 3)
    assert (path.read_bytes() if path.is_file() else None) == before  # nothing of it was changed


def layout_width(page: Path, width: int, *, pdf: Path | None = None) -> int:
    """The page's scroll width when Chromium lays it out in a window `width` pixels wide (measured by a copy of
    the page with one line of script added; the report itself has none). With `pdf`, the same browser prints
    that copy there: its script only sets the title, which a print without header and footer does not show, so
    what prints is the report's."""
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text().replace(
        "</body>", '<script>document.title="W"+document.documentElement.scrollWidth</script></body>'))
    profile = tempfile.mkdtemp(prefix="chromium-")
    printing = ["--no-pdf-header-footer", f"--print-to-pdf={pdf}"] if pdf else []
    try:
        dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                              f"--window-size={width},900", *printing, "--dump-dom", probe.as_uri()],
                             capture_output=True, text=True, timeout=60, check=bool(pdf)).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return int(re.search(r"<title>W(\d+)</title>", dom).group(1))


@NEEDS_CHROMIUM
@pytest.mark.synth
def test_the_report_of_a_real_audit_fits_1400_px_and_prints_to_pdf(shared_read, tmp_path, capsys):
    from opscli.cli import main

    page, pdf = tmp_path / "audit.html", tmp_path / "audit.pdf"
    assert main(["audit", "--suffix", "test", "--history", str(tmp_path / "h.sqlite"), "--report",
                 f"html={page}"]) == 0
    capsys.readouterr()
    assert layout_width(page, 1400, pdf=pdf) <= 1400  # one browser lays it out and prints it
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert data.startswith(b"%PDF-") and 2 <= pages <= 40, pages
