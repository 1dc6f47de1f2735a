"""Which files of a checkout are sources: what running, testing or packaging the code leaves beside them is not.

The one definition for the assembly cache's key (cdk_app/assembly_cache.py) and for the posture monitor's staged
code, its digest and its asset's exclude globs (cdk_app/monitor_code.py): a name added here is left out of all of
them at once, so the asset never holds a file its digest does not cover.

Standard library only: the assembly cache imports it without aws-cdk-lib.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# Directories left out wherever they are, with all below them: by their name, or by the end of it.
IGNORED_DIRS = ("__pycache__", ".pytest_cache", ".hypothesis")
IGNORED_DIR_SUFFIXES = (".egg-info",)
# Files left out wherever they are, by the end of their name (byte code).
IGNORED_SUFFIXES = (".pyc", ".pyo")


def ignored_dir(name: str) -> bool:
    """True when a directory named `name` holds no sources."""
    return name in IGNORED_DIRS or name.endswith(IGNORED_DIR_SUFFIXES)


def ignored_file(name: str) -> bool:
    """True when a file named `name` is no source, wherever it is."""
    return name.endswith(IGNORED_SUFFIXES)


def exclude_globs() -> tuple[str, ...]:
    """The same as glob patterns, as a CDK asset's `exclude` reads them (a pattern without a slash matches a
    file's or directory's name at any depth, and a directory it matches is left out whole)."""
    return (*IGNORED_DIRS, *(f"*{suffix}" for suffix in (*IGNORED_DIR_SUFFIXES, *IGNORED_SUFFIXES)))


def walk(directory: Path) -> Iterator[Path]:
    """The source files below `directory` in a fixed order: regular files (or links to one) only, since a FIFO or
    a device would hang a read and none is a source; directory links are not entered."""
    for current, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not ignored_dir(d))
        for name in sorted(files):
            path = Path(current) / name
            if not ignored_file(name) and path.is_file():
                yield path
