"""pytest's rewritten test modules, written once by the xdist controller before its workers start.

pytest rewrites the asserts of every test module and conftest.py it imports, and keeps the result in a `.pyc` of
its own beside the file (`__pycache__/<name>.<cache tag>-pytest-<version>.pyc`), valid while the file keeps its
modification time and size. A checkout that has none (a fresh clone, or after a `git checkout` that touched the
tests) had each of the workers, which start together, rewrite every module for itself: three times the same
work, the suite's largest cost of a fresh clone. The controller, which imports no test module, writes them first
with pytest's own functions (two processes: the cores are idle until the workers start), so each worker finds
them written, as in a checkout that has run its tests before.

Nothing here changes what pytest runs: a worker still rewrites any module whose `.pyc` it finds missing or stale,
and reads a written one only when pytest's own check (`_read_pyc`) accepts it. The functions are pytest's
internals (the pinned pytest, pyproject.toml); with another pytest that lacks them, this does nothing and says so.

    python -m tests.rewritten_modules [--pass-hook] FILE...   rewrite FILEs (the controller's second process)
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


def _pytest_rewrite() -> Any:
    from _pytest.assertion import rewrite

    for name in ("_read_pyc", "_rewrite_test", "_write_pyc", "get_cache_dir", "try_makedirs", "PYC_TAIL"):
        getattr(rewrite, name)  # AttributeError: another pytest
    return rewrite


def cached_pyc(source: Path) -> Path:
    """Where pytest keeps `source`'s rewritten module (PYTHONPYCACHEPREFIX honoured, as pytest honours it)."""
    rewrite = _pytest_rewrite()
    return rewrite.get_cache_dir(source) / (source.name[:-3] + rewrite.PYC_TAIL)


def rewritten_by_pytest(config: Any) -> list[Path]:
    """The Python files under the session's test paths that pytest rewrites when a worker imports them: every
    conftest.py, and the files its `python_files` patterns match (modules marked with
    pytest.register_assert_rewrite are imported by a test module first, and left to it)."""
    from _pytest.pathlib import fnmatch_ex

    patterns = config.getini("python_files")
    found: set[Path] = set()
    for name in config.getini("testpaths") or ["."]:
        top = (Path(config.rootpath) / name).resolve()
        if top.is_dir():
            found.update(path for path in top.rglob("*.py") if path.is_file()
                         and (path.name == "conftest.py" or any(fnmatch_ex(p, path) for p in patterns)))
    return sorted(found)


def stale(sources: Iterable[Path]) -> list[Path]:
    """The `sources` whose rewritten module pytest would not read (missing, or written for another version of the
    file): pytest's own check. A `.pyc` path that names something other than a regular file (a FIFO, whose opening
    waits for a writer forever) is neither opened nor replaced: left to a worker that imports its module."""
    pytest_rewrite = _pytest_rewrite()
    found = []
    for source in sources:
        pyc = cached_pyc(source)
        if _regular_or_absent(pyc) and pytest_rewrite._read_pyc(source, pyc) is None:
            found.append(source)
    return found


def _regular_or_absent(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True  # nothing there (or nothing reachable): pytest's own check says what it is


class _Trace:
    """What pytest's _write_pyc reports through (its assertion state): a failed write is left to the worker."""

    def trace(self, message: str) -> None:
        pass


def rewrite(sources: Iterable[Path], *, pass_hook: bool, config: Any = None) -> int:
    """Rewrite `sources` as a worker's import would (with `config`, or pytest's defaults and the
    enable_assertion_pass_hook `pass_hook`) and write each one's `.pyc` (atomically, as pytest does). How many
    were written. A source that cannot be read or compiled is skipped: the worker that imports it reports it as
    pytest does (a collection error of that module), and a session that does not select it never sees it."""
    pytest_rewrite = _pytest_rewrite()
    settings = config if config is not None else _Options(pass_hook)
    written = 0
    for source in sources:
        pyc = cached_pyc(source)
        if not pytest_rewrite.try_makedirs(pyc.parent):
            continue  # a read-only directory: the workers read the source, as pytest would
        try:
            source_stat, code = pytest_rewrite._rewrite_test(source, settings)
        except (OSError, SyntaxError, ValueError, RecursionError):  # gone, unreadable, not Python, nested too deep
            continue
        written += bool(pytest_rewrite._write_pyc(_Trace(), code, source_stat, pyc))
    return written


class _Options:
    """The one setting of the session a rewrite reads (AssertionRewriter.__init__), for the second process."""

    def __init__(self, pass_hook: bool) -> None:
        self.pass_hook = pass_hook

    def getini(self, name: str) -> Any:
        if name != "enable_assertion_pass_hook":
            raise KeyError(name)
        return self.pass_hook


def halves(sources: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """`sources` in two parts of about the same number of bytes (the largest first, each to the lighter part)."""
    parts: tuple[list[Path], list[Path]] = ([], [])
    sizes = [0, 0]
    for size, source in sorted(((path.stat().st_size, path) for path in sources), key=lambda pair: -pair[0]):
        lighter = sizes.index(min(sizes))
        parts[lighter].append(source)
        sizes[lighter] += size
    return parts


class Priming:
    """The controller's writing of the rewritten modules (`start`, then `finish`): the second process works while
    the controller does other work of its own before its half."""

    def __init__(self, config: Any, mine: list[Path], helper: subprocess.Popen[str] | None) -> None:
        self.config, self.mine, self.helper = config, mine, helper

    def finish(self) -> int:
        """Rewrite this process's half, wait for the second process's; how many were written in all."""
        if self.helper is None:
            return 0
        written = rewrite(self.mine, pass_hook=False, config=self.config)  # the session's own setting
        out, _ = self.helper.communicate()
        return written + (int(out.strip()) if self.helper.returncode == 0 and out.strip().isdigit() else 0)


def start(config: Any, environment: Mapping[str, str], root: Path) -> Priming:
    """In the xdist controller: find every test file whose rewritten module pytest would not read, and start
    rewriting half of them in a second process (`python -m tests.rewritten_modules`, in `environment`, from
    `root`); `finish` does the other half. Nothing when asserts are not rewritten or byte code is not written
    (pytest would not write them either), or when every module is written."""
    if config.getoption("assertmode") != "rewrite" or sys.dont_write_bytecode:
        return Priming(config, [], None)
    try:
        todo = stale(rewritten_by_pytest(config))
    except (ImportError, AttributeError) as exc:
        print(f"tests/rewritten_modules.py: this pytest has no {exc}: each worker rewrites the test modules itself",
              file=sys.stderr)
        return Priming(config, [], None)
    if not todo:
        return Priming(config, [], None)
    other, mine = halves(todo)
    pass_hook = bool(config.getini("enable_assertion_pass_hook"))
    helper = subprocess.Popen([sys.executable, "-m", "tests.rewritten_modules",
                               *(["--pass-hook"] if pass_hook else []), "--", *map(str, other)],
                              cwd=root, env=dict(environment), stdout=subprocess.PIPE, text=True)
    return Priming(config, mine, helper)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    pass_hook = "--pass-hook" in arguments[:1]
    files = arguments[arguments.index("--") + 1:] if "--" in arguments else arguments[int(pass_hook):]
    print(rewrite([Path(name) for name in files], pass_hook=pass_hook))
    return 0


if __name__ == "__main__":
    sys.exit(main())
