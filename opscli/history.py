"""The local history of runs: one SQLite file that every audit, drift and rotate-check appends to, so a report
can show the trend of FAIL counts, since when each finding has had its status (of its current, unbroken streak)
and when it was first seen at all (Security Hub's and OCSF's observed and created times). A run that could not
look (exit 3 or 130: an endpoint down, the wrong account, checks without an answer) is recorded as such: it is
left out of the trend, and a check it reached no verdict on neither continues nor ends a streak. Default:
$XDG_STATE_HOME/opscli/history.sqlite (~/.local/state/opscli/...); OPSCLI_HISTORY or --history PATH choose
another file, --no-history keeps none.

The file is opscli's or it is refused and left as it is. opscli marks each history it creates with its own
SQLite application_id, and opens only a regular file of this user that carries that mark, named directly (never
through a symbolic link), in a directory no other user can write to. Anything else is refused before SQLite sees
it: a FIFO, device or directory (never opened, so nothing waits), an empty file, another program's database. A
history is created whole beside its final name and linked into place only if nothing is there yet, so no run
ever sees one half made and no existing file is ever turned into a database. A history made before the mark
existed is adopted (marked) only when its schema is exactly opscli's.

SQLite opens files by name, and Python's sqlite3 cannot ask it not to follow a link, so each open is checked
on both sides: before, the file is opened here with O_NOFOLLOW and judged by what was opened; after, the
descriptor SQLite opened must be that same file (dev and inode, read from /proc/self/fd where the system has
it) and the name must still lead to it. A history that cannot be used never changes a run's verdict: the run
says so on stderr."""

from __future__ import annotations

import errno
import functools
import os
import sqlite3
import stat
import tempfile
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from opscli.fleet import finding_id
from opscli.model import Report
from platform_spec.exit_codes import EXIT_INCOMPLETE, EXIT_INTERRUPTED
from platform_spec.result import Status
from platform_utils import files

SCHEMA_VERSION = 3
APPLICATION_ID = 0x6F707363  # "opsc": PRAGMA application_id, bytes 68-71 of the header of every history we create
TREND = 30  # runs shown in the trend
RUNS_READ = 1000  # runs read back for a report: its trend, the runs that could not look, rows recorded before schema 3
COULD_NOT_LOOK = (EXIT_INCOMPLETE, EXIT_INTERRUPTED)  # the exit codes of a run that could not look
# Schema 1, exactly as opscli first made it: also how a history made before APPLICATION_ID is recognised (its
# sqlite_master must equal this). Never change it: a later schema is a migration below.
_TABLES = """
CREATE TABLE IF NOT EXISTS opscli_history (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, time TEXT NOT NULL, command TEXT NOT NULL,
    stack TEXT NOT NULL, account TEXT, region TEXT, endpoint TEXT, fail INTEGER NOT NULL, error INTEGER NOT NULL,
    pass INTEGER NOT NULL, accepted INTEGER NOT NULL, exit_code INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS findings (run INTEGER NOT NULL REFERENCES runs(id), key TEXT NOT NULL,
    rule TEXT NOT NULL, status TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS findings_run ON findings(run);
"""
# Version -> the statements that bring a history of that version to the next. A new history is made as schema 1
# and brought forward by the same statements, so every history of a version has the same schema (`_schema_of`).
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 2: whether a run could look (0: exit 3 or 130), set for the runs recorded before from their exit codes;
    # findings by key, for when each was first seen.
    1: ("ALTER TABLE runs ADD COLUMN looked INTEGER NOT NULL DEFAULT 1",
        f"UPDATE runs SET looked = 0 WHERE exit_code IN {COULD_NOT_LOOK}",
        "CREATE INDEX findings_key ON findings(key, run)"),
    # 3: when each finding's status streak began, recorded with it, so that "since" stays exact however many runs
    # a streak spans (a read walks back only through rows recorded before this column, at most RUNS_READ runs).
    2: ("ALTER TABLE findings ADD COLUMN since TEXT",),
}
_MAGIC = b"SQLite format 3\x00"
_HEADER = 100  # bytes of the database header (sqlite.org/fileformat.html)
_REMEDY = ("left as it is; name another file with --history or OPSCLI_HISTORY (opscli creates it), "
           "or pass --no-history")


class HistoryError(Exception):
    """The history file cannot be used (not ours, not a regular file, locked, corrupt)."""


def default_path(environ: dict[str, str] | None = None) -> Path:
    """OPSCLI_HISTORY, else under XDG_STATE_HOME, else under the home directory; a HistoryError when there is
    none of them (no HOME and no password entry for this user, as in a container run with an arbitrary uid)."""
    env = os.environ if environ is None else environ
    if env.get("OPSCLI_HISTORY"):
        return Path(env["OPSCLI_HISTORY"])
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]) / "opscli" / "history.sqlite"
    try:
        home = Path.home()
    except RuntimeError:
        raise HistoryError("no place for it: no OPSCLI_HISTORY, no XDG_STATE_HOME and no home directory; name a "
                           "file with --history or OPSCLI_HISTORY, or pass --no-history") from None
    return home / ".local" / "state" / "opscli" / "history.sqlite"


def _refused(path: Path, why: str) -> HistoryError:
    return HistoryError(f"history {path} {why}: refused, {_REMEDY}")


def _open(path: Path, *, create: bool) -> sqlite3.Connection:
    """A connection to the history at `path`, checked to be ours; `create` makes one where nothing is and opens
    it for writing, otherwise it is opened read-only."""
    path = Path(os.path.abspath(path))
    _check_directory(path, create=create)
    try:
        os.lstat(path)
    except FileNotFoundError:
        if not create:
            raise HistoryError(f"history {path} does not exist") from None
        _create(path)
    except OSError as exc:
        raise HistoryError(f"history {path} cannot be read: {exc.strerror or exc}") from None
    return _connect(path, write=create)


def _check_directory(path: Path, *, create: bool) -> None:
    """The history's directory must be this user's (or root's) and writable by no other user, unless it is
    sticky (as /tmp): there no one else can rename or remove our file, so no one can put theirs in its place."""
    directory = path.parent
    try:
        if create and not directory.exists():
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = os.stat(directory)
    except FileNotFoundError:
        raise HistoryError(f"history {path} does not exist") from None
    except OSError as exc:
        raise HistoryError(f"history {path} cannot be reached: {directory}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise _refused(path, f"is not in a directory ({directory} is {files.kind(info.st_mode)})")
    if info.st_uid not in (os.geteuid(), 0):
        raise _refused(path, f"is in {directory}, a directory of another user (uid {info.st_uid})")
    shared = info.st_mode & stat.S_IWOTH or (info.st_mode & stat.S_IWGRP and info.st_gid != os.getegid())
    if shared and not info.st_mode & stat.S_ISVTX:
        raise _refused(path, f"is in {directory}, a directory other users can write to "
                             f"(mode {stat.S_IMODE(info.st_mode):04o})")


def _create(path: Path) -> None:
    """Create the history whole under a name of our own beside `path` (mode 0600: it names accounts and
    findings), then link it to `path`, which fails if anything is there by now: a concurrent run's history,
    then used as it is, or a file planted there, then refused."""
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")  # O_EXCL, O_NOFOLLOW
    except OSError as exc:
        raise HistoryError(f"history {path} cannot be created: {exc.strerror or exc}") from None
    partial = Path(name)
    try:
        made = os.fstat(fd)
        db = _sqlite(partial, made, "rw")
        try:
            # One transaction: a history without its mark, or a mark without the tables, never exists.
            db.executescript(f"BEGIN IMMEDIATE; PRAGMA application_id = {APPLICATION_ID};{_TABLES}"
                             f"{_upgrade(1)}INSERT INTO opscli_history VALUES ({SCHEMA_VERSION}); COMMIT;")
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"history {path} cannot be created: {exc}") from None
        finally:
            db.close()
        try:
            os.link(partial, path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise HistoryError(f"history {path} cannot be created: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
        _remove_if_same(partial, made)


def _remove_if_same(path: Path, made: os.stat_result) -> None:
    """Remove the name `path` only while it still leads to the file we created."""
    try:
        if _identity(os.lstat(path)) == _identity(made):
            path.unlink()
    except OSError:
        pass


def _connect(path: Path, *, write: bool) -> sqlite3.Connection:
    try:
        named = os.lstat(path)
    except OSError as exc:
        raise HistoryError(f"history {path} cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISLNK(named.st_mode):
        raise _refused(path, "is a symbolic link (a history is opened only by its own name)")
    if not stat.S_ISREG(named.st_mode):
        raise _refused(path, f"is {files.kind(named.st_mode)}, not a regular file")
    if named.st_uid != os.geteuid():
        raise _refused(path, f"belongs to another user (uid {named.st_uid})")
    try:  # non-blocking: should a FIFO have taken the file's place since lstat, nothing waits for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refused(path, "is a symbolic link (a history is opened only by its own name)") from None
        raise HistoryError(f"history {path} cannot be read: {exc.strerror or exc}") from None
    try:
        held = os.fstat(fd)
        if not stat.S_ISREG(held.st_mode) or _identity(held) != _identity(named):
            raise _refused(path, "was replaced while it was being opened")
        try:
            header = os.pread(fd, _HEADER, 0)
        except OSError as exc:
            raise HistoryError(f"history {path} cannot be read: {exc.strerror or exc}") from None
        if not _unmarked(path, header):
            db = _sqlite(path, held, "rw" if write else "ro")
            _vouch(db, path, _marked)  # SQLite's own reading of the file it opened
            if write:
                _migrate(db, path)
            return db
        # Made before the mark: looked at read-only first, so another program's database is never written.
        probe = _sqlite(path, held, "ro")
        try:
            _vouch(probe, path, _schema_is_ours)
        finally:
            probe.close()
        db = _sqlite(path, held, "rw" if write else "ro")
        if write:
            _adopt(db, path)
            _migrate(db, path)
        return db
    finally:
        os.close(fd)


def _unmarked(path: Path, header: bytes) -> bool:
    """Whether the header is an SQLite database without an application_id that may be a history made before
    the mark (False: it carries ours); refuses every other file."""
    if not header:
        raise _refused(path, "is an empty file that opscli did not create")
    if len(header) < _HEADER or not header.startswith(_MAGIC):
        raise _refused(path, "is not an SQLite database")
    mark = int.from_bytes(header[68:72], "big")
    if mark == APPLICATION_ID:
        return False
    if mark:
        raise _refused(path, f"is another program's SQLite database (application_id {mark:#010x})")
    # Ours never set user_version nor switched to WAL (whose readers would create files beside it).
    if header[60:64] != bytes(4) or header[18:20] != b"\x01\x01":
        raise _refused(path, "is an SQLite database that opscli did not create")
    return True


def _vouch(db: sqlite3.Connection, path: Path, ours: Callable[[sqlite3.Connection], bool]) -> None:
    """Close `db` and refuse the file unless `ours(db)`."""
    try:
        verdict = ours(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise HistoryError(f"history {path} cannot be read: {exc}") from None
    if not verdict:
        db.close()
        raise _refused(path, "is an SQLite database that opscli did not create")


def _adopt(db: sqlite3.Connection, path: Path) -> None:
    """Mark a history made before the mark, once its schema is seen again under the write lock."""
    try:
        db.execute("BEGIN IMMEDIATE")
        mark = _application_id(db)
        if mark == 0 and _schema_is_ours(db):
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        elif mark != APPLICATION_ID:
            db.rollback()
            db.close()
            raise _refused(path, "is an SQLite database that opscli did not create")
        db.commit()
    except sqlite3.DatabaseError as exc:
        db.close()
        raise HistoryError(f"history {path} cannot be written: {exc}") from None


def _upgrade(version: int) -> str:
    """The statements that bring a history of `version` to SCHEMA_VERSION, as one script."""
    return "".join(f"{statement};" for v in range(version, SCHEMA_VERSION) for statement in _MIGRATIONS[v])


def version(db: sqlite3.Connection, path: Path) -> int:
    """The schema version an opscli history says it has; refuses one this opscli cannot read (a newer opscli's,
    or one whose version row is not one number)."""
    rows = db.execute("SELECT version FROM opscli_history").fetchall()
    if len(rows) != 1 or not isinstance(rows[0][0], int) or isinstance(rows[0][0], bool) or rows[0][0] < 1:
        db.close()
        raise _refused(path, "is an opscli history whose schema version cannot be read")
    found = rows[0][0]
    if found > SCHEMA_VERSION:
        db.close()
        raise _refused(path, f"was written by a newer opscli (history schema {found}; this one reads up to "
                             f"{SCHEMA_VERSION}): upgrade opscli to use it")
    return found


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring an older history to SCHEMA_VERSION under the write lock, in one transaction that is kept only if
    the result is exactly this version's schema (a history that is not as opscli left it is refused, unchanged)."""
    try:
        db.execute("BEGIN IMMEDIATE")
        found = version(db, path)
        if found < SCHEMA_VERSION:
            if _schema(db) != _schema_of(found):
                db.rollback()
                db.close()
                raise _refused(path, f"does not have the tables of opscli's history schema {found}, so it cannot "
                                     f"be brought to schema {SCHEMA_VERSION}")
            for v in range(found, SCHEMA_VERSION):
                for statement in _MIGRATIONS[v]:
                    db.execute(statement)
            db.execute("UPDATE opscli_history SET version = ?", (SCHEMA_VERSION,))
        db.commit()
    except sqlite3.DatabaseError as exc:
        db.close()
        raise HistoryError(f"history {path} cannot be written: {exc}") from None


def _sqlite(path: Path, held: os.stat_result, mode: str) -> sqlite3.Connection:
    """SQLite's connection to `path`, which must be the file `held` describes; mode "ro" or "rw" (never
    "rwc": SQLite creates nothing)."""
    before = _descriptors()
    try:
        db = sqlite3.connect(f"file://{urllib.parse.quote(os.fsencode(path))}?mode={mode}", uri=True, timeout=10)
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"history {path} cannot be opened: {exc}") from None
    try:
        still = _identity(os.lstat(path)) == _identity(held)
    except OSError:
        still = False
    if not still or not _sqlite_holds(before, held):
        db.close()
        raise _refused(path, "was replaced while it was being opened")
    return db


def _descriptors() -> set[tuple[int, int, int]] | None:
    """(descriptor, device, inode) of every file this process has open; None where /proc/self/fd is not."""
    try:
        numbers = os.listdir("/proc/self/fd")
    except OSError:
        return None
    found = set()
    for number in numbers:
        try:
            target = os.stat(f"/proc/self/fd/{number}")
        except OSError:  # closed since, or the listing's own descriptor
            continue
        found.add((int(number), *_identity(target)))
    return found


def _sqlite_holds(before: set[tuple[int, int, int]] | None, held: os.stat_result) -> bool:
    """Whether the descriptor SQLite opened since `before` is the file `held` describes. SQLite may instead
    reuse a descriptor it kept open on the same file for this process; then one besides ours must be on it."""
    after = _descriptors()
    if before is None or after is None:
        return True  # no /proc: the name checked before and after the open is what there is
    opened = after - before
    if opened:
        return any((device, inode) == _identity(held) for _, device, inode in opened)
    return sum((device, inode) == _identity(held) for _, device, inode in after) > 1


def _identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino


def _application_id(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA application_id").fetchone()[0])


def _marked(db: sqlite3.Connection) -> bool:
    return _application_id(db) == APPLICATION_ID


def _schema_is_ours(db: sqlite3.Connection) -> bool:
    """Exactly the tables and index of a history made before the mark (schema 1: the mark came with it), nothing
    more (no view, no trigger), and no user_version."""
    return _schema(db) == _schema_of(1) and int(db.execute("PRAGMA user_version").fetchone()[0]) == 0


def _schema(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()


@functools.cache
def _schema_of(schema_version: int) -> list[tuple[Any, ...]]:
    """sqlite_master of a history of `schema_version`, as opscli makes it."""
    memory = sqlite3.connect(":memory:")
    try:
        memory.executescript(_TABLES + "".join(f"{statement};" for v in range(1, schema_version)
                                               for statement in _MIGRATIONS[v]))
        return _schema(memory)
    finally:
        memory.close()


def record(path: Path, report: Report, exit_code: int) -> int:
    """Append the run and its judged findings, each with the start of its status streak (this run, or the
    start the runs before it give: `_streaks`), and whether it could look (its exit code is not 3 or 130); the
    run's id."""
    counts = report.counts()
    looked = exit_code not in COULD_NOT_LOOK
    db = _open(path, create=True)
    try:
        with db:
            db.execute("BEGIN IMMEDIATE")  # the runs before this one stay as read until it is in
            before = _runs(db, report)
            judged = [f for f in report.findings if f.status is not Status.NOT_APPLICABLE]
            now = {finding_id(report, f): f.status.value for f in judged}
            since = _streaks(db, before, now)
            cursor = db.execute(
                "INSERT INTO runs (time, command, stack, account, region, endpoint, fail, error, pass, accepted, "
                "exit_code, looked) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (report.created.isoformat(), stream(report), report.stack, report.target.get("account"),
                 report.target.get("region"), report.target.get("endpoint"), counts["FAIL"], counts["ERROR"],
                 counts["PASS"], counts["ACCEPTED"], exit_code, int(looked)))
            run = cursor.lastrowid
            if run is None:
                raise sqlite3.DatabaseError("the run was not given an id")
            started = report.created.isoformat()
            db.executemany("INSERT INTO findings (run, key, rule, status, since) VALUES (?,?,?,?,?)",
                           [(run, key, f.rule_id, f.status.value, since.get(key, started))
                            for f in judged for key in (finding_id(report, f),)])
        return run
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"history {path} cannot be written: {exc}") from None
    finally:
        db.close()


@dataclass(frozen=True)
class Past:
    """What the history says about a report: the trend of the runs that could look (oldest first), the runs left
    out of it because they could not look, and for each judged finding when it was first seen (of its current
    streak, and at all)."""

    trend: list[dict[str, Any]]
    first_failed: dict[str, str]  # finding key -> ISO time of the first run of its current FAIL streak
    could_not_look: list[dict[str, Any]] = field(default_factory=list)  # newest first, of the runs read
    streak_since: dict[str, str] = field(default_factory=dict)  # key -> first run of its current status streak
    first_seen: dict[str, str] = field(default_factory=dict)  # key -> first run that judged it, of any command


def stream(report: Report) -> str:
    """The runs a report's run continues (recorded in `runs.command`): its command's, or a --compliance view's own
    ("audit --compliance iso27001"). A view judges only its framework's rules: among the whole command's runs
    it would end the streak of every finding it leaves out and enter the trend with their FAILs missing."""
    return f"{report.command} --compliance {report.compliance}" if report.compliance else report.command


def _runs(db: sqlite3.Connection, report: Report) -> list[tuple[Any, ...]]:
    """(id, time, fail, error, pass, exit code, looked) of the last RUNS_READ runs of the report's stream on its
    stack, newest first."""
    looked = "looked" if _version(db) >= 2 else f"exit_code NOT IN {COULD_NOT_LOOK}"
    return db.execute(f"SELECT id, time, fail, error, pass, exit_code, {looked} FROM runs WHERE command=? AND "
                      f"stack=? ORDER BY id DESC LIMIT {int(RUNS_READ)}", (stream(report), report.stack)).fetchall()


def _version(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT version FROM opscli_history").fetchone()[0])


def _streaks(db: sqlite3.Connection, runs: list[tuple[Any, ...]], now: dict[str, str]) -> dict[str, str]:
    """Finding key -> the time of the first run of its current status streak (`now`: key -> status), from `runs`
    (as `_runs` gives them, newest first).

    A finding's streak goes back from the newest run while each run gave it the status it has now; it ends at a
    run that gave another, or that could look and did not judge it. A run that could not look and reached no
    verdict on it (ERROR, or not judged) is passed over: it neither continues nor ends the streak. A row that
    recorded its streak's start (schema 3) ends the walk for its finding there."""
    since: dict[str, str] = {}
    streaking = set(now)
    started = "since" if _version(db) >= 3 else "NULL"
    for run, when, *_, ok in runs:  # newest first
        if not streaking:
            break
        rows = {key: (status, start) for key, status, start in
                db.execute(f"SELECT key, status, {started} FROM findings WHERE run=?", (run,))}
        for key in list(streaking):
            status, start = rows.get(key, (None, None))
            if status == now[key]:
                since[key] = start if isinstance(start, str) and start else when
                if isinstance(start, str) and start:
                    streaking.discard(key)  # recorded with the streak's start: nothing older can change it
            elif not ok and status in (None, Status.ERROR.value):
                continue  # could not look at it: no evidence either way
            else:
                streaking.discard(key)
    return since


def read(path: Path, report: Report) -> Past:
    """The runs of the same command on the same stack, up to and including this one if it was recorded: the trend,
    the runs that could not look, and each judged finding's streak (`_streaks`) and first sighting."""
    db = _open(path, create=False)
    try:
        version(db, path)  # refuses a newer opscli's history
        runs = _runs(db, report)
        trend = [{"time": t, "FAIL": f, "ERROR": e, "PASS": p, "exit_code": c}
                 for _id, t, f, e, p, c, ok in runs if ok][:TREND][::-1]
        unlooked = [{"time": t, "FAIL": f, "ERROR": e, "PASS": p, "exit_code": c}
                    for _id, t, f, e, p, c, ok in runs if not ok]
        now = {finding_id(report, f): f.status.value for f in report.findings
               if f.status is not Status.NOT_APPLICABLE}
        since = _streaks(db, runs, now)
        first_seen = {}
        for key in now:
            row = db.execute("SELECT time FROM runs WHERE id = (SELECT MIN(run) FROM findings WHERE key=?)",
                             (key,)).fetchone()
            if row is not None:
                first_seen[key] = row[0]
        first_failed = {key: when for key, when in since.items() if now[key] == Status.FAIL.value}
        return Past(trend, first_failed, unlooked, since, first_seen)
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"history {path} cannot be read: {exc}") from None
    finally:
        db.close()


def day(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso
