"""Which files of a checkout are sources: what running, testing or packaging the code leaves beside them is not.

The one definition for the assembly cache's key (cdk_app/assembly_cache.py) and for the posture monitor's staged
code, its digest and its asset's exclude globs (cdk_app/monitor_code.py): a name added here is left out of all of
them at once, so the asset never holds a file its digest does not cover, nor lacks one it does.

A name is ignored whether it is a file's or a directory's (a directory with all below it), as the asset's globs
ignore it: a byte-code file or an egg-info directory, and equally a file named __pycache__ or an egg-info file.

Standard library only: the assembly cache imports it without aws-cdk-lib.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# Names left out wherever they are, whole, and ends of names left out (egg-info metadata, byte code).
IGNORED_NAMES = ("__pycache__", ".pytest_cache", ".hypothesis")
BYTE_CODE_SUFFIXES = (".pyc", ".pyo")
IGNORED_SUFFIXES = (".egg-info", *BYTE_CODE_SUFFIXES)


def ignored(name: str) -> bool:
    """True when a file or directory named `name` is no source (a directory: nothing below it is one)."""
    return name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES)


def exclude_globs() -> tuple[str, ...]:
    """`ignored` as the glob patterns of a CDK asset's `exclude` (minimatch with matchBase: a pattern without a
    slash matches a name at any depth, and a directory it matches is left out whole). minimatch's `*` never
    matches a leading dot, so each suffix is also written for a hidden name (`.*.pyc`) and as a whole name
    (`.pyc`)."""
    return (*IGNORED_NAMES, *(glob for suffix in IGNORED_SUFFIXES for glob in (f"*{suffix}", f".*{suffix}", suffix)))


def walk(directory: Path) -> Iterator[Path]:
    """The source files below `directory` in a fixed order: regular files (or links to one) only, since a FIFO or
    a device would hang a read and none is a source; directory links are not entered."""
    for current, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not ignored(d))
        for name in sorted(files):
            path = Path(current) / name
            if not ignored(name) and path.is_file():
                yield path
