"""The libraries' byte code, compiled once per user and shared by every checkout's virtual environment.

    .venv/bin/python scripts/bytecode.py link    # set-up, after installing: the cached byte code, into the venv
    .venv/bin/python scripts/bytecode.py store   # after a run: what the run compiled, into the cache

Set-up compiles no byte code (a whole environment's costs far more than what the processes import: bench/README.md),
so the first process of a fresh clone to import a library compiles it: about 16 s of CPU for the suite (aws_cdk's
modules alone 7 s). uv links a package's files from its own cache, the same files (inode, size and time) in every
environment of the user, and a timestamp .pyc is valid for any file of that size and time (CPython fixes the code's
file name at import: `_imp._fix_co_filename`). So what one checkout compiled serves the next.

The cache: $STREAMTECH_BYTECODE_CACHE (an absolute path; a relative one names none), else $XDG_CACHE_HOME (else
~/.cache)/streamtech-platform/bytecode, with a directory per interpreter (its cache tag and magic number) and, in
it, one per distribution: its name, version and a hash of the .py files its RECORD lists (their paths, hashes and
sizes), so a directory serves only those files.

- store: every .py a distribution's RECORD lists inside site-packages whose __pycache__ holds a .pyc valid for it
  (the header's magic, a timestamp .pyc, the file's size and time) and that the cache lacks, hard-linked there (else
  copied: a new file, then linked to its name, so a reader never sees half a file). Entries unused for 30 days
  are deleted (only directories of the cache's own name shape; a link is never followed).
- link: every .pyc of the distribution's directory whose .py the RECORD lists, valid for the installed file and
  missing from __pycache__, hard-linked (else copied) there; nothing present is ever replaced, and a .pyc that
  does not fit is left out, so the interpreter compiles that module as it would have. Python never writes a .pyc
  in place (it writes a new file and renames it), so a shared inode stays as it was.

Only the plain .pyc (name.cpython-XY.pyc) is stored and linked, whatever the run's -O: another optimization level's
code (no asserts) never takes its name. Exit 0 (its counts on stderr); 3 when the cache cannot be used, or a
distribution was left out (its entry not writable or gone meanwhile: the others are done), with the reason: a
run's status is never this script's, the callers print its line and go on.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import hashlib
import importlib.util
import os
import re
import shutil
import stat
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

# The checkout's packages (platform_utils is standard library only): run by each environment's interpreter, and
# Checkov's has none of ours installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from platform_utils import files

EXIT_OK, EXIT_INCOMPLETE = 0, 3
UNUSED_DAYS = 30
_TMP = ".tmp-"
_ENTRY = re.compile(r"[^./][^/]*-[A-Za-z0-9_-]{16}")  # distributions()'s names


def cache_root() -> Path | None:
    """The cache's directory; None without one. A relative STREAMTECH_BYTECODE_CACHE names none: it would be a
    different place from each working directory (the XDG rule for a relative XDG_CACHE_HOME)."""
    named = os.environ.get("STREAMTECH_BYTECODE_CACHE")
    if named:
        return Path(named) if os.path.isabs(named) else None
    return files.user_cache("bytecode")


_MAGIC = importlib.util.MAGIC_NUMBER


def cache_from_source(source: str) -> str:
    """The plain .pyc of `source` in its __pycache__, whatever this run's optimization level: an interpreter run
    with -O (PYTHONOPTIMIZE) names its own name.opt-1.pyc, whose code has no asserts, and storing that as the plain
    one (or linking the plain one under that name) would hand one level's code to the other."""
    return importlib.util.cache_from_source(source, optimization="")


def interpreter_dir(root: Path) -> Path:
    return root / f"{sys.implementation.cache_tag}-{_MAGIC.hex()}"


def distributions(site: Path) -> Iterator[tuple[str, list[str]]]:
    """(entry name, the .py files its RECORD lists inside site-packages, relative) per installed distribution."""
    for record in sorted(site.glob("*.dist-info/RECORD")):
        try:
            rows = list(csv.reader(record.read_text(encoding="utf-8").splitlines()))
        except (OSError, UnicodeDecodeError, csv.Error):
            continue  # not a RECORD we can read: its byte code is compiled as it would have been
        # a row without a hash would let the entry's name stand for any text of the file
        sources = sorted({tuple(row[:3]) for row in rows if len(row) >= 3 and row[1] and _inside(row[0])
                          and row[0].endswith(".py")})
        if not sources:
            continue
        digest = hashlib.sha256("\n".join(",".join(row) for row in sources).encode()).digest()
        name = record.parent.name.removesuffix(".dist-info")
        yield f"{name}-{base64.urlsafe_b64encode(digest[:12]).decode()}", [row[0] for row in sources]


def _inside(relative: str) -> bool:
    parts = relative.split("/")
    return not relative.startswith("/") and ".." not in parts and "__pycache__" not in parts


