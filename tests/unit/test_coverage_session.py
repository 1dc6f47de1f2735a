"""tests/coverage_session.py on pytest-cov's own controller objects, in a directory of their own: the xdist
controller's tracer stopped after it started loses nothing of the combined data, and the reports that follow the
combine analyse each file once and say what they said before."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import coverage
import pytest
from coverage import CoverageData
from pytest_cov.engine import DistMaster

from tests.coverage_session import (
    PARSE_KEPT_SECONDS,
    analyse_once_after_combining,
    parse_key,
    remember_parses,
    stop_tracing_what_is_never_kept,
)


def _config(controller: object, *, workers: int | None = 3, worker: bool = False) -> SimpleNamespace:
    """What the functions read of a pytest config: pytest-cov's plugin and its controller, the number of workers
    (-n) and, in a worker, pytest-xdist's workerinput."""
    plugin = SimpleNamespace(cov_controller=controller)
    config = SimpleNamespace(pluginmanager=SimpleNamespace(getplugin=lambda name: plugin if name == "_cov" else None),
                             option=SimpleNamespace(numprocesses=workers))
    if worker:
        config.workerinput = {"workerid": "gw0"}
    return config


def _project(root: Path, monkeypatch) -> Path:
    """A measured package of two modules, one that a worker ran and one that no process ran."""
    package = root / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "ran.py").write_text("def f(x):\n    if x:\n        return 1\n    return 2\n")
    (package / "never.py").write_text("y = 1\n")
    (root / "rc").write_text("[run]\nbranch = true\n")
    monkeypatch.chdir(root)
    # The project's own data file and rc, whatever the run around this test set (a measurement's COVERAGE_FILE)
    for variable in ("COVERAGE_PROCESS_CONFIG", "COVERAGE_FILE", "COVERAGE_RCFILE"):
        monkeypatch.delenv(variable, raising=False)
    return root


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    return _project(tmp_path, monkeypatch)


@pytest.fixture(autouse=True)
def parse_cache(tmp_path, monkeypatch) -> Path:
    """Coverage's parser class as coverage made it, whatever this session installed on it (remember_parses), and
    as it was again after the test; the cache in the test's own directory, never the user's."""
    from coverage.parser import PythonParser

    remembered = getattr(PythonParser.parse_source, "remembered", False)  # this session's own (a run with no workers)
    for name in ("parse_source", "_analyze_ast"):
        method = getattr(PythonParser, name)
        monkeypatch.setattr(PythonParser, name, method.__wrapped__ if remembered else method)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    return tmp_path / "user-cache" / "streamtech-platform" / "coverage-parses"


def _distmaster(project: Path) -> DistMaster:
    options = argparse.Namespace(cov_source=[str(project / "pkg")], cov_report={}, cov_config=str(project / "rc"),
                                 cov_append=False, cov_branch=True, cov_precision=None)
    return DistMaster(options, None, None)


def _worker_data(project: Path) -> None:
    """What a worker saves after running f(1): its data file beside the controller's."""
    data = CoverageData(basename=str(project / ".coverage"), suffix="worker")
    data.add_arcs({str(project / "pkg" / "ran.py"): {(-1, 1), (1, -1), (-1, 2), (2, 3), (3, -1)},
                   str(project / "pkg" / "__init__.py"): set()})
    data.write()


def _reports(cov: coverage.Coverage) -> tuple[float, str]:
    table = io.StringIO()
    total = cov.report(output_format="total", file=io.StringIO())
    cov.report(file=table, show_missing=True)
    return total, table.getvalue()


def _assert_back_as_it_was(outer: object, theirs: object) -> None:
    """This run's tracing back as it was once `theirs` stopped: none if none, else a tracer of this run's (coverage
    resumes a paused collector with a tracer object of its own making, not the one it paused)."""
    now = sys.gettrace()
    assert now is not theirs
    assert (now is None) == (outer is None) and type(now) is type(outer)


def _controller_run(project: Path, *, stop_early: bool) -> tuple[set[str], tuple[float, str]]:
    """An xdist controller's coverage from its start (as pytest-cov starts it) to its reports, with a worker's
    data file to combine: the files the combined data lists, and the total and table it reports."""
    outer = sys.gettrace()
    master = _distmaster(project)
    master.start()
    theirs = sys.gettrace()
    try:
        assert theirs is not outer  # the controller's tracer in place of this run's own
        if stop_early:
            assert stop_tracing_what_is_never_kept(_config(master)) is True
            _assert_back_as_it_was(outer, theirs)
        import json  # noqa: F401 - what the controller does while traced: nothing of the measured package
    finally:
        master.cov.stop()
    _worker_data(project)
    master.finish()
    combined = master.cov.get_data()
    assert not combined.arcs(str(project / "pkg" / "never.py"))
    return {Path(f).name for f in combined.measured_files()}, _reports(master.cov)


def test_the_controllers_tracer_stopped_early_loses_nothing_of_the_combined_data(tmp_path, monkeypatch):
    stopped = _controller_run(_project(tmp_path / "stopped", monkeypatch), stop_early=True)
    traced = _controller_run(_project(tmp_path / "traced", monkeypatch), stop_early=False)
    assert stopped == traced
    files, (_total, table) = stopped
    assert files == {"__init__.py", "ran.py", "never.py"}  # the file no process ran is listed: reported at 0%
    assert "never.py" in table and "0%" in table.split("never.py")[1].splitlines()[0]
    assert os.environ.get("COVERAGE_PROCESS_CONFIG") is None  # this rc patches nothing; the suite's keeps its own


def test_nothing_is_kept_without_pytest_covs_controller():
    assert analyse_once_after_combining(_config(None)) is False
    assert analyse_once_after_combining(_config(SimpleNamespace(combining_cov=None))) is False


def test_only_the_controllers_coverage_is_stopped():
    class Central:  # a run without workers, which measures its tests, and a worker's own (DistWorker)
        def pause(self):
            raise AssertionError("paused")

    class DistWorker(Central):
        pass

    assert stop_tracing_what_is_never_kept(_config(Central())) is False
    assert stop_tracing_what_is_never_kept(_config(DistWorker())) is False
    assert stop_tracing_what_is_never_kept(_config(None)) is False


@pytest.mark.parametrize("workers", [0, None])
def test_a_run_without_workers_keeps_its_tracer_even_when_pytest_cov_made_it_a_distmaster(project, workers):
    """`-n 0 --dist loadgroup` (scripts/test.sh -n 0 ...): pytest-cov measures the tests with a DistMaster."""
    outer = sys.gettrace()
    master = _distmaster(project)
    master.start()
    try:
        theirs = sys.gettrace()
        assert stop_tracing_what_is_never_kept(_config(master, workers=workers)) is False
        assert sys.gettrace() is theirs is not outer
    finally:
        master.cov.stop()


def test_a_workers_early_distmaster_is_stopped(project):
    outer = sys.gettrace()
    master = _distmaster(project)
    master.start()
    theirs = sys.gettrace()
    try:
        assert stop_tracing_what_is_never_kept(_config(master, workers=None, worker=True)) is True
        _assert_back_as_it_was(outer, theirs)
    finally:
        master.cov.stop()


def test_after_the_combine_each_file_is_analysed_once_and_the_reports_are_unchanged(project):
    master = _distmaster(project)
    master.start()
    master.cov.stop()
    assert analyse_once_after_combining(_config(master)) is True
    combining = master.combining_cov
    ran = str(project / "pkg" / "ran.py")
    _worker_data(project)
    master.finish()  # combines, and from then on the analyses are kept
    assert master.cov is combining
    first = _reports(combining)
    assert combining._analyze(ran) is combining._analyze(ran)
    second = _reports(combining)

    plain = coverage.Coverage(data_file=str(project / ".coverage"), config_file=str(project / "rc"))
    plain.load()
    assert first == second == _reports(plain)
    assert plain._analyze(ran) is not plain._analyze(ran)  # coverage alone analyses again for every report
    assert "ran.py" in first[1] and "never.py" in first[1]


def test_before_the_combine_nothing_is_kept(project):
    master = _distmaster(project)
    master.start()
    master.cov.stop()
    analyse_once_after_combining(_config(master))
    ran = str(project / "pkg" / "ran.py")
    _worker_data(project)
    combining = master.combining_cov
    combining.load()
    assert combining._analyze(ran) is not combining._analyze(ran)


def _combined(project: Path) -> DistMaster:
    """The controller of a run whose worker ran f(1): its data combined, the session's install made."""
    master = _distmaster(project)
    master.start()
    master.cov.stop()
    assert analyse_once_after_combining(_config(master)) is True
    _worker_data(project)
    master.finish()
    return master


