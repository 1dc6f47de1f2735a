"""The local history opens only its own database: a file it created, marked with its application_id, named
directly; every other file is refused and left byte for byte as it was."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest

from opscli import history
from opscli.model import Finding, Report
from platform_spec.result import Status
from tests.conftest import ROOT, unmeasured

OURS = 0x6F707363  # "opsc", written out here so that a history without the mark fails these tests


def report(n: int = 0) -> Report:
    return Report(command="audit", target={"suffix": "x", "stack": "TapStackx"},
                  findings=[Finding("kms.rotation", "STK-KMS-002", Status.FAIL, f"AWS::KMS::Key Key (k-{n})", "off",
                                    severity="MEDIUM")])


def mark(path: Path) -> int:
    """The application_id in the file's SQLite header."""
    return int.from_bytes(path.read_bytes()[68:72], "big")


def snapshot(directory: Path) -> dict[str, bytes | str]:
    """Every name in `directory` with its bytes (a link: where it points), to show that nothing was changed,
    added or removed."""
    return {entry.name: os.readlink(entry) if entry.is_symlink() else entry.read_bytes()
            for entry in sorted(directory.iterdir())}


def legacy_history(path: Path) -> None:
    """A history as opscli made it before the mark: its tables, no application_id."""
    db = sqlite3.connect(path)
    db.executescript(history._TABLES)
    db.execute("INSERT INTO opscli_history VALUES (1)")
    db.commit()
    db.close()


def refused(path: Path, *words: str) -> str:
    with pytest.raises(history.HistoryError) as caught:
        history.record(path, report(), 1)
    message = str(caught.value)
    assert str(path) in message and "refused" in message and "--history" in message, message
    assert all(word in message for word in words), message
    return message


def test_a_new_history_is_created_marked_as_ours_and_private(tmp_path):
    path = tmp_path / "state" / "opscli" / "history.sqlite"
    assert history.record(path, report(), 1) == 1
    assert history.record(path, report(), 1) == 2
    assert mark(path) == OURS
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["history.sqlite"]  # no partial file left beside it
    assert [r["FAIL"] for r in history.read(path, report()).trend] == [1, 1]


@pytest.mark.parametrize("target", ["empty foreign file", "opscli history"])
def test_a_symbolic_link_is_never_followed(tmp_path, target):
    real = tmp_path / "real"
    if target == "empty foreign file":
        real.touch()
    else:
        history.record(real, report(), 1)
    link = tmp_path / "history.sqlite"
    link.symlink_to(real)
    before = snapshot(tmp_path)
    refused(link, "symbolic link")
    with pytest.raises(history.HistoryError, match="symbolic link"):
        history.read(link, report())
    assert snapshot(tmp_path) == before  # an empty file stays empty (size 0), a history gets no row
    assert link.is_symlink()


def test_a_dangling_link_does_not_create_its_target(tmp_path):
    link = tmp_path / "history.sqlite"
    link.symlink_to(tmp_path / "elsewhere.sqlite")
    refused(link, "symbolic link")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.sqlite"]


@pytest.mark.parametrize("foreign", ["a view only", "user_version only", "another application_id", "a table",
                                     "our tables and a trigger", "empty file", "not sqlite"])
def test_a_file_that_is_not_ours_is_refused_and_left_byte_for_byte(tmp_path, foreign):
    path = tmp_path / "history.sqlite"
    statements = {"a view only": "CREATE VIEW v AS SELECT 1",
                  "user_version only": "PRAGMA user_version = 7",
                  "another application_id": "PRAGMA application_id = 1234",
                  "a table": "CREATE TABLE users (name TEXT)"}
    if foreign in statements:
        db = sqlite3.connect(path)
        db.execute(statements[foreign])
        db.commit()
        db.close()
    elif foreign == "our tables and a trigger":
        legacy_history(path)
        db = sqlite3.connect(path)
        db.execute("CREATE TRIGGER t AFTER INSERT ON runs BEGIN DELETE FROM runs; END")
        db.commit()
        db.close()
    elif foreign == "empty file":
        path.touch()
    else:
        path.write_bytes(b"\x00not a database" * 100)
    before = snapshot(tmp_path)
    message = refused(path)
    assert "left as it is" in message
    if foreign == "another application_id":
        assert "application_id 0x000004d2" in message
    with pytest.raises(history.HistoryError):
        history.read(path, report())
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_directory_or_a_fifo_is_refused_without_being_opened(tmp_path, kind):
    path = tmp_path / "history.sqlite"
    path.mkdir() if kind == "directory" else os.mkfifo(path)
    refused(path, "not a regular file")  # a FIFO opened for reading would wait here for a writer
    assert stat.S_ISDIR(path.lstat().st_mode) if kind == "directory" else stat.S_ISFIFO(path.lstat().st_mode)


