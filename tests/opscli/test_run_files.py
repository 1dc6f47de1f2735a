"""opscli/run_files.py: where a run's results are written. A report path or a --history it will not take is exit 2
before anything is read and left as it was; a report that cannot be written after the run makes every stated
exit code 3; a history refused after the run is said on stderr and the run's verdict stands."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from opscli import history, render, run_files
from opscli.cli import main
from opscli.errors import UsageError
from opscli.model import Finding, Report
from platform_spec import exit_codes
from platform_spec.result import Status
from platform_utils import files


def failing() -> Report:
    """A run whose verdict is FAIL (exit 1)."""
    return Report(command="audit", target={"suffix": "x", "stack": "TapStackx"},
                  findings=[Finding("kms.rotation", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key Key (k-0)", "off",
                                    severity="MEDIUM")])


def could_not_look() -> Report:
    """A run with an ERROR (exit 3)."""
    return Report(command="rotate-check", target={"suffix": "x", "stack": "TapStackx"},
                  findings=[Finding("stack.x", "STK-STACK-001", Status.ERROR, "AWS::SQS::Queue IntakeQueue (q)",
                                    "could not look: denied")])


# --- before the run: the destinations ------------------------------------------------------------------------

@pytest.mark.parametrize("special", ["fifo", "dir", "/dev/null", "link-to-fifo"])
def test_a_report_path_that_is_not_a_regular_file_is_exit_2_before_the_run_and_left_as_it_was(
        special, fifo, tmp_path, capsys, aws_credentials, monkeypatch):
    import opscli.core

    ran = []
    monkeypatch.setattr(opscli.core, "audit", lambda *a, **k: ran.append(1))
    path = {"fifo": fifo, "dir": tmp_path, "/dev/null": "/dev/null", "link-to-fifo": tmp_path / "link"}[special]
    if special == "link-to-fifo":
        path.symlink_to(fifo)
    before = os.lstat(path)
    assert main(["audit", "--suffix", "x", "--report", f"sarif={path}"]) == exit_codes.EXIT_USAGE
    err = capsys.readouterr().err
    said = "a symbolic link: not written through" if special == "link-to-fifo" else "not a regular file: not replaced"
    assert f"--report sarif {path} is" in err and said in err, err
    assert not ran
    after = os.lstat(path)
    assert (after.st_ino, stat.S_IFMT(after.st_mode)) == (before.st_ino, stat.S_IFMT(before.st_mode))
    assert not list(tmp_path.glob(".*.partial"))


@pytest.mark.parametrize("case, said", [
    ("dangling-link", "is a symbolic link: not written through"),
    ("link-to-file", "is a symbolic link: not written through"),
    ("missing-directory", "cannot be written: its directory {parent} does not exist"),
    ("trailing-slash", "names a directory; name the file, e.g. json={path}audit.json"),
    ("dot", "names a directory; name the file"),
    ("existing-directory", "is a directory, not a regular file: not replaced"),
])
def test_a_report_path_is_written_only_as_named_and_nothing_is_made_for_it(case, said, tmp_path, capsys,
                                                                           aws_credentials, monkeypatch):
    """Refused with exit 2 before anything is read: a link (dangling, it once had its target's missing
    directories made; to a file, it replaced that file), a directory that does not exist, a path that names a
    directory ("newdir/" once became a file named newdir)."""
    import opscli.core

    ran = []
    monkeypatch.setattr(opscli.core, "audit", lambda *a, **k: ran.append(1))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "real.json").write_text("kept")
    (tmp_path / "existing").mkdir()
    path = {"dangling-link": "link.json", "link-to-file": "to-real.json", "missing-directory": "x/y/z.json",
            "trailing-slash": "newdir/", "dot": "newdir/.", "existing-directory": "existing"}[case]
    (tmp_path / "link.json").symlink_to(tmp_path / "x" / "y" / "z.json")
    (tmp_path / "to-real.json").symlink_to(tmp_path / "real.json")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(["audit", "--suffix", "x", "--report", f"json={path}"]) == exit_codes.EXIT_USAGE
    err = capsys.readouterr().err
    assert said.format(path=path, parent=tmp_path / "x" / "y") in err, err
    assert "Traceback" not in err and not ran
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "real.json").read_text() == "kept"


def test_a_report_that_cannot_be_written_is_a_usage_error(aws_credentials, tmp_path, capsys, monkeypatch):
    """A report path under a file (not a directory) is refused before the run reads anything."""
    import opscli.core

    ran = []
    monkeypatch.setattr(opscli.core, "audit", lambda *a, **k: ran.append(1))
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["audit", "--suffix", "test", "-o", "json", "--report", f"sarif={blocker / 'x.sarif'}"]) == 2
    err = capsys.readouterr().err
    assert f"--report sarif {blocker / 'x.sarif'} cannot be written" in err and not list(tmp_path.glob(".*partial"))
    assert not ran


@pytest.mark.parametrize("special", ["dir", "fifo", "/dev/null"])
def test_a_history_that_exists_and_is_not_a_regular_file_is_a_usage_error_before_the_run(special, fifo, tmp_path):
    """Never opened (a FIFO would block), nothing made; a report path is judged first. A device too: README's
    exit-code table says so (--no-history, not --history /dev/null, records nothing)."""
    path = {"dir": tmp_path, "fifo": fifo, "/dev/null": Path("/dev/null")}[special]
    with pytest.raises(UsageError, match=f"^--history {path} is not a regular file$"):
        run_files.check_destinations([("json", tmp_path / "r.json")], path, keep_history=True)
    with pytest.raises(UsageError, match="--report json"):
        run_files.check_destinations([("json", tmp_path / "nowhere" / "r.json")], path, keep_history=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


def test_the_destinations_name_the_history_the_run_appends_to(tmp_path, monkeypatch):
    """--history, else OPSCLI_HISTORY; none with --no-history. A history not there yet is accepted (opscli makes
    it when it records)."""
    monkeypatch.setenv("OPSCLI_HISTORY", str(tmp_path / "env.sqlite"))
    named = tmp_path / "named.sqlite"
    assert run_files.check_destinations([], named, keep_history=True) == run_files.Destinations((), named)
    assert run_files.check_destinations([], None, keep_history=True).history == tmp_path / "env.sqlite"
    specs = [("json", tmp_path / "a.json"), ("html", tmp_path / "a.html")]
    assert run_files.check_destinations(specs, named, keep_history=False) == run_files.Destinations(tuple(specs), None)
    assert list(tmp_path.iterdir()) == []


def test_a_report_over_the_history_of_the_run_is_a_usage_error_and_the_history_is_kept(tmp_path, capsys,
                                                                                     aws_credentials, monkeypatch):
    """The report's rename would replace the history: every earlier run lost. Refused however the directory is
    spelled (here: relative, from the working directory); the history is left byte for byte."""
    import opscli.core

    ran = []
    monkeypatch.setattr(opscli.core, "audit", lambda *a, **k: ran.append(1))
    path = tmp_path / "history.sqlite"
    history.record(path, failing(), 1)
    before = path.read_bytes()
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "--suffix", "x", "--history", str(path), "--report", "json=history.sqlite"]) == \
        exit_codes.EXIT_USAGE
    err = capsys.readouterr().err
    assert "error: --report json history.sqlite is the history this run is recorded in: name another file" in err
    assert path.read_bytes() == before and not ran
    monkeypatch.setenv("OPSCLI_HISTORY", str(path))  # the default history too
    assert main(["audit", "--suffix", "x", "--report", "html=history.sqlite"]) == exit_codes.EXIT_USAGE
    assert "error: --report html history.sqlite is the history" in capsys.readouterr().err
    assert path.read_bytes() == before and not ran


@pytest.mark.parametrize("second", ["same", "through-a-link", "same-format"])
def test_two_reports_naming_one_file_are_a_usage_error(second, tmp_path):
    """One would replace the other; refused before the run, whichever way the second names it."""
    (tmp_path / "out").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "out")
    first = ("json", tmp_path / "out" / "r")
    other = {"same": ("sarif", tmp_path / "out" / "r"), "through-a-link": ("sarif", tmp_path / "link" / "r"),
             "same-format": first}[second]
    with pytest.raises(UsageError, match=f"^--report {other[0]} {other[1]} is named by --report json too: name "
                                         "each report its own file$"):
        run_files.check_destinations([first, other], None, keep_history=False)
    assert run_files.check_destinations([first, ("sarif", tmp_path / "out" / "r.sarif")], tmp_path / "out" / "h",
                                        keep_history=True).history == tmp_path / "out" / "h"
    assert not list((tmp_path / "out").iterdir())


# --- after the run: the history, then the report files -------------------------------------------------------

@pytest.mark.parametrize("output", ["json", "table"])
def test_a_report_that_cannot_be_written_after_the_run_makes_every_stated_exit_code_3(
        output, monkeypatch, capsys, aws_credentials, tmp_path):
    """A FAIL verdict (1), then one --report file cannot be written (its directory went away during the run):
    the process exits 3, stdout and the report that was written say 3, and stderr says which file and why."""
    import shutil

    import opscli.core

    (tmp_path / "gone").mkdir()

    def run(*_args, **_kwargs):
        shutil.rmtree(tmp_path / "gone")  # after the paths were checked, as a full disk or a revoked right would
        return failing()

    monkeypatch.setattr(opscli.core, "audit", run)
    code = main(["audit", "--suffix", "x", "-o", output, "--no-history", "--no-color",
                 "--report", f"json={tmp_path / 'kept.json'}", "--report", f"sarif={tmp_path / 'kept.sarif'}",
                 "--report", f"sarif={tmp_path / 'gone' / 'a.sarif'}"])
    captured = capsys.readouterr()
    assert code == exit_codes.EXIT_INCOMPLETE, captured.err
    if output == "json":
        assert json.loads(captured.out)["summary"]["exit_code"] == exit_codes.EXIT_INCOMPLETE
    else:
        assert "exit code 3" in captured.out and "exit code 1" not in captured.out, captured.out
    assert json.loads((tmp_path / "kept.json").read_text())["summary"]["exit_code"] == exit_codes.EXIT_INCOMPLETE
    [invocation] = json.loads((tmp_path / "kept.sarif").read_text())["runs"][0]["invocations"]
    assert invocation["exitCode"] == exit_codes.EXIT_INCOMPLETE and invocation["executionSuccessful"] is False
    assert f"error: --report sarif {tmp_path / 'gone' / 'a.sarif'} cannot be written: its directory " \
           f"{tmp_path / 'gone'} does not exist" in captured.err
    assert not (tmp_path / "gone").exists() and "Traceback" not in captured.err


def test_a_report_path_that_cannot_be_written_after_the_run_is_shown_as_text(monkeypatch, capsys, aws_credentials,
                                                                            tmp_path):
    """Its name's control, bidi and bell characters are shown as escapes on stderr, as the same path refused
    before the run is (the error boundary's line), never acted on by the terminal."""
    import shutil

    import opscli.core

    gone = tmp_path / "g\x1b[2J\u202e\x07\r"
    gone.mkdir()

    def run(*_args, **_kwargs):
        shutil.rmtree(gone)
        return failing()

    monkeypatch.setattr(opscli.core, "audit", run)
    assert main(["audit", "--suffix", "x", "--no-history", "-o", "json", "--report", f"json={gone / 'a.json'}"]) \
        == exit_codes.EXIT_INCOMPLETE
    err = capsys.readouterr().err
    assert f"error: --report json {tmp_path}/g\\x1b[2J\\u202e\\x07\\x0d/a.json cannot be written" in err, err
    assert not any(raw in err for raw in ("\x1b", "\u202e", "\x07", "\r")), err


def refusing(monkeypatch, refuse) -> list[tuple[str, str]]:
    """files.write_whole refusing the writes `refuse(name, nth write of that name)` says; the writes made."""
    real = files.write_whole
    made: list[tuple[str, str]] = []

    def write_whole(path, text, what, **kwargs):
        n = sum(name == path.name for name, _ in made)
        made.append((path.name, text))
        if refuse(path.name, n):
            raise files.FileRefused(f"{what} {path} cannot be written: refused here")
        return real(path, text, what, **kwargs)

    monkeypatch.setattr(files, "write_whole", write_whole)
    return made


def test_a_report_written_before_the_failure_that_cannot_be_written_again_says_which_code_it_states(
        tmp_path, monkeypatch):
    """a.json is written with exit code 1, b.sarif fails, and a.json cannot then be rewritten with 3: the run ends
    3 and the message says that a.json states 1."""
    made = refusing(monkeypatch, lambda name, n: name == "b.sarif" or (name == "a.json" and n == 1))
    specs = (("json", tmp_path / "a.json"), ("sarif", tmp_path / "b.sarif"))
    delivered = run_files.deliver(failing(), 1, run_files.Destinations(specs, None), show_all=False,
                                  include_pass=False)
    assert delivered == run_files.Delivered(exit_codes.EXIT_INCOMPLETE, None, (
        f"--report sarif {tmp_path / 'b.sarif'} cannot be written: refused here",
        f"--report json {tmp_path / 'a.json'} cannot be written: refused here (it says exit code 1)"))
    assert [name for name, _ in made] == ["a.json", "b.sarif", "a.json"]
    assert json.loads((tmp_path / "a.json").read_text())["summary"]["exit_code"] == 1


def test_a_run_that_already_ends_3_writes_each_report_once(tmp_path, monkeypatch):
    """Nothing to correct: the reports written already say 3."""
    made = refusing(monkeypatch, lambda name, n: name == "b.sarif")
    specs = (("json", tmp_path / "a.json"), ("sarif", tmp_path / "b.sarif"))
    delivered = run_files.deliver(could_not_look(), exit_codes.EXIT_INCOMPLETE, run_files.Destinations(specs, None),
                                  show_all=False, include_pass=False)
    assert delivered.code == exit_codes.EXIT_INCOMPLETE and len(delivered.unwritten) == 1
    assert [name for name, _ in made] == ["a.json", "b.sarif"]


def test_the_history_keeps_the_runs_verdict_when_a_report_cannot_be_written(tmp_path, monkeypatch):
    """The run could look and found a FAIL: recorded as 1 (a run that could look), though it ends 3 for a file."""
    refusing(monkeypatch, lambda name, n: name == "b.sarif")
    path = tmp_path / "history.sqlite"
    specs = (("json", tmp_path / "a.json"), ("sarif", tmp_path / "b.sarif"))
    delivered = run_files.deliver(failing(), 1, run_files.Destinations(specs, path), show_all=False,
                                  include_pass=False)
    assert delivered.code == exit_codes.EXIT_INCOMPLETE and delivered.history_refused is None
    db = sqlite3.connect(path)
    assert db.execute("SELECT exit_code, looked FROM runs").fetchall() == [(1, 1)]
    db.close()


@pytest.mark.parametrize("fmt, reads", [("json", False), ("sarif", False), ("table", False), ("html", True),
                                        ("asff", True), ("ocsf", True)])
def test_the_history_is_read_back_only_for_the_reports_that_show_it(fmt, reads, tmp_path, monkeypatch):
    """After this run is recorded, so that it is in the trend it shows."""
    seen = []
    real = render.render

    def spy(report, f, code, **kwargs):
        seen.append(kwargs["past"])
        return real(report, f, code, **kwargs)

    monkeypatch.setattr(render, "render", spy)
    destinations = run_files.Destinations(((fmt, tmp_path / f"r.{fmt}"),), tmp_path / "history.sqlite")
    assert run_files.deliver(failing(), 1, destinations, show_all=False, include_pass=False).code == 1
    [past] = seen
    assert (past is not None) == reads
    if reads:
        assert [run["exit_code"] for run in past.trend] == [1]


def test_no_history_records_nothing(tmp_path):
    destinations = run_files.Destinations((("html", tmp_path / "r.html"),), None)
    assert run_files.deliver(failing(), 1, destinations, show_all=False, include_pass=False) == \
        run_files.Delivered(1, None, ())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    assert "No history" in (tmp_path / "r.html").read_text()


def test_the_cli_prints_the_report_and_keeps_its_verdict_when_the_history_is_refused(tmp_path, capsys,
                                                                                   monkeypatch):
    from opscli import cli, core

    monkeypatch.setattr(core, "rotate_secrets", lambda *a, **k: failing())
    victim = tmp_path / "victim"
    victim.touch()
    link = tmp_path / "history.sqlite"
    link.symlink_to(victim)
    code = cli.main(["rotate-check", "secrets", "--suffix", "x", "--history", str(link), "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 1 and json.loads(out)["findings"]  # the run's FAIL decides the exit code, as without a history
    assert f"opscli: history not recorded: history {link} is a symbolic link" in err
    assert victim.read_bytes() == b""


def test_the_cli_says_when_the_history_was_not_recorded(tmp_path, capsys, monkeypatch):
    from opscli import cli as opscli_cli
    from opscli import core

    monkeypatch.setattr(core, "rotate_secrets", lambda *a, **k: could_not_look())
    foreign = tmp_path / "other.sqlite"
    foreign.write_bytes(b"\x00garbage" * 50)
    code = opscli_cli.main(["rotate-check", "secrets", "--suffix", "x", "--history", str(foreign), "-o", "json"])
    err = capsys.readouterr().err
    assert code == 3 and "opscli: history not recorded: history" in err  # exit 3: the sample has an ERROR
    assert opscli_cli.main(["rotate-check", "secrets", "--suffix", "x", "--history", str(tmp_path)]) == 2


def test_a_history_refused_when_read_back_is_said_and_the_reports_are_written_without_it(tmp_path, monkeypatch):
    """Recorded, then the read for the HTML page refused (locked, replaced): the page says it has no history."""
    def refused(*_args):
        raise history.HistoryError("history h is locked")

    monkeypatch.setattr(history, "read", refused)
    destinations = run_files.Destinations((("html", tmp_path / "r.html"),), tmp_path / "history.sqlite")
    assert run_files.deliver(failing(), 1, destinations, show_all=False, include_pass=False) == \
        run_files.Delivered(1, "history h is locked", ())
    assert "No history" in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("no_history", [True, False])
def test_without_a_home_directory_a_run_ends_with_its_own_verdict(no_history, tmp_path, capsys, monkeypatch):
    """No HOME, no password entry for this user (a container run with an arbitrary uid), no OPSCLI_HISTORY nor
    XDG_STATE_HOME: with --no-history nothing is said; without, the run says the history has no place to go.
    Either way its report and exit code stand (it once ended in an internal error, exit 3, even with
    --no-history)."""
    from pathlib import Path

    from opscli import cli, core

    def homeless(*_args):
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", homeless)
    monkeypatch.delenv("OPSCLI_HISTORY", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setattr(core, "rotate_secrets", lambda *a, **k: failing())
    code = cli.main(["rotate-check", "secrets", "--suffix", "x", "-o", "json",
                     "--report", f"html={tmp_path / 'r.html'}", *(["--no-history"] if no_history else [])])
    out, err = capsys.readouterr()
    assert code == 1 and json.loads(out)["summary"]["exit_code"] == 1, err
    said = "opscli: history not recorded: no place for it: no OPSCLI_HISTORY, no XDG_STATE_HOME and no home directory"
    assert (said in err) != no_history and "internal error" not in err, err
    assert "No history" in (tmp_path / "r.html").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def test_a_report_hard_linked_to_the_history_replaces_only_its_own_name(tmp_path):
    """A --report path that is a second name of the history file (a hard link: another name, so not refused as the
    history's own) is written by rename: the report name gets the report, and the history keeps every run in it."""
    path = tmp_path / "history.sqlite"
    destinations = run_files.Destinations((), path)
    assert run_files.deliver(failing(), 1, destinations, show_all=False, include_pass=False).code == 1
    linked = tmp_path / "report.json"
    os.link(path, linked)
    destinations = run_files.check_destinations([("json", linked)], path, keep_history=True)
    assert run_files.deliver(failing(), 1, destinations, show_all=False, include_pass=False).code == 1
    assert json.loads(linked.read_text())["summary"]["exit_code"] == 1
    assert os.stat(linked).st_ino != os.stat(path).st_ino
    db = sqlite3.connect(path)
    assert db.execute("SELECT exit_code FROM runs").fetchall() == [(1,), (1,)]
    db.close()
