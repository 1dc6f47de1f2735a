"""The HTML report (issue 13): one self-contained static page, rendered by a real browser (Debian's headless
Chromium): the posture matrix and a FAIL must be visible, not just present in the markup."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from opscli import diagram
from opscli.html import to_html
from opscli.model import Finding, Report
from platform_spec.result import Status

ROOT = Path(__file__).resolve().parents[2]
FAIL_RGB = (0xC6, 0x28, 0x28)  # td.FAIL in opscli/html.py


def sample_report(template=None) -> Report:
    items = [Finding("kms.rotation", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key EncryptionKey3A692D6E (k-1)",
                     "EnableKeyRotation is not true <script>alert(1)</script>", severity="MEDIUM"),
             Finding("rds.multi_az", "STK-RDS-001", Status.PASS, "AWS::RDS::DBInstance DatabaseInstance (rds-x)",
                    "on"),
             Finding("stack.x", "STK-STACK-001", Status.ERROR, "AWS::SQS::Queue IntakeQueue (q)", "could not look: denied"),
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


def test_the_committed_architecture_picture_is_the_one_the_template_gives(synth):
    assert (ROOT / "docs" / "architecture.svg").read_text() == diagram.svg(synth.template, title=diagram.TITLE), \
        "run: python -m opscli.diagram cdk.out/TapStack<suffix>.template.json > docs/architecture.svg"
    items, edges = diagram.boxes(synth.template)
    kinds = {i["type"] for i in items}
    assert {"AWS::RDS::DBInstance", "AWS::ElastiCache::ReplicationGroup", "AWS::ECS::Service",
            "AWS::ApiGateway::RestApi", "AWS::KMS::Key"} <= kinds
    assert ("AWS::Events::Rule", "AWS::SQS::Queue") in edges  # the intake flow, read from the references


NEEDS_CHROMIUM = pytest.mark.skipif(shutil.which("chromium") is None, reason=(
    "needs Debian's chromium (scripts/system-deps.sh --browser installs it; scripts/test.sh runs that)"))


def render_in_chromium(page: Path, shot: Path) -> str:
    """Chromium's DOM of `page` (--dump-dom), and its screenshot at 1200x900 in `shot`."""
    profile = tempfile.mkdtemp(prefix="chromium-")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars"]
    try:
        dom = subprocess.run(["chromium", *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                             timeout=60).stdout
        subprocess.run(["chromium", *flags, f"--screenshot={shot}", "--window-size=1200,900", page.as_uri()],
                       capture_output=True, timeout=60, check=True)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return dom


def painted(shot: Path, rgb: tuple[int, int, int]) -> int:
    """How many pixels of the 1200x900 screenshot have exactly the colour `rgb`."""
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == (1200, 900), (image.format, image.size)
        colours = image.convert("RGB").getcolors(maxcolors=1200 * 900)
    return next((count for count, colour in colours if colour == rgb), 0)


@NEEDS_CHROMIUM
def test_a_real_browser_renders_the_matrix_and_the_fail_is_visible(synth, tmp_path):
    page, shot = tmp_path / "audit.html", tmp_path / "audit.png"
    page.write_text(to_html(sample_report(synth.template), 3))
    dom = render_in_chromium(page, shot)
    assert '<table class="matrix">' in dom and '<td class="FAIL"' in dom  # the browser parsed the matrix
    assert painted(shot, FAIL_RGB) > 200  # the FAIL cell is painted red, not just present in the markup


@NEEDS_CHROMIUM
@pytest.mark.synth
def test_the_report_of_a_real_audit_opens_in_the_browser(deployed, tmp_path, capsys):
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
