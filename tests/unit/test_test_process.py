"""The test processes' own settings (tests/conftest.py), garbage collection and the order of the tests: they must
make the suite cheaper without hiding anything a test would otherwise see or running anything twice."""

from __future__ import annotations

import gc
import sys
from types import SimpleNamespace

import pytest

import tests.conftest
from tests.conftest import GC_THRESHOLDS, pytest_collection_modifyitems, settle_garbage_at_exit, spread_out


def test_this_test_process_collects_with_the_suites_thresholds():
    assert gc.get_threshold() == GC_THRESHOLDS


class _RaisesWhenCollected:
    def __init__(self) -> None:
        self.cycle = self  # only the cyclic collector can free it

    def __del__(self) -> None:
        raise RuntimeError("raised in a finalizer")


def test_settling_at_exit_collects_the_garbage_before_freezing_the_rest(monkeypatch):
    """The exit-time collection still runs every finalizer of cyclic garbage (so pytest's hook still reports
    what they raise) before it freezes the survivors."""
    reported: list[BaseException] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: reported.append(unraisable.exc_value))
    _RaisesWhenCollected()
    try:
        settle_garbage_at_exit()
        assert [str(exc) for exc in reported] == ["raised in a finalizer"]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_a_test_process_leaves_no_history_directory_behind(tmp_path):
    """Each test process sends opscli's history to a directory of its own (tests/conftest.py): the directory
    exists while the process runs and is gone once it exits, so runs of the suite do not pile up directories in
    the temporary folder."""
    import os
    import subprocess
    from pathlib import Path

    from tests.conftest import ROOT

    script = ("import os, tests.conftest as c; h = os.environ['OPSCLI_HISTORY']; "
              "assert os.path.dirname(h) == c._HISTORY_DIR and os.path.isdir(c._HISTORY_DIR); print(h)")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=False, timeout=120)
    assert run.returncode == 0, run.stderr
    history = Path(run.stdout.strip())
    assert history.parent.parent == tmp_path and history.parent.name.startswith("opscli-history-")
    assert not history.parent.exists() and list(tmp_path.iterdir()) == []


class _Item:
    """What spread_out and the collection hook read of a test: its node id, its markers (xdist_group, synth), the
    process's configuration (an xdist worker's has workerinput), its module and the fixtures it asks for (none)."""

    def __init__(self, nodeid: str, *markers: str, worker: bool = False) -> None:
        self.nodeid, self.markers = nodeid, markers
        self.config = SimpleNamespace(workerinput={}) if worker else SimpleNamespace()
        self.module = SimpleNamespace(__name__=nodeid.split("::")[0].removesuffix(".py").replace("/", "."))
        self.fixturenames: tuple[str, ...] = ()

    def get_closest_marker(self, name: str) -> str | None:
        return name if name in self.markers else None

    def listchain(self) -> list:
        return []

    def add_marker(self, mark: pytest.MarkDecorator) -> None:
        self.markers += (mark.name,)

    def __repr__(self) -> str:
        return self.nodeid


def test_the_groups_come_first_and_each_files_tests_of_no_group_are_spread_out():
    items = [*(_Item(f"tests/a.py::t{n}") for n in range(4)), _Item("tests/g.py::t0", "xdist_group"),
             *(_Item(f"tests/b.py::t{n}") for n in range(2)), _Item("tests/g.py::t1", "xdist_group"),
             _Item("tests/s.py::t0", "synth"), _Item("tests/s.py::t1", "synth"),
             _Item("tests/d.py::t0", "synth", "xdist_group")]
    spread = spread_out(items)
    assert sorted(map(repr, spread)) == sorted(map(repr, items)) and len(spread) == len(items)  # each once
    assert [repr(i) for i in spread] == [
        "tests/g.py::t0", "tests/g.py::t1", "tests/d.py::t0",  # the groups' tests first, in their order
        "tests/a.py::t0", "tests/b.py::t0", "tests/a.py::t1", "tests/a.py::t2", "tests/b.py::t1", "tests/a.py::t3",
        "tests/s.py::t0", "tests/s.py::t1"]  # of the others, those that need the template last
    assert spread_out(items) == spread  # every worker collects the same order


def test_the_collection_hook_spreads_the_order_in_an_xdist_worker_only(monkeypatch):
    """Under xdist each worker's collection hook hands its order to spread_out (every worker the same); a run of
    one process keeps pytest's order, those that need the template last."""
    calls = []
    monkeypatch.setattr(tests.conftest, "spread_out", lambda items: calls.append(list(items)) or items[::-1])
    for worker in (True, False):
        items = [_Item("tests/s.py::t0", "synth", worker=worker), _Item("tests/a.py::t0", worker=worker)]
        pytest_collection_modifyitems(items)
        expected = ["tests/a.py::t0", "tests/s.py::t0"]
        assert [repr(i) for i in items] == (expected[::-1] if worker else expected)
    assert [[repr(i) for i in call] for call in calls] == [["tests/a.py::t0", "tests/s.py::t0"]]


def test_a_test_that_asks_for_the_template_is_marked_synth_and_runs_after_those_that_do_not():
    asks = _Item("tests/a.py::t0")
    asks.fixturenames = ("tmp_path", "synth")
    items = [asks, _Item("tests/b.py::t0")]
    pytest_collection_modifyitems(items)
    assert asks.get_closest_marker("synth") and [repr(i) for i in items] == ["tests/b.py::t0", "tests/a.py::t0"]
