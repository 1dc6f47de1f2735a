"""tests/old_temporaries.py: the xdist controller's early removal of old sessions' temporary directories removes
what pytest's session end would (pytest's own factory and locks, in a temporary root of the test's own), and
nothing a live session holds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from _pytest.pathlib import LOCK_TIMEOUT
from _pytest.tmpdir import TempPathFactory, get_user

from tests import old_temporaries
from tests.conftest import ROOT, unmeasured


@pytest.fixture(autouse=True)
def niced(monkeypatch) -> list[int]:
    """What the removal's os.nice was asked, instead of asking it: a test that calls `main` in its own process
    would otherwise leave that process (an xdist worker, and every process it starts after) at the lowest
    priority for the rest of the session."""
    asked: list[int] = []
    monkeypatch.setattr(os, "nice", asked.append)
    return asked


def _factory(monkeypatch, tmp_path: Path, **options) -> TempPathFactory:
    """pytest's own factory of a session's temporary directory, under `tmp_path` (PYTEST_DEBUG_TEMPROOT)."""
    monkeypatch.setenv("PYTEST_DEBUG_TEMPROOT", str(tmp_path))
    return TempPathFactory(given_basetemp=options.get("given"), retention_count=options.get("count", 3),
                           retention_policy=options.get("policy", "all"), trace=lambda *args: None, _ispytest=True)


def _earlier_sessions(root: Path, count: int) -> list[Path]:
    """Directories of `count` finished sessions, numbered from 1, each with a file inside."""
    made = []
    for number in range(1, count + 1):
        made.append(root / f"pytest-{number}")
        (made[-1] / "test_x0").mkdir(parents=True)
        (made[-1] / "test_x0" / "kept.txt").write_text("a test's file")
    return made


def test_the_early_removal_removes_what_the_session_end_would_and_spares_a_live_session(tmp_path, monkeypatch):
    factory = _factory(monkeypatch, tmp_path)
    root = tmp_path / f"pytest-of-{os.environ.get('USER') or 'root'}"
    root.mkdir(mode=0o700)
    old = _earlier_sessions(root, 5)
    (old[1] / ".lock").write_text("a live session's lock")  # pytest-2: another session still runs
    config = SimpleNamespace(_tmp_path_factory=factory)
    top, keep, dead_before = old_temporaries.arguments(config)
    current = factory.getbasetemp()
    assert (top, keep) == (root, 3) and current == root / "pytest-6"
    assert dead_before == pytest.approx(current.stat().st_mtime - LOCK_TIMEOUT)

    early = old_temporaries.start(config, unmeasured(os.environ), ROOT)
    assert early.wait() == 0
    # the newest three sessions stay (this one among them), pytest-2 for its lock; the rest are gone
    assert sorted(p.name for p in root.iterdir()) == ["pytest-2", "pytest-4", "pytest-5", "pytest-6", "pytest-current"]
    assert (old[1] / "test_x0" / "kept.txt").read_text() == "a test's file"


#: A test run by a session of the suite's own hooks: it waits for an old session's directory to go.
PROBE = """
import os
from pathlib import Path

from tests.polling import poll


def test_an_old_session_goes_while_this_one_runs():
    old = Path(os.environ["OLD_SESSION"])
    poll(lambda: not old.exists(), f"{old} removed before the session's end")
