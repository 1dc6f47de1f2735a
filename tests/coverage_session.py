"""pytest-cov's own work in a test session, done once: no tracer where nothing it records is kept, and one analysis
of each measured file for the session's reports.

Under pytest-xdist, pytest-cov starts coverage's tracer in the controller and, because each worker parses the
controller's command line (`-n` included), once more in each worker before the worker's own. Neither records
anything that is kept: the controller collects no tests and runs none of our code, and a worker's early tracer is
replaced at the session's start and its data never saved. Yet on Python 3.11 every call and line of pytest,
xdist and execnet in those processes ran on the tracer's slow path, and the controller receives and reports every
test phase of the run. Stopped once the session is configured, the same is recorded: all the controller saves is
the list of the measured packages' files (so that those no process ran count as 0%), which coverage lists when
it saves once its tracer has run, whatever it traced.

pytest-cov then reports twice from the combined data (once for the total that --cov-fail-under compares, once for
the terminal table), and coverage parses and analyses every measured file again for each report. The analysis
of a file depends only on the file and the combined data, which do not change once combined: it is kept for the
second report.

The analysis parses every measured file (about 2 s of one core at the run's end, after the last test): what a parse
finds depends only on the source, the exclusion pattern and coverage's version, and is kept in the user's cache
(`remember_parses`), so a file parsed by any earlier run of any checkout is not parsed again.

Everything here leaves pytest-cov as it is when its objects are not the ones described (another pytest-cov)."""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

#: pytest-cov's name for its plugin (pytest_cov.plugin.pytest_load_initial_conftests registers it so).
PLUGIN = "_cov"


def _controller(config: pytest.Config) -> Any:
    plugin = config.pluginmanager.getplugin(PLUGIN)
    return getattr(plugin, "cov_controller", None)


def stop_tracing_what_is_never_kept(config: pytest.Config) -> bool:
    """Stop pytest-cov's tracer in this process if it belongs to the xdist controller (pytest-cov's DistMaster)
    and this process is one of a run with workers: the controller itself, or a worker (whose own tracer, a
    DistWorker, starts at its session's start). A run without workers keeps its tracer whatever pytest-cov made
    of it: `-n 0 --dist loadgroup` (scripts/test.sh -n 0) measures its tests with a DistMaster. True if stopped."""
    controller = _controller(config)
    if type(controller).__name__ != "DistMaster" or not callable(getattr(controller, "pause", None)):
        return False
    if not hasattr(config, "workerinput") and not getattr(config.option, "numprocesses", None):
        return False
    controller.pause()  # pytest-cov's own pause (its no_cover fixture's); the subprocess patch stays in the environment
    return True


def analyse_once_after_combining(config: pytest.Config) -> bool:
    """Keep each file's analysis for the reports that follow combining (pytest-cov's combining Coverage, in the
    xdist controller or the one process of a run without workers). True if installed."""
    cov = getattr(_controller(config), "combining_cov", None)
    if cov is None:
        return False
    from platform_utils.files import user_cache

    cache = user_cache("coverage-parses")
    if cache is not None and not hasattr(config, "workerinput"):  # a worker's early DistMaster never combines
        import coverage.parser

        remember_parses(coverage.parser.PythonParser, cache)
    return analyse_once_after(cov, "combine")


def analyse_once_after(cov: Any, method: str) -> bool:
    """From the end of `cov`'s `method` (its data is final then), `cov`'s analysis of a file is made once and kept,
    and so is the file reporter it was made with: a report reads the analysis beside the reporter that
    `_get_file_reporters` gives it (the LCOV report asks that reporter's parser for arc descriptions, which only
    the parser that made the analysis has). Only a file named by its path is kept (what a report asks for);
    anything else is analysed as before."""
    analyse, final = getattr(cov, "_analyze", None), getattr(cov, method, None)
    reporter = getattr(cov, "_get_file_reporter", None)
    if not callable(analyse) or not callable(final) or not callable(reporter):
        return False
    kept: dict[str, Any] = {}
    reporters: dict[str, Any] = {}
    done = False

    @functools.wraps(final)
    def finishing(*args: Any, **kwargs: Any) -> Any:
        nonlocal done
        result = final(*args, **kwargs)
        kept.clear()
        reporters.clear()
        done = True
        return result

    @functools.wraps(reporter)
    def one_reporter(morf: Any) -> Any:
        if not done or not isinstance(morf, str):
            return reporter(morf)
        if morf not in reporters:
            reporters[morf] = reporter(morf)
        return reporters[morf]

    @functools.wraps(analyse)
    def once(morf: Any, *args: Any, **kwargs: Any) -> Any:
        if not done or not isinstance(morf, str):
            return analyse(morf, *args, **kwargs)
        if morf not in kept:
            kept[morf] = analyse(morf, *args, **kwargs)
        return kept[morf]

    setattr(cov, method, finishing)
    cov._get_file_reporter = one_reporter
    cov._analyze = once
    return True