def test_a_history_made_before_the_mark_is_adopted_when_its_schema_is_exactly_ours(tmp_path):
    path = tmp_path / "history.sqlite"
    legacy_history(path)
    history.read(path, report())  # reading does not write: still unmarked
    assert mark(path) == 0
    assert history.record(path, report(), 1) == 1
    assert mark(path) == OURS


def test_the_history_lives_only_in_a_directory_no_other_user_can_write_to(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    refused(shared / "history.sqlite", "other users can write to", "0777")
    assert list(shared.iterdir()) == []
    shared.chmod(0o1777)  # sticky, as /tmp: no one else can rename or remove our file there
    history.record(shared / "history.sqlite", report(), 1)
    assert mark(shared / "history.sqlite") == OURS


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user takes root")
def test_a_history_of_another_user_is_refused(tmp_path):
    path = tmp_path / "history.sqlite"
    history.record(path, report(), 1)
    os.chown(path, 4242, 4242)
    before = snapshot(tmp_path)
    refused(path, "another user (uid 4242)")
    assert snapshot(tmp_path) == before


def test_a_file_swapped_in_while_sqlite_opens_it_is_refused(tmp_path, monkeypatch):
    """SQLite opens by name: a file put in the history's place just before SQLite opens it and taken away just
    after is seen by the descriptor SQLite holds, not by the name, which leads to our history again."""
    path, foreign, aside = tmp_path / "history.sqlite", tmp_path / "foreign.sqlite", tmp_path / "aside"
    history.record(path, report(), 1)
    db = sqlite3.connect(foreign)
    db.execute(f"PRAGMA application_id = {OURS}")  # even a forged mark does not pass: it is another file
    db.close()
    connect = sqlite3.connect

    def swapping(*args, **kwargs):
        os.rename(path, aside)
        os.rename(foreign, path)
        try:
            return connect(*args, **kwargs)
        finally:
            os.rename(path, foreign)
            os.rename(aside, path)

    before = snapshot(tmp_path)
    monkeypatch.setattr(sqlite3, "connect", swapping)
    refused(path, "replaced while it was being opened")
    monkeypatch.undo()
    assert snapshot(tmp_path) == before


def test_a_file_planted_while_the_history_is_created_is_refused_and_the_partial_one_removed(tmp_path, monkeypatch):
    path, planted = tmp_path / "history.sqlite", tmp_path / "victim"
    planted.touch()
    link = os.link

    def planting(source, destination, **kwargs):
        Path(destination).symlink_to(planted)
        return link(source, destination, **kwargs)

    monkeypatch.setattr(os, "link", planting)
    refused(path, "symbolic link")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.sqlite", "victim"]
    assert planted.read_bytes() == b""


#: The writers of the concurrent test, run by a new interpreter: it has one thread, so it forks them safely (a fork
#: of the multi-threaded test process may copy a lock another thread holds, and the child waits on it forever), and
#: it imports opscli and this module's `report` once for all of them. It prints their exit codes.
_WRITERS = """\
import multiprocessing, sys
from pathlib import Path

from opscli import history
from tests.opscli.test_history import report


def record_runs(path, start, runs):
    start.wait()
    for n in range(runs):
        history.record(path, report(n), 1)


path, workers, runs = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
context = multiprocessing.get_context("fork")
start = context.Barrier(workers)
processes = [context.Process(target=record_runs, args=(path, start, runs)) for _ in range(workers)]
for process in processes:
    process.start()
for process in processes:
    process.join()
print(*(process.exitcode for process in processes))
"""


def test_concurrent_runs_create_one_history_and_lose_no_run(tmp_path):
    """Processes that start together on a history that does not exist yet: one creates it, every run of every
    process is in it. Their parent is a new interpreter (`_WRITERS`), which says nothing on stderr, not even
    Python's warning against forking a multi-threaded process; unmeasured, as what the writers run is measured in
    this process by the tests above."""
    path, workers, runs = tmp_path / "history.sqlite", 4, 5
    # -W: that warning is raised in multiprocessing, where Python's default filters hide DeprecationWarning
    done = subprocess.run([sys.executable, "-W", "default::DeprecationWarning", "-c", _WRITERS, str(path),
                           str(workers), str(runs)], cwd=ROOT, env=unmeasured(os.environ), capture_output=True,
                          text=True, check=False, timeout=120)
    assert (done.returncode, done.stdout.split(), done.stderr) == (0, ["0"] * workers, "")
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == workers * runs
    db.close()
    assert mark(path) == OURS and sorted(p.name for p in tmp_path.iterdir()) == ["history.sqlite"]


# --- runs that could not look, streaks, and the schema's versions --------------------------------------------

def run_of(n: int, *findings: Finding, command: str = "audit") -> Report:
    """A run of the audit of TapStackx on day `n` of December 2026."""
    from datetime import datetime, timedelta

    return Report(command=command, target={"suffix": "x", "stack": "TapStackx"}, findings=list(findings),
                  created=datetime(2026, 12, 1, 9, 0, tzinfo=UTC) + timedelta(days=n))


KEY = "TapStackx/STK-KMS-002/Key/kms.rotation"


def rotation(status: Status) -> Finding:
    return Finding("kms.rotation", "STK-KMS-002", status, "AWS::KMS::Key Key (k-1)", status.value.lower())


def could_not_look() -> Finding:
    """What a run against a dead endpoint finds: one ERROR about the stack, nothing about its resources."""
    return Finding("stack.scope", "STK-STACK-001", Status.ERROR, "TapStackx", "could not look: endpoint unreachable")


def test_a_run_that_could_not_look_neither_resets_failing_since_nor_enters_the_trend(tmp_path):
    path = tmp_path / "history.sqlite"
    history.record(path, run_of(0, rotation(Status.PASS)), 0)
    history.record(path, run_of(1, rotation(Status.FAIL)), 1)
    history.record(path, run_of(2, could_not_look()), 3)  # a dead endpoint: exit 3
    history.record(path, run_of(3, rotation(Status.ERROR)), 3)  # this check could not look
    last = run_of(4, rotation(Status.FAIL))
    history.record(path, last, 1)
    past = history.read(path, last)
    assert past.first_failed == {KEY: run_of(1).created.isoformat()}  # still failing since day 1
    assert [(r["time"][:10], r["FAIL"]) for r in past.trend] == [("2026-12-01", 0), ("2026-12-02", 1),
                                                                  ("2026-12-05", 1)]
    assert [(r["time"][:10], r["exit_code"]) for r in past.could_not_look] == [("2026-12-04", 3), ("2026-12-03", 3)]
    assert past.first_seen == {KEY: run_of(0).created.isoformat()}
    db = sqlite3.connect(path)
    assert db.execute("SELECT exit_code, looked FROM runs ORDER BY id").fetchall() == \
        [(0, 1), (1, 1), (3, 0), (3, 0), (1, 1)]
    db.close()


def test_a_verdict_that_a_run_which_could_not_look_did_reach_still_counts(tmp_path):
    """Exit 3 may come from one check among many: where that run did judge a finding, its verdict is evidence."""
    path = tmp_path / "history.sqlite"
    history.record(path, run_of(0, rotation(Status.FAIL)), 1)
    history.record(path, run_of(1, rotation(Status.PASS), could_not_look()), 3)  # fixed, while another check erred
    last = run_of(2, rotation(Status.FAIL))
    history.record(path, last, 1)
    assert history.read(path, last).first_failed == {KEY: last.created.isoformat()}  # failing again since day 2


def test_failing_since_holds_however_many_runs_the_streak_spans(tmp_path, monkeypatch):
    """Each finding is recorded with the start of its streak, so "since" (FirstObservedAt) stays the run that began
    it when the streak is longer than the runs a report reads back (RUNS_READ: 1,000, an hourly audit's six weeks;
    3 here), through runs that could not look; a history written before that column is walked as before."""
    monkeypatch.setattr(history, "RUNS_READ", 3)
    path = tmp_path / "history.sqlite"
    history.record(path, run_of(0, rotation(Status.PASS)), 0)
    for day in range(1, 7):
        history.record(path, run_of(day, rotation(Status.FAIL)), 1)
        history.record(path, run_of(day, could_not_look()), 3)
    last = run_of(7, rotation(Status.FAIL))
    history.record(path, last, 1)
    past = history.read(path, last)
    assert past.first_failed == past.streak_since == {KEY: run_of(1).created.isoformat()}
    assert len(past.trend) + len(past.could_not_look) == 3  # what is read back stays bounded
    history.record(path, run_of(8, rotation(Status.PASS)), 0)  # fixed: a new streak begins
    assert history.read(path, run_of(8, rotation(Status.PASS))).streak_since == {KEY: run_of(8).created.isoformat()}


def test_a_compliance_view_neither_ends_the_audits_streaks_nor_enters_its_trend(tmp_path):
    """`--compliance F` keeps only F's rules: recorded among the whole audit's runs, it ended the streak of every
    finding it left out (failing since reset) and drew a FAIL count of its own in the trend. A view is its own
    series of runs."""
    from dataclasses import replace

    path = tmp_path / "history.sqlite"
    other = Finding("key.enabled", "STK-KMS-001", Status.FAIL, "AWS::KMS::Key Key (k-1)", "off")
    history.record(path, run_of(0, rotation(Status.FAIL), other), 1)
    view = replace(run_of(1, other), compliance="checkov")  # a view that kept only the other finding
    history.record(path, view, 1)
    last = run_of(2, rotation(Status.FAIL), other)
    history.record(path, last, 1)
    past = history.read(path, last)
    assert past.first_failed[KEY] == run_of(0).created.isoformat()
    assert [r["FAIL"] for r in past.trend] == [2, 2]
    assert len(history.read(path, view).trend) == 1


def test_every_judged_finding_has_the_start_of_its_streak_and_when_it_was_first_seen(tmp_path):
    path = tmp_path / "history.sqlite"
    other = Finding("key.enabled", "STK-KMS-001", Status.PASS, "AWS::KMS::Key Key (k-1)", "on")
    history.record(path, run_of(0, rotation(Status.FAIL)), 1)
    history.record(path, run_of(1, rotation(Status.PASS), other), 0)
    history.record(path, run_of(2, rotation(Status.PASS), other), 0)
    history.record(path, run_of(3, rotation(Status.PASS), command="drift"), 0)  # another command: not its streak
    last = run_of(4, rotation(Status.PASS), other)
    history.record(path, last, 0)
    past = history.read(path, last)
    assert past.streak_since == {KEY: run_of(1).created.isoformat(),
                                 "TapStackx/STK-KMS-001/Key/key.enabled": run_of(1).created.isoformat()}
    assert past.first_seen[KEY] == run_of(0).created.isoformat() and past.first_failed == {}
    unrecorded = run_of(5, rotation(Status.FAIL))
    assert history.read(path, unrecorded).streak_since == {}  # not recorded: nothing says since when


def marked_schema_1(path: Path, *runs: tuple[int, int]) -> None:
    """A history as opscli wrote it at schema 1, marked, with runs (day, exit code) of one FAIL each."""
    legacy_history(path)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA application_id = {OURS}")
    for day, code in runs:
        report = run_of(day, rotation(Status.FAIL))
        cursor = db.execute("INSERT INTO runs (time, command, stack, fail, error, pass, accepted, exit_code) "
                            "VALUES (?, 'audit', 'TapStackx', 1, 0, 0, 0, ?)", (report.created.isoformat(), code))
        db.execute("INSERT INTO findings VALUES (?, ?, 'STK-KMS-002', 'FAIL')", (cursor.lastrowid, KEY))
    db.commit()
    db.close()


def schema(path: Path) -> list:
    db = sqlite3.connect(path)
    try:
        return [*db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name"),
                *db.execute("SELECT version FROM opscli_history")]
    finally:
        db.close()


def test_a_history_of_an_earlier_schema_is_read_as_it_is_and_migrated_on_the_next_run(tmp_path):
    old, new = tmp_path / "old" / "history.sqlite", tmp_path / "new" / "history.sqlite"
    old.parent.mkdir()
    marked_schema_1(old, (0, 1), (1, 3), (2, 1))
    before = old.read_bytes()
    past = history.read(old, run_of(2, rotation(Status.FAIL)))  # read-only: the exit codes say which could look
    assert [r["time"][:10] for r in past.trend] == ["2026-12-01", "2026-12-03"] and len(past.could_not_look) == 1
    assert old.read_bytes() == before
    history.record(old, run_of(3, rotation(Status.FAIL)), 1)
    history.record(new, run_of(3, rotation(Status.FAIL)), 1)
    assert schema(old) == schema(new) and schema(new)[-1] == (history.SCHEMA_VERSION,)
    db = sqlite3.connect(old)
    assert db.execute("SELECT exit_code, looked FROM runs ORDER BY id").fetchall() == [(1, 1), (3, 0), (1, 1), (1, 1)]
    db.close()
    assert history.read(old, run_of(3, rotation(Status.FAIL))).first_failed == {KEY: run_of(0).created.isoformat()}


def test_a_history_made_before_the_mark_is_adopted_and_migrated(tmp_path):
    path = tmp_path / "history.sqlite"
    legacy_history(path)
    history.record(path, report(), 1)
    assert mark(path) == OURS and schema(path)[-1] == (history.SCHEMA_VERSION,)


@pytest.mark.parametrize(("version", "said"), [
    ("99", f"was written by a newer opscli (history schema 99; this one reads up to {history.SCHEMA_VERSION})"),
    ("'two'", "whose schema version cannot be read"), (None, "whose schema version cannot be read"),
    ("1), (2", "whose schema version cannot be read")])
def test_a_history_of_a_version_this_opscli_cannot_read_is_refused_and_left_as_it_is(tmp_path, version, said):
    path = tmp_path / "history.sqlite"
    history.record(path, report(), 1)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM opscli_history")
    if version is not None:
        db.execute(f"INSERT INTO opscli_history VALUES ({version})")
    db.commit()
    db.close()
    before = snapshot(tmp_path)
    refused(path, said)
    with pytest.raises(history.HistoryError, match=re.escape(said)):
        history.read(path, report())
    assert snapshot(tmp_path) == before


def test_a_marked_history_whose_tables_are_not_those_of_its_version_is_not_migrated(tmp_path):
    path = tmp_path / "history.sqlite"
    marked_schema_1(path, (0, 1))
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE extra (x)")
    db.commit()
    db.close()
    before = snapshot(tmp_path)
    refused(path, "does not have the tables of opscli's history schema 1")
    assert snapshot(tmp_path) == before


def test_a_run_against_a_dead_endpoint_leaves_failing_since_unchanged(tmp_path, capsys, aws_credentials,
                                                                      monkeypatch):
    """The CLI end to end: nothing listens on port 9, so the audit could not look (exit 3); it is recorded as such
    and the finding that was failing before it is still failing since the same run."""
    import functools

    from opscli import cli
    from opscli.aws import Aws
    from opscli.cli import main

    monkeypatch.setattr(cli, "Aws", functools.partial(Aws, max_attempts=1))  # one refused connection says it all
    path = tmp_path / "history.sqlite"
    failing = run_of(0, rotation(Status.FAIL))
    history.record(path, failing, 1)
    since = history.read(path, failing).first_failed
    assert main(["audit", "--suffix", "x", "--endpoint-url", "http://127.0.0.1:9", "--history", str(path),
                 "-o", "json"]) == 3
    assert json.loads(capsys.readouterr().out)["findings"][0]["reason"].startswith("could not look")
    again = run_of(9, rotation(Status.FAIL))
    history.record(path, again, 1)
    past = history.read(path, again)
    assert past.first_failed == since == {KEY: failing.created.isoformat()}
    assert len(past.trend) == 2 and [r["exit_code"] for r in past.could_not_look] == [3]