def fits(pyc: str, source: str) -> bool:
    """True when `pyc` is a regular file, a timestamp .pyc of this interpreter for `source` as it is now."""
    try:
        found, made = os.lstat(pyc), os.stat(source)
        if not stat.S_ISREG(found.st_mode):
            return False
        with open(pyc, "rb") as handle:
            header = handle.read(16)
    except OSError:
        return False
    return (len(header) == 16 and header[:4] == _MAGIC and header[4:8] == bytes(4)
            and int.from_bytes(header[8:12], "little") == int(made.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(header[12:16], "little") == made.st_size & 0xFFFFFFFF)


def place(source: str, target: str) -> bool:
    """`source`'s file at `target`, made anew (hard link, else a copy linked to its name when whole); False when
    something is at `target` already (never replaced)."""
    try:
        os.link(source, target)
        return True
    except FileExistsError:
        return False
    except OSError:
        pass
    work = os.path.join(os.path.dirname(target), f"{_TMP}{os.getpid()}-{os.urandom(4).hex()}")
    try:
        with open(source, "rb") as reader, open(work, "xb") as writer:
            shutil.copyfileobj(reader, writer)
        os.link(work, target)
        return True
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(work)


def _real_dir(path: str | Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _within(directory: str, base: str, seen: dict[str, bool]) -> bool:
    """True when `directory` is below `base` and none of it from there is a link (or anything but a directory,
    once made): nothing is read or written through one. `seen`: this run's answers (only this run writes there)."""
    if directory == base:
        return True
    if directory not in seen:
        parent = os.path.dirname(directory)
        seen[directory] = (parent != directory and not os.path.islink(directory)
                           and _within(parent, base, seen))
    return seen[directory]


def _failed(failures: list[OSError] | None, exc: OSError) -> None:
    """A distribution left out: noted in `failures` when the caller keeps them, else raised."""
    if failures is None:
        raise exc
    failures.append(exc)


def store(site: Path, root: Path, failures: list[OSError] | None = None) -> tuple[int, int]:
    """(files stored, entries deleted as unused). A distribution whose entry cannot be written (a file of the
    user's where it has a directory, a full disk, an entry pruned meanwhile) is left out and noted in `failures`
    (raised without it): the others are stored and the prune runs."""
    base = str(interpreter_dir(root))
    stored = 0
    seen: dict[str, bool] = {}
    for entry, sources in distributions(site):
        try:
            for relative in sources:
                source = os.path.join(site, relative)
                pyc = cache_from_source(source)
                target = os.path.join(base, entry, f"{relative}c")
                parent = os.path.dirname(target)
                if os.path.lexists(target) or not fits(pyc, source) or not _within(parent, base, seen):
                    continue
                os.makedirs(parent, exist_ok=True)
                stored += place(pyc, target)
        except OSError as exc:
            _failed(failures, exc)
    return stored, prune(Path(base))


def prune(base: Path) -> int:
    deleted = 0
    cutoff = time.time() - UNUSED_DAYS * 86400
    for entry in base.iterdir() if _real_dir(base) else ():
        try:
            found = os.lstat(entry)
        except OSError:
            continue
        unused = stat.S_ISDIR(found.st_mode) and found.st_mtime < cutoff
        if unused and _ENTRY.fullmatch(entry.name):
            shutil.rmtree(entry, ignore_errors=True)  # never follows a link inside it
            deleted += 1
    return deleted


def link(site: Path, root: Path, failures: list[OSError] | None = None) -> int:
    """Files linked into `site`'s __pycache__ directories. A distribution whose files cannot be read (its entry
    pruned meanwhile) is left out and noted in `failures` (raised without it)."""
    base = str(interpreter_dir(root))
    linked = 0
    read: dict[str, bool] = {}
    made: dict[str, bool] = {}
    for entry, sources in distributions(site):
        directory = os.path.join(base, entry)
        if not _real_dir(directory):
            continue
        with contextlib.suppress(OSError):  # a cache on a read-only mount (or another's) is read, not kept fresh
            os.utime(directory)  # used: kept by the prune
        try:
            for relative in sources:
                cached = os.path.join(directory, f"{relative}c")
                source = os.path.join(site, relative)
                pyc = cache_from_source(source)
                if (os.path.lexists(pyc) or not _within(os.path.dirname(cached), directory, read)
                        or not fits(cached, source)):
                    continue
                folder = os.path.dirname(pyc)
                if folder not in made:
                    with contextlib.suppress(FileExistsError, OSError):
                        os.mkdir(folder)
                    made[folder] = _real_dir(folder)
                if made[folder]:
                    linked += place(cached, pyc)
        except OSError as exc:
            _failed(failures, exc)
    return linked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bytecode.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("link", "store"))
    parser.add_argument("--site-packages", type=Path, default=Path(sysconfig.get_paths()["purelib"]),
                        help="default: this interpreter's")
    args = parser.parse_args(argv)
    root = cache_root()
    if root is None:
        print("bytecode: no cache (HOME unset or relative, or STREAMTECH_BYTECODE_CACHE relative; "
              "STREAMTECH_BYTECODE_CACHE=/an/absolute/path names one)", file=sys.stderr)
        return EXIT_INCOMPLETE
    failures: list[OSError] = []
    try:
        if args.action == "store":
            stored, deleted = store(args.site_packages, root, failures)
            print(f"bytecode: {stored} file(s) stored in {root}" + (f", {deleted} unused entries deleted"
                                                                   if deleted else ""), file=sys.stderr)
        else:
            print(f"bytecode: {link(args.site_packages, root, failures)} file(s) linked from {root}",
                  file=sys.stderr)
    except OSError as exc:
        print(f"bytecode: the cache {root} cannot be used: {exc}", file=sys.stderr)
        return EXIT_INCOMPLETE
    if failures:
        print(f"bytecode: {len(failures)} distribution(s) left out: {failures[0]}", file=sys.stderr)
        return EXIT_INCOMPLETE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
