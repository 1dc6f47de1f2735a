"""tests/coverage_session.py on pytest-cov's own controller objects, in a directory of their own: the xdist
controller's tracer stopped after it started loses nothing of the combined data, and the reports that follow the
combine analyse each file once and say what they said before."""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import coverage
import pytest
from coverage import CoverageData
from pytest_cov.engine import DistMaster

from tests.coverage_session import (
    analyse_once_after_combining,
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


def test_the_lcov_report_after_the_total_reads_the_reporter_its_analysis_was_made_with(project, tmp_path):
    """pytest-cov's total comes first; the LCOV report then asks each file's reporter for the description of its
    arcs, which only the parser that made the analysis holds (a kept analysis beside a new reporter failed an
    assertion in coverage's parser: pytest INTERNALERROR)."""
    master = _distmaster(project)
    master.start()
    master.cov.stop()
    assert analyse_once_after_combining(_config(master)) is True
    _worker_data(project)
    master.finish()
    master.cov.report(output_format="total", file=io.StringIO())
    master.cov.lcov_report(outfile=str(tmp_path / "kept.lcov"))

    plain = coverage.Coverage(data_file=str(project / ".coverage"), config_file=str(project / "rc"))
    plain.load()
    plain.lcov_report(outfile=str(tmp_path / "plain.lcov"))
    kept = (tmp_path / "kept.lcov").read_text()
    assert kept == (tmp_path / "plain.lcov").read_text()
    assert "BRDA:2,0," in kept  # the partial branch of ran.py, described
