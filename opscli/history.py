"""The local history of runs: one SQLite file that every audit, drift and rotate-check appends to, so a report
can show the trend of FAIL and ERROR counts and the date each open finding first appeared (of its current,
unbroken streak). Default: $XDG_STATE_HOME/opscli/history.sqlite (~/.local/state/opscli/...); OPSCLI_HISTORY or
--history PATH choose another file, --no-history keeps none.

The file is ours or refused: it must be a regular file (a FIFO, device, directory or symlink to one is refused
before it is opened) holding our tables, or not exist yet. A history that cannot be written never changes a
run's verdict: the run says so on stderr."""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from opscli.fleet import finding_id
from opscli.model import Report
from platform_spec.result import Status

SCHEMA_VERSION = 1
TREND = 30  # runs shown in the trend
_TABLES = """
CREATE TABLE IF NOT EXISTS opscli_history (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, time TEXT NOT NULL, command TEXT NOT NULL,
    stack TEXT NOT NULL, account TEXT, region TEXT, endpoint TEXT, fail INTEGER NOT NULL, error INTEGER NOT NULL,
    pass INTEGER NOT NULL, accepted INTEGER NOT NULL, exit_code INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS findings (run INTEGER NOT NULL REFERENCES runs(id), key TEXT NOT NULL,
    rule TEXT NOT NULL, status TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS findings_run ON findings(run);
"""


class HistoryError(Exception):
    """The history file cannot be used (not ours, not a regular file, locked, corrupt)."""


def default_path(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("OPSCLI_HISTORY"):
        return Path(env["OPSCLI_HISTORY"])
    state = Path(env["XDG_STATE_HOME"]) if env.get("XDG_STATE_HOME") else Path.home() / ".local" / "state"
    return state / "opscli" / "history.sqlite"


def _open(path: Path, *, create: bool) -> sqlite3.Connection:
    try:
        mode = os.stat(path).st_mode  # follows a symbolic link: what would be opened
    except FileNotFoundError:
        if not create:
            raise HistoryError(f"history {path} does not exist") from None
        mode = None
    except OSError as exc:
        raise HistoryError(f"history {path} cannot be read: {exc.strerror}") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise HistoryError(f"history {path} is not a regular file: refused")
    if mode is None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(path, timeout=10)
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "opscli_history" not in tables:
            db.close()
            raise HistoryError(f"history {path} is an SQLite file of something else: refused")
        if create and not tables:
            db.executescript(_TABLES)
            db.execute("INSERT INTO opscli_history VALUES (?)", (SCHEMA_VERSION,))
            db.commit()
        return db
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"history {path} cannot be used: {exc}") from None


def record(path: Path, report: Report, exit_code: int) -> int:
    """Append the run and its judged findings; the run's id."""
    counts = report.counts()
    db = _open(path, create=True)
    try:
        with db:
            cursor = db.execute(
                "INSERT INTO runs (time, command, stack, account, region, endpoint, fail, error, pass, accepted, "
                "exit_code) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (report.created.isoformat(), report.command, report.stack, report.target.get("account"),
                 report.target.get("region"), report.target.get("endpoint"), counts["FAIL"], counts["ERROR"],
                 counts["PASS"], counts["ACCEPTED"], exit_code))
            run = int(cursor.lastrowid)
            db.executemany("INSERT INTO findings VALUES (?,?,?,?)",
                           [(run, finding_id(report, f), f.rule_id, f.status.value) for f in report.findings
                            if f.status is not Status.NOT_APPLICABLE])
        return run
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"history {path} cannot be written: {exc}") from None
    finally:
        db.close()


@dataclass(frozen=True)
class Past:
    """What the history says about a report: the trend (oldest first) and when each open finding first failed."""

    trend: list[dict[str, Any]]
    first_failed: dict[str, str]  # finding key -> ISO time of the first run of its current FAIL streak


def read(path: Path, report: Report) -> Past:
    """The runs of the same command on the same stack, up to and including this one if it was recorded."""
    db = _open(path, create=False)
    try:
        runs = db.execute("SELECT id, time, fail, error, pass, exit_code FROM runs WHERE command=? AND stack=? "
                          "ORDER BY id DESC LIMIT 1000", (report.command, report.stack)).fetchall()
        trend = [{"time": t, "FAIL": f, "ERROR": e, "PASS": p, "exit_code": c}
                 for _id, t, f, e, p, c in reversed(runs[:TREND])]
        open_keys = {finding_id(report, f) for f in report.findings if f.status is Status.FAIL}
        first: dict[str, str] = {}
        streaking = set(open_keys)
        for run, when, *_ in runs:  # newest first: a key's streak ends at the first run where it did not fail
            failing = {key for (key,) in db.execute("SELECT key FROM findings WHERE run=? AND status='FAIL'",
                                                    (run,))}
            for key in list(streaking):
                if key in failing:
                    first[key] = when
                else:
                    streaking.discard(key)
            if not streaking:
                break
        return Past(trend, first)
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"history {path} cannot be read: {exc}") from None
    finally:
        db.close()


def day(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso
