"""Where a run's results are written: its --report files (each whole or not at all) and its entry in the local
history. Checked before the run, so that a run does not end by failing to write; delivered after it, with what
could not be written returned to the caller, never printed here."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from opscli import history, render
from opscli.errors import UsageError
from opscli.model import Report
from platform_spec.exit_codes import EXIT_INCOMPLETE
from platform_utils import files

HISTORY_FORMATS = ("html", "asff", "ocsf")  # the reports that show what the history says (trend, observed times)


@dataclass(frozen=True)
class Destinations:
    """Where one run writes, as accepted before it ran."""

    reports: tuple[tuple[str, Path], ...]  # (format, path) of each --report, in the order given
    history: Path | None  # the history the run is appended to; None: none (--no-history, or `history_refused`)
    history_refused: str | None = None  # why a history that was asked for will not be recorded


@dataclass(frozen=True)
class Delivered:
    """What became of a run's files."""

    code: int  # the exit code the run ends with (EXIT_INCOMPLETE when a report could not be written)
    history_refused: str | None  # why the history was not recorded (the run's verdict stands), or None
    unwritten: tuple[str, ...]  # why each report that could not be written was not


def check_destinations(reports: Sequence[tuple[str, Path]], history_file: Path | None, *,
                       keep_history: bool) -> Destinations:
    """The run's destinations, or a UsageError before anything is read: a report path `files.write_whole` would
    refuse (not a regular file, a symbolic link, in a directory that does not exist), a --history that exists and
    is not a regular file (a directory, a FIFO: never opened, so nothing waits), a file named by two --report
    options or by a --report and the history (one would replace the other: a report over the history is every
    earlier run lost). A history that is refused later (not ours, locked) does not stop the run: `deliver` says
    why it was not recorded."""
    for fmt, path in reports:
        try:
            files.writable_target(path, f"--report {fmt}")
        except files.FileRefused as exc:
            raise UsageError(str(exc)) from None
    if history_file is not None and history_file.exists() and not history_file.is_file():
        raise UsageError(f"--history {history_file} is not a regular file")
    destinations = Destinations(tuple(reports), None)
    if keep_history:
        try:
            destinations = Destinations(tuple(reports), history_file or history.default_path())
        except history.HistoryError as exc:  # no place for the default history: the run goes on, and says so
            destinations = Destinations(tuple(reports), None, str(exc))
    _refuse_one_file_twice(destinations)
    return destinations


def _refuse_one_file_twice(destinations: Destinations) -> None:
    """A UsageError when two destinations name one file: the same name in the same directory, however the
    directory is reached (a relative path, a symbolic link, a bind mount)."""
    taken: dict[tuple[int, int, str], str] = {}
    if destinations.history is not None and (key := _file(destinations.history)) is not None:
        taken[key] = "is the history this run is recorded in: name another file"
    for fmt, path in destinations.reports:
        key = _file(path)
        if key is None:  # its directory is gone since writable_target saw it: deliver says it cannot be written
            continue
        if key in taken:
            raise UsageError(f"--report {fmt} {path} {taken[key]}")
        taken[key] = f"is named by --report {fmt} too: name each report its own file"


def _file(path: Path) -> tuple[int, int, str] | None:
    """The name `path` gives in its directory (device and inode), or None when there is no such directory."""
    try:
        directory = os.stat(path.parent)
    except OSError:
        return None
    return directory.st_dev, directory.st_ino, path.name


def deliver(report: Report, code: int, destinations: Destinations, *, show_all: bool,
            include_pass: bool) -> Delivered:
    """The run appended to its history (read back for the reports that show it), then each report file written.

    The report paths were accepted before the run, so a write that fails now (a full disk, a permission changed)
    is a run that could not complete: the code becomes EXIT_INCOMPLETE, and the reports already written are
    written again with it, so that no report claims an exit code the process does not return. The history keeps
    the run's own verdict: it is recorded before any report is written."""
    past, refused = _record(report, code, destinations)
    code, unwritten = _write_reports(report, code, destinations.reports, show_all=show_all,
                                     include_pass=include_pass, past=past)
    return Delivered(code, refused, tuple(unwritten))


def _record(report: Report, code: int, destinations: Destinations) -> tuple[history.Past | None, str | None]:
    """The history read back after this run is recorded in it (None when no report shows it), and why the run
    could not be recorded, if it could not."""
    if destinations.history is None:
        return None, destinations.history_refused
    try:
        history.record(destinations.history, report, code)
        if any(fmt in HISTORY_FORMATS for fmt, _ in destinations.reports):
            return history.read(destinations.history, report), None
    except history.HistoryError as exc:
        return None, str(exc)
    return None, None


def _write_reports(report: Report, code: int, specs: Sequence[tuple[str, Path]], *, show_all: bool,
                   include_pass: bool, past: history.Past | None) -> tuple[int, list[str]]:
    """Each report file, written whole or not at all, as `files.write_whole` writes; the exit code the run ends
    with and why any report could not be written."""
    def write(fmt: str, path: Path, with_code: int) -> str | None:
        try:
            files.write_whole(path, render.render(report, fmt, with_code, show_all=show_all,
                                                  include_pass=include_pass, past=past),
                              f"--report {fmt}")
        except files.FileRefused as exc:
            return str(exc)
        return None

    failed = {spec: why for spec in specs if (why := write(*spec, code)) is not None}
    if not failed or code == EXIT_INCOMPLETE:
        return code, list(failed.values())
    for spec in specs:
        if spec not in failed and (why := write(*spec, EXIT_INCOMPLETE)) is not None:
            failed[spec] = f"{why} (it says exit code {code})"
    return EXIT_INCOMPLETE, list(failed.values())