def test_the_lcov_report_after_the_total_reads_the_reporter_its_analysis_was_made_with(project, tmp_path):
    """pytest-cov's total comes first; the LCOV report then asks each file's reporter for the description of its
    arcs, which only the parser that made the analysis holds (a kept analysis beside a new reporter failed an
    assertion in coverage's parser: pytest INTERNALERROR)."""
    master = _combined(project)
    master.cov.report(output_format="total", file=io.StringIO())
    master.cov.lcov_report(outfile=str(tmp_path / "kept.lcov"))

    plain = coverage.Coverage(data_file=str(project / ".coverage"), config_file=str(project / "rc"))
    plain.load()
    plain.lcov_report(outfile=str(tmp_path / "plain.lcov"))
    kept = (tmp_path / "kept.lcov").read_text()
    assert kept == (tmp_path / "plain.lcov").read_text()
    assert "BRDA:2,0," in kept  # the partial branch of ran.py, described


# --- the parses kept in the user's cache ------------------------------------------------------------------------

SOURCE = '''"""A module."""

def f(x,
      y):  # one statement over two lines
    """Its docstring."""
    if x:  # pragma: no cover
        return (1 +
                2)
    return y
'''
EXCLUDE = r"#\s*pragma[:\s]?\s*no\s*cover"


def _parser(parse_cache: Path, calls: list[str]) -> type:
    """coverage's parser, as a subclass of its own whose parses are counted and kept in `parse_cache`."""
    from coverage.parser import PythonParser

    class Counted(PythonParser):
        def parse_source(self) -> None:
            calls.append(self.filename)
            super().parse_source()

    assert remember_parses(Counted, parse_cache) is True
    assert remember_parses(Counted, parse_cache) is False  # once
    return Counted


def _found(parser) -> tuple:
    return (parser.statements, parser.excluded, parser.raw_statements, parser.raw_docstrings, parser.multiline_map,
            parser.translate_lines(range(1, 12)), parser.arcs(), parser.exit_counts())


def test_a_kept_parse_is_what_coverage_finds_and_is_read_instead_of_parsing(tmp_path):
    from coverage.parser import PythonParser

    calls: list[str] = []
    counted = _parser(tmp_path / "parses", calls)
    fresh = PythonParser(text=SOURCE, exclude=EXCLUDE)
    fresh.parse_source()
    first = counted(text=SOURCE, filename="a.py", exclude=EXCLUDE)
    first.parse_source()
    kept = counted(text=SOURCE, filename="b.py", exclude=EXCLUDE)
    kept.parse_source()
    assert calls == ["a.py"]  # the second parse was read
    assert kept._ast_root is None and _found(kept) == _found(first) == _found(fresh)  # arcs parse the tree then
    assert fresh.statements == {3, 9} and 6 in fresh.excluded and fresh.multiline_map[4] == 3  # what is compared
    [entry] = (tmp_path / "parses").iterdir()
    assert entry.name == f"{parse_key(SOURCE, EXCLUDE)}.json"
    counted(text=SOURCE, filename="c.py", exclude=None).parse_source()  # another pattern: another parse
    counted(text=SOURCE + "\n", filename="d.py", exclude=EXCLUDE).parse_source()  # another text: another parse
    assert calls == ["a.py", "c.py", "d.py"] and len(list((tmp_path / "parses").iterdir())) == 3


def test_a_parse_is_kept_for_this_coverage_and_this_python_only(monkeypatch):
    """Another coverage (its parser's rules) or another Python (its tokenizer, ast and byte code) names another
    entry: a parse kept by one is never read by the other."""
    kept = parse_key(SOURCE, EXCLUDE)
    monkeypatch.setattr(coverage, "__version__", coverage.__version__ + ".1")
    other_coverage = parse_key(SOURCE, EXCLUDE)
    monkeypatch.undo()
    monkeypatch.setattr(sys, "version", sys.version + " (another build)")
    assert len({kept, other_coverage, parse_key(SOURCE, EXCLUDE)}) == 3


@pytest.mark.parametrize("damage", ["not json", "wrong shape", "a string for a line", "a number too long", "fifo",
                                    "directory"])