"""


def test_an_xdist_session_of_the_suites_hooks_removes_old_sessions_while_its_tests_run(tmp_path):
    """tests/conftest.py's hooks (loaded as a plugin, where they run in the order a conftest's do) in an xdist
    session of their own, over a test in a directory of its own: an old session's directory goes while the test
    runs, not at the session's end. The removal must start where pytest's tmpdir plugin has made the session's
    factory, which a conftest's pytest_configure runs before."""
    temproot, probe = tmp_path / "temproot", tmp_path / "probe"
    root = temproot / f"pytest-of-{get_user()}"
    root.mkdir(parents=True, mode=0o700)
    old = _earlier_sessions(root, 4)
    probe.mkdir()
    (probe / "test_probe.py").write_text(PROBE)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-p",
                           "no:cov", "-n", "1", "-q", "--rootdir", str(probe), str(probe)], cwd=probe,
                          capture_output=True, text=True, timeout=600,
                          env={**unmeasured(os.environ), "PYTHONPATH": str(ROOT),
                               "PYTEST_DEBUG_TEMPROOT": str(temproot), "OLD_SESSION": str(old[0])})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "removes the old temporary directories itself" not in done.stderr, done.stderr[-3000:]


def test_a_stale_lock_does_not_keep_a_session(tmp_path):
    """A lock older than pytest's timeout is a session that died: removed, as pytest's end removes it."""
    root = tmp_path / "pytest-of-someone"
    old = _earlier_sessions(root, 4)
    lock = old[0] / ".lock"
    lock.write_text("a crashed session's lock")
    past = time.time() - LOCK_TIMEOUT - 60
    os.utime(lock, (past, past))
    assert old_temporaries.main([str(root), "3", repr(time.time() - LOCK_TIMEOUT)]) == 0
    assert sorted(p.name for p in root.iterdir()) == ["pytest-2", "pytest-3", "pytest-4"]


def test_the_removal_runs_at_the_lowest_priority(tmp_path, niced):
    root = tmp_path / "pytest-of-someone"
    _earlier_sessions(root, 2)
    assert old_temporaries.main([str(root), "1", "0"]) == 0
    assert niced == [19] and [p.name for p in root.iterdir()] == ["pytest-2"]


def test_a_given_basetemp_removes_nothing(tmp_path, monkeypatch):
    factory = _factory(monkeypatch, tmp_path, given=tmp_path / "given")
    found = old_temporaries.arguments(SimpleNamespace(_tmp_path_factory=factory))
    assert found is None and old_temporaries.start(SimpleNamespace(_tmp_path_factory=factory), {}, ROOT).wait() is None


def test_ctrl_c_ends_the_removal_quietly(tmp_path, monkeypatch):
    """Ctrl-C reaches the removal with the session (one process group): it ends without a traceback of its own in
    the terminal, and pytest's end removes what is left, as it did before."""
    import _pytest.pathlib

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_pytest.pathlib, "cleanup_numbered_dir", interrupted)
    try:
        code: object = old_temporaries.main([str(tmp_path), "3", "0"])
    except KeyboardInterrupt:
        code = "raised"
    assert code == 130


@pytest.mark.parametrize("options", [{"policy": "none"}, {"count": 0}])
def test_a_session_that_keeps_none_is_left_to_its_own_end(options, tmp_path, monkeypatch):
    """Keeping no session, pytest locks none, not even this one's, and its end removes them all, this session's
    own directory (its workers' temporary directories) among them: removed at the start, the tests would lose
    theirs. Nothing is started; the end removes them as it always did."""
    factory = _factory(monkeypatch, tmp_path, **options)
    config = SimpleNamespace(_tmp_path_factory=factory)
    root = tmp_path / f"pytest-of-{os.environ.get('USER') or 'root'}"
    root.mkdir(mode=0o700)
    _earlier_sessions(root, 2)
    early = old_temporaries.start(config, unmeasured(os.environ), ROOT)
    early.wait()
    current = factory.getbasetemp()
    assert current == root / "pytest-3" and current.is_dir() and early.process is None
    assert sorted(p.name for p in root.iterdir()) == ["pytest-1", "pytest-2", "pytest-3", "pytest-current"]


def test_another_pytest_leaves_the_removal_to_its_own_end(capsys):
    early = old_temporaries.start(SimpleNamespace(), {}, ROOT)  # no _tmp_path_factory
    assert early.process is None and early.wait() is None
    assert "its session end removes the old temporary directories itself" in capsys.readouterr().err
