"""Stand-in programs for the tests of set-up's scripts (scripts/setup.sh, scripts/choose-python.sh): an executable
script, and an interpreter of any Python version made of this one."""

from __future__ import annotations

import sys
from pathlib import Path


def script(path: Path, text: str) -> Path:
    """`text` written to `path` (its directories made) as an executable file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def python_of(path: Path, version: str, *, releaselevel: str = "final", abiflags: str = "") -> Path:
    """A stand-in interpreter of `version` (e.g. "3.12.1") at `path`: this one, told so, answering what the scripts
    ask of an interpreter (`-c CODE`): sys.version_info (its releaselevel too), platform.python_version() and
    sys.abiflags say what it is told."""
    numbers = tuple(int(part) for part in version.split("."))
    told = (f"import platform, sys; sys.version_info = type('V', (tuple,), {{'releaselevel': {releaselevel!r}}})"
            f"({(*numbers, releaselevel, 0)!r}); platform.python_version = lambda: {version!r}; "
            f"sys.abiflags = {abiflags!r}; exec(sys.argv[1])")
    return script(path, f"#!/bin/sh\n[ \"$1\" = -c ] || exit 2\nexec '{sys.executable}' -c \"{told}\" \"$2\"\n")