def test_a_damaged_entry_is_parsed_again_and_replaced(damage, tmp_path):
    calls: list[str] = []
    counted = _parser(tmp_path / "parses", calls)
    entry = tmp_path / "parses" / f"{parse_key(SOURCE, EXCLUDE)}.json"
    entry.parent.mkdir()
    good = {"statements": [3], "excluded": [], "raw_statements": [3], "raw_excluded": [], "raw_docstrings": [],
            "multiline_map": [[4, 3]]}
    if damage == "not json":
        entry.write_text("{")
    elif damage == "wrong shape":
        entry.write_text(json.dumps({**good, "multiline_map": {"4": 3}}))
    elif damage == "a string for a line":
        entry.write_text(json.dumps({**good, "statements": ["3"]}))
    elif damage == "a number too long":  # JSON, but more digits than Python reads into an int
        entry.write_text(json.dumps(good).replace("[3]", "[" + "3" * 5000 + "]", 1))
    elif damage == "fifo":
        os.mkfifo(entry)  # read without waiting for a writer, and refused
    else:
        entry.mkdir()
    parser = counted(text=SOURCE, exclude=EXCLUDE)
    parser.parse_source()
    assert calls == ["<code>"] and parser.statements == {3, 9}
    if damage != "directory":  # a directory in the way stays; the parse is still right
        assert json.loads(entry.read_text())["statements"] == [3, 9]


def test_an_unwritable_cache_leaves_every_parse_as_coverage_makes_it(tmp_path):
    (tmp_path / "parses").write_text("a file where the cache would be")
    calls: list[str] = []
    counted = _parser(tmp_path / "parses", calls)
    for _ in range(2):
        parser = counted(text=SOURCE, exclude=EXCLUDE)
        parser.parse_source()
        assert parser.statements == {3, 9}
    assert len(calls) == 2 and (tmp_path / "parses").read_text() == "a file where the cache would be"


def test_entries_unused_for_a_month_go_when_a_parse_is_kept(tmp_path):
    """By the first parse a run keeps (a run is one install: `_parser`)."""
    calls: list[str] = []
    _parser(tmp_path / "parses", calls)(text=SOURCE, exclude=EXCLUDE).parse_source()  # an earlier run's
    used = tmp_path / "parses" / f"{parse_key(SOURCE, EXCLUDE)}.json"
    stale, other = tmp_path / "parses" / ("0" * 64 + ".json"), tmp_path / "parses" / "notes.txt"
    stale.write_text("{}")
    other.write_text("not the cache's")
    long_ago = time.time() - PARSE_KEPT_SECONDS - 60
    for path in (used, stale, other):
        os.utime(path, (long_ago, long_ago))
    counted = _parser(tmp_path / "parses", calls)  # this run's
    counted(text=SOURCE, exclude=EXCLUDE).parse_source()  # read: its entry is used again
    counted(text=SOURCE + "\n", exclude=EXCLUDE).parse_source()  # kept: the prune runs
    assert used.exists() and other.exists() and not stale.exists()


def test_the_cache_is_scanned_for_unused_entries_once_however_many_parses_are_kept(tmp_path, monkeypatch):
    """Many parses kept at once (a new coverage or Python: every file misses) scan the cache once, not once each:
    a scan per parse cost seconds in a cache of thousands of entries."""
    import tests.coverage_session as session

    scanned = []
    scandir = os.scandir
    monkeypatch.setattr(session.os, "scandir", lambda path: scanned.append(path) or scandir(path))
    calls: list[str] = []
    counted = _parser(tmp_path / "parses", calls)
    for number in range(3):
        counted(text=SOURCE + "\n" * number, exclude=EXCLUDE).parse_source()
    assert scanned == [tmp_path / "parses"]  # before iterdir, which scans too
    assert len(calls) == 3 and len(list((tmp_path / "parses").iterdir())) == 3


def test_the_combining_coverage_keeps_its_parses_in_the_users_cache_and_reports_alike(project, parse_cache,
                                                                                      monkeypatch):
    """The session's install (analyse_once_after_combining): the combining Coverage's reports, branch measurement
    included, say what coverage alone says, from parses kept in $XDG_CACHE_HOME/streamtech-platform/."""
    tables = []
    for _ in range(2):  # parsed, then read
        tables.append(_reports(_combined(project).combining_cov))
    assert len(list(parse_cache.iterdir())) == 3  # pkg/__init__.py, ran.py and never.py
    plain = coverage.Coverage(data_file=str(project / ".coverage"), config_file=str(project / "rc"))
    plain.load()
    assert tables[0] == tables[1] == _reports(plain) and "ran.py" in tables[0][1]
    from coverage.parser import PythonParser

    master = _distmaster(project)  # a worker's early DistMaster (it parses the controller's -n too): nothing
    master.start()
    master.cov.stop()
    monkeypatch.setattr(PythonParser, "parse_source", PythonParser.parse_source.__wrapped__)
    assert analyse_once_after_combining(_config(master, worker=True)) is True
    assert not getattr(PythonParser.parse_source, "remembered", False)
