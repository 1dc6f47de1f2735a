"""tests/coverage_session.py on pytest-cov's own controller objects, in a directory of their own: the reports that
follow the combine analyse each file once and say what they said before."""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from types import SimpleNamespace

import coverage
import pytest
from coverage import CoverageData
from pytest_cov.engine import DistMaster

from tests.coverage_session import analyse_once_after_combining


def _config(controller: object) -> SimpleNamespace:
    """What the functions read of a pytest config: pytest-cov's plugin and its controller."""
    plugin = SimpleNamespace(cov_controller=controller)
    return SimpleNamespace(pluginmanager=SimpleNamespace(getplugin=lambda name: plugin if name == "_cov" else None))


def _project(root: Path, monkeypatch) -> Path:
    """A measured package of two modules, one that a worker ran and one that no process ran."""
    package = root / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "ran.py").write_text("def f(x):\n    if x:\n        return 1\n    return 2\n")
    (package / "never.py").write_text("y = 1\n")
    (root / "rc").write_text("[run]\nbranch = true\n")
    monkeypatch.chdir(root)
    monkeypatch.delenv("COVERAGE_PROCESS_CONFIG", raising=False)
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


def test_nothing_is_kept_without_pytest_covs_controller():
    assert analyse_once_after_combining(_config(None)) is False
    assert analyse_once_after_combining(_config(SimpleNamespace(combining_cov=None))) is False


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
