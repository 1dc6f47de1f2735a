"""A hostile string from AWS in every field it controls is shown as text by every view opscli prints: on a
terminal (a pty, colours on), through a pipe, in a --report table file and in the error lines on stderr, no
character of it acts on the terminal and its escape is there for the operator to read. JSON, SARIF and HTML keep
it as data, with nothing in them a terminal or a browser acts on either."""

from __future__ import annotations

import ast
import json
import os
import re
import select
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError

from opscli import errors, history
from opscli.checks import describe_failure
from opscli.cli import main
from opscli.model import Finding, Report, resource_label
from opscli.sanitize import is_visible
from opscli.stackcheck import DRIFT_ID, PRESENCE_RULE, describe_change
from platform_spec import exit_codes
from platform_spec.result import Status
from tests.conftest import ROOT

# A screen clear, an OSC 8 hyperlink, a bidi override, an 8-bit CSI, a carriage return and a bell.
HOSTILE = "<\x1b[2J|\x1b]8;;http://x\x1b\\t\x1b]8;;\x1b\\|\u202e|\x9b31m|\r|\x07>"
# What the operator reads instead: each of them as its escape.
SHOWN = ["<\\x1b[2J|", "|\\x1b]8;;http://x\\x1b\\t\\x1b]8;;\\x1b\\|", "|\\u202e|", "|\\x9b31m|", "|\\x0d|", "|\\x07>"]
# None of these is ever written by rich itself, so none may appear raw anywhere.
RAW = ["\x1b[2J", "\x1b]", "\x9b", "\u202e", "\x07", "|\r|"]
# What rich writes on a terminal of its own: colours (SGR), and the progress bar's cursor moves.
RICH_OWN = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\?25[hl]|\x1b\[2K|\x1b\[[0-9]*A|\r")


def _denied() -> str:
    """The reason of an ERROR row as the checks write it from an AccessDenied whose message AWS controls."""
    status, reason = describe_failure(ClientError(
        {"Error": {"Code": "AccessDenied", "Message": f"User {HOSTILE} is not authorized"}}, "DescribeDBInstances"))
    assert status is Status.ERROR
    return reason


def _db(logical: str) -> str:
    return resource_label("AWS::RDS::DBInstance", logical, f"rds-{HOSTILE}")


def hostile_reports() -> dict[str, Report]:
    """One report per command, HOSTILE in every field AWS controls: the stack, account and endpoint of the
    target, physical ids, tag values, reasons, AWS's error messages, declared and live values, coverage."""
    target = {"stack": f"TapStack{HOSTILE}", "account": HOSTILE, "region": "ap-northeast-1",
              "endpoint": f"http://127.0.0.1:5000/{HOSTILE}"}
    audit = Report("audit", dict(target), coverage={
        "declared": 9, "read": 4, "missing": [HOSTILE], "errors": [HOSTILE], "no_reader": [f"AWS::X::{HOSTILE}"],
        "not_emulated": [f"AWS::Y::{HOSTILE}"], "unverifiable": 1}, findings=[
        Finding("rds.multi_az", "STK-RDS-001", Status.FAIL, _db("Db"), f"MultiAZ false; tag Owner={HOSTILE}"),
        Finding("stack.AWS::RDS::DBInstance", PRESENCE_RULE, Status.ERROR, _db("Denied"), _denied()),
        *(Finding("stack.AWS::SQS::Queue", PRESENCE_RULE, Status.ERROR, _db(f"Q{n}"), f"endpoint unreachable: "
                  f"{HOSTILE}") for n in range(2)),  # the same reason twice: one collapsed row
        Finding("rds.encrypted", "STK-RDS-002", Status.PASS, _db("Db"), f"encrypted with {HOSTILE}"),
        Finding("rds.ssl", "STK-RDS-003", Status.NOT_APPLICABLE, _db("Db"), f"engine {HOSTILE}"),
        Finding("rds.public", "STK-NET-001", Status.ACCEPTED, _db("Db"), f"accepted: {HOSTILE}")])
    drift = Report("drift", dict(target), findings=[
        Finding("drift.Tags", DRIFT_ID, Status.FAIL, _db("Db"), describe_change(
            "Tags", [{"Key": "Owner", "Value": "team"}], [{"Key": "Owner", "Value": HOSTILE}]),
            title=f"AWS::RDS::DBInstance Tags{HOSTILE} differs from the stack"),
        Finding("drift.DBInstanceClass", DRIFT_ID, Status.FAIL, _db("Db"),
                describe_change("DBInstanceClass", "db.t3.micro", HOSTILE))])
    rotate = Report("rotate-check secrets", dict(target), findings=[
        Finding("secret.rotation_age", "STK-SECRET-001", Status.FAIL,
                f"arn:aws:secretsmanager:ap-northeast-1:1:secret:{HOSTILE}", f"last rotated by {HOSTILE}")])
    return {"audit": audit, "drift": drift, "rotate-check secrets": rotate}


def fake_run(report: Report):
    """core's audit, drift or rotate-check answering `report`, reporting one hostile progress step first."""
    def run(_aws, _target, *, progress=None, deadline=None, **_extra):
        if progress is not None:
            progress(f"AWS::RDS::DBInstance {HOSTILE}", 1, 2)
        return report
    return run


COMMANDS = {"audit": ["audit"], "drift": ["drift"], "rotate-check secrets": ["rotate-check", "secrets"]}
CORE = {"audit": "audit", "drift": "drift", "rotate-check secrets": "rotate_secrets"}


def assert_shown_not_acted_on(text: str, *, escapes: bool = True) -> None:
    """No hostile character raw; once rich's own colours and cursor moves are taken out, nothing a terminal acts
    on but line feeds; and (where the view shows the value whole) every escape for the operator to read."""
    for raw in RAW:
        assert raw not in text, (raw, text)
    assert is_visible(RICH_OWN.sub("", text), lines=True), RICH_OWN.sub("", text)
    if escapes:
        for shown in SHOWN:
            assert shown in text, (shown, text)


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("show_all", [False, True])
@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_every_table_view_shows_hostile_text_and_never_acts_on_it(command, show_all, terminal, tmp_path, capsys,
                                                                  monkeypatch, aws_credentials):
    """The table on stdout (a pipe, or a terminal with colours and the progress bar), the --report table file,
    and the progress line of --verbose on stderr."""
    import opscli.core

    monkeypatch.setattr(opscli.core, CORE[command], fake_run(hostile_reports()[command]))
    monkeypatch.setenv("COLUMNS", "400")  # wide enough that no row is cut: the escapes are asserted whole
    if terminal:
        monkeypatch.setenv("FORCE_COLOR", "1")
        monkeypatch.setenv("TERM", "xterm-256color")
    path = tmp_path / "report.txt"
    argv = [*COMMANDS[command], "--suffix", "x", "--no-history", "--report", f"table={path}",
            *(["--all"] if show_all else []), *([] if terminal else ["--verbose"])]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code in (exit_codes.EXIT_FINDINGS, exit_codes.EXIT_INCOMPLETE), err
    assert ("\x1b[0m" in out) is terminal  # the terminal case really is one: rich coloured it
    assert_shown_not_acted_on(out)
    assert_shown_not_acted_on(err, escapes=not terminal)  # the progress bar is transient; --verbose prints lines
    assert_shown_not_acted_on(path.read_text())  # 120 columns: the details below the rows show the value whole


def test_the_error_lines_on_stderr_show_aws_text_on_one_line(monkeypatch, capsys, aws_credentials):
    """An OpsError and an unexpected exception carrying AWS's text, with and without --verbose's traceback, and
    the line saying the history was not recorded."""
    import opscli.core

    def denied(*_args, **_kwargs):
        raise errors.OpsError(f"could not read stack TapStackx: AccessDenied: {HOSTILE}\nsecond line")

    def broken(*_args, **_kwargs):
        raise ValueError(HOSTILE)

    for run, code in ((denied, exit_codes.EXIT_INCOMPLETE), (broken, 3)):
        monkeypatch.setattr(opscli.core, "audit", run)
        for verbose in ([], ["--verbose"]):
            assert main(["audit", "--suffix", "x", "--no-history", *verbose]) == code
            out, err = capsys.readouterr()
            assert out == ""
            assert_shown_not_acted_on(err)
            [line] = [line for line in err.splitlines() if line.startswith("error: ")]
            assert "<\\x1b[2J|" in line and (run is broken or "\\x0asecond line" in line)

    def unwritable(*_args, **_kwargs):
        raise history.HistoryError(f"database is locked by {HOSTILE}")

    monkeypatch.setattr(opscli.core, "audit", fake_run(hostile_reports()["audit"]))
    monkeypatch.setattr(history, "record", unwritable)
    main(["audit", "--suffix", "x", "-o", "json"])
    err = capsys.readouterr().err
    assert "opscli: history not recorded: database is locked by <\\x1b[2J|" in err
    assert_shown_not_acted_on(err, escapes=False)


def test_json_and_sarif_keep_the_text_as_data_with_no_raw_control_character(monkeypatch, capsys, aws_credentials,
                                                                            tmp_path):
    """JSON escapes only C0 controls itself: the C1 CSI and the bidi override are JSON escapes too, and every
    parser reads back exactly what AWS said."""
    import opscli.core

    monkeypatch.setattr(opscli.core, "audit", fake_run(hostile_reports()["audit"]))
    sarif, asff, ocsf = (tmp_path / f"audit.{kind}" for kind in ("sarif", "asff", "ocsf"))
    main(["audit", "--suffix", "x", "--no-history", "-o", "json", "--report", f"sarif={sarif}",
          "--report", f"asff={asff}", "--report", f"ocsf={ocsf}"])
    out = capsys.readouterr().out
    for text in (out, sarif.read_text(), asff.read_text(), ocsf.read_text()):
        assert is_visible(text, lines=True)
    for fleet in (asff, ocsf):  # the same data, read back: AWS's text, escapes and all
        assert "\u202e|\x9b31m" in json.dumps(json.loads(fleet.read_text()), ensure_ascii=False)
    assert {f["reason"] for f in json.loads(out)["findings"]} >= {f"MultiAZ false; tag Owner={HOSTILE}"}
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert any(HOSTILE in r["message"]["text"] for r in results)


def test_the_html_report_shows_the_escapes_instead_of_the_characters(monkeypatch, capsys, aws_credentials, tmp_path):
    """A U+202E in the HTML report would make the evidence read reversed in the browser; an ESC acts on a
    terminal that shows the file."""
    import opscli.core

    monkeypatch.setattr(opscli.core, "audit", fake_run(hostile_reports()["audit"]))
    page = tmp_path / "audit.html"
    main(["audit", "--suffix", "x", "--no-history", "-o", "json", "--report", f"html={page}"])
    capsys.readouterr()
    text = page.read_text()
    assert is_visible(text, lines=True)
    assert "&lt;\\x1b[2J|" in text and "|\\u202e|" in text and "|\\x9b31m|" in text


def test_every_console_opscli_prints_through_is_the_visible_one():
    """A future view cannot forget: no module builds a rich Console but terminal.VisibleConsole."""
    built = []
    for path in sorted((ROOT / "opscli").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name == "Console":
                    built.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not built, built


PTY_RUN = """
import sys
import opscli.core
from opscli import errors
from opscli.cli import main
from tests.opscli.test_hostile_text import COMMANDS, CORE, HOSTILE, fake_run, hostile_reports

for command, report in hostile_reports().items():
    setattr(opscli.core, CORE[command], fake_run(report))
    main([*COMMANDS[command], "--suffix", "x", "--no-history", "--all"])

def denied(*_args, **_kwargs):
    raise errors.OpsError(f"AccessDenied: {HOSTILE}")

opscli.core.audit = denied
main(["audit", "--suffix", "x", "--no-history"])
"""


def test_on_a_real_terminal_nothing_hostile_reaches_it_raw():
    """The opscli process attached to a pty, as an operator runs it: rich sees a terminal (colours, the progress
    bar on stderr) for every table view and the error line."""
    master, slave = os.openpty()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "TERM": "xterm-256color",
           "COLUMNS": "400"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen([sys.executable, "-c", PTY_RUN], cwd=ROOT, env=env, stdin=slave, stdout=slave,
                               stderr=slave, close_fds=True)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + 120  # a bound so that a regression fails instead of hanging
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every end of the pty's other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
        process.wait(timeout=30)
    text = b"".join(chunks).decode("utf-8", errors="replace")
    assert process.returncode == 0 and "Traceback" not in text, text
    assert "\x1b[0m" in text and "needs someone" not in text and "every check" in text
    assert_shown_not_acted_on(text)
    assert text.count("error: AccessDenied: <\\x1b[2J|") == 1


def test_a_view_that_forgets_cell_still_cannot_reach_the_terminal():
    """The guarantee is the console's, not each view's: a raw string, a Text built elsewhere, a table's title,
    header and cell, printed with colours on, still show the escapes."""
    from io import StringIO

    from rich.table import Table
    from rich.text import Text

    from opscli.terminal import VisibleConsole

    buffer = StringIO()
    console = VisibleConsole(file=buffer, force_terminal=True, color_system="truecolor", width=400, highlight=False)
    grid = Table(title=HOSTILE)
    grid.add_column(HOSTILE)
    grid.add_row(HOSTILE)
    for renderable in (HOSTILE, Text(HOSTILE, style="bold"), grid):
        console.print(renderable, markup=False)
    text = buffer.getvalue()
    assert "\x1b[1m" in text  # colours on: rich's own codes pass
    assert_shown_not_acted_on(text)
    assert text.count("<\\x1b[2J|") == 5