#: What coverage's parser finds in a source for a report of lines (coverage.parser.PythonParser.parse_source):
#: sets of line numbers, and the multi-line statements' first lines.
PARSED_SETS = ("statements", "excluded", "raw_statements", "raw_excluded", "raw_docstrings")
#: Entries of the parse cache unused for this long are removed (their sources have changed since).
PARSE_KEPT_SECONDS = 30 * 86400


def parse_key(text: str, exclude: str | None) -> str:
    """The cache's name for a parse: of this source text with this exclusion pattern, by this coverage on this
    Python (whose tokenizer and ast the parse used)."""
    import coverage

    digest = hashlib.sha256()
    for part in (coverage.__version__, sys.version, repr(exclude), text):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def remember_parses(parser_class: Any, cache: Path) -> bool:
    """Make `parser_class.parse_source` (coverage's PythonParser) read what it finds from `cache` when a parse of
    the same key (`parse_key`) is kept there, and keep what it finds otherwise. A kept parse restores the parser's
    line sets and multi-line map; the syntax tree (which only branch measurement reads, `_analyze_ast`) is parsed
    on first use. An entry that is not a regular file of the expected shape is parsed again (and replaced). True if
    installed (False if the class is not the parser described, or already installed). The entries no run has used
    for PARSE_KEPT_SECONDS are removed once, after the first parse kept: a scan of the whole cache per parse kept
    would cost more than the parses when many miss at once (a new coverage or Python) in a large cache."""
    parse, analyse = getattr(parser_class, "parse_source", None), getattr(parser_class, "_analyze_ast", None)
    if not callable(parse) or not callable(analyse) or getattr(parse, "remembered", False):
        return False
    pruned = False

    @functools.wraps(parse)
    def parse_source(self: Any) -> None:
        entry = cache / f"{parse_key(self.text, self.exclude)}.json"
        kept = _read_parse(entry)
        if kept is not None:
            for name in PARSED_SETS:
                setattr(self, name, set(kept[name]))
            self.multiline_map = dict(kept["multiline_map"])
            self.show_tokens = False
            self._ast_root = None
            return
        parse(self)
        nonlocal pruned
        if _write_parse(entry, {**{name: sorted(getattr(self, name)) for name in PARSED_SETS},
                                "multiline_map": sorted(self.multiline_map.items())}) and not pruned:
            pruned = True
            _prune_parses(cache)

    @functools.wraps(analyse)
    def analyse_ast(self: Any) -> None:
        if self._ast_root is None:
            self._ast_root = ast.parse(self.text)
        analyse(self)

    parse_source.remembered = True  # type: ignore[attr-defined]
    parser_class.parse_source = parse_source
    parser_class._analyze_ast = analyse_ast
    return True


def _read_parse(entry: Path) -> dict[str, Any] | None:
    from platform_utils.files import FileRefused, read_json

    try:
        kept = read_json(entry, "coverage parse", limit=4 * 1024 * 1024)
    except (OSError, FileRefused):
        return None
    lines = [kept.get(name) for name in PARSED_SETS] if isinstance(kept, dict) else [None]
    pairs = kept.get("multiline_map") if isinstance(kept, dict) else None
    if not all(isinstance(found, list) and all(type(n) is int for n in found) for found in lines) or not (
            isinstance(pairs, list) and all(isinstance(p, list) and len(p) == 2 and all(type(n) is int for n in p)
                                            for p in pairs)):
        return None
    with contextlib.suppress(OSError):
        os.utime(entry)  # used: kept from the prune
    return kept


def _write_parse(entry: Path, kept: dict[str, Any]) -> bool:
    """Keep a parse (written whole under a name of this process's, then renamed into place); whether it was kept.
    A cache that cannot be written is left as it is."""
    work = entry.with_name(f".{entry.name}.{os.getpid()}")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with open(work, "x") as out:
            json.dump(kept, out, separators=(",", ":"))
        os.replace(work, entry)
    except OSError:
        with contextlib.suppress(OSError):
            work.unlink()
        return False
    return True


def _prune_parses(cache: Path) -> None:
    """Remove the entries of `cache` that no run has used for PARSE_KEPT_SECONDS."""
    old = time.time() - PARSE_KEPT_SECONDS
    with contextlib.suppress(OSError), os.scandir(cache) as entries:
        for found in entries:
            with contextlib.suppress(OSError):
                if found.name.endswith(".json") and found.is_file(follow_symlinks=False) and \
                        found.stat(follow_symlinks=False).st_mtime < old:
                    os.unlink(found.path)
