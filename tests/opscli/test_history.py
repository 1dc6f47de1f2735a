"""The local history opens only its own database: a file it created, marked with its application_id, named
directly; every other file is refused and left byte for byte as it was."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from opscli import history
from opscli.model import Finding, Report
from platform_spec.result import Status

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


def _record_runs(path: str, start, runs: int) -> None:
    start.wait()
    for n in range(runs):
        history.record(Path(path), report(n), 1)


def test_concurrent_runs_create_one_history_and_lose_no_run(tmp_path):
    """Processes that start together on a history that does not exist yet: one creates it, every run of every
    process is in it."""
    path, workers, runs = tmp_path / "history.sqlite", 4, 5
    context = multiprocessing.get_context("fork")
    start = context.Barrier(workers)
    processes = [context.Process(target=_record_runs, args=(str(path), start, runs)) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    assert [process.exitcode for process in processes] == [0] * workers
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == workers * runs
    db.close()
    assert mark(path) == OURS and sorted(p.name for p in tmp_path.iterdir()) == ["history.sqlite"]


def test_the_cli_prints_the_report_and_keeps_its_verdict_when_the_history_is_refused(tmp_path, capsys,
                                                                                   monkeypatch):
    from opscli import cli, core

    monkeypatch.setattr(core, "rotate_secrets", lambda *a, **k: report())
    victim = tmp_path / "victim"
    victim.touch()
    link = tmp_path / "history.sqlite"
    link.symlink_to(victim)
    code = cli.main(["rotate-check", "secrets", "--suffix", "x", "--history", str(link), "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 1 and json.loads(out)["findings"]  # the run's FAIL decides the exit code, as without a history
    assert f"opscli: history not recorded: history {link} is a symbolic link" in err
    assert victim.read_bytes() == b""
