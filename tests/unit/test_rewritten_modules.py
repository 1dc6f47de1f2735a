"""tests/rewritten_modules.py: the rewritten test modules the xdist controller writes before its workers start are
pytest's own, and a worker reads them instead of rewriting."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests import rewritten_modules
from tests.conftest import ROOT, unmeasured

SAMPLE = "def test_sums():\n    total = 1 + 1\n    assert total == 2, total\n"


class _Config:
    """The settings `start` reads, of a session rooted at `root`."""

    def __init__(self, root: Path, assertmode: str = "rewrite", *, pass_hook: bool = False) -> None:
        self.rootpath, self.assertmode, self.pass_hook = root, assertmode, pass_hook

    def getoption(self, name: str) -> Any:
        assert name == "assertmode"
        return self.assertmode

    def getini(self, name: str) -> Any:
        return {"python_files": ["test_*.py"], "testpaths": ["tests"], "enable_assertion_pass_hook": self.pass_hook}[
            name]


def _tree(root: Path) -> list[Path]:
    (root / "tests" / "deeper").mkdir(parents=True)
    written = [root / "tests" / "conftest.py", root / "tests" / "test_a.py", root / "tests" / "deeper" / "test_b.py",
               root / "tests" / "deeper" / "conftest.py"]
    for number, path in enumerate(written):
        path.write_text(SAMPLE.replace("1 + 1", f"{number} + 2 - {number}") * (number + 1))
    (root / "tests" / "helper.py").write_text("VALUE = 1\n")  # not a test module: a plain import compiles it
    return written


def test_a_written_module_is_the_one_pytest_writes_and_pytest_reads_it(pytestconfig, tmp_path):
    from _pytest.assertion import rewrite

    source = tmp_path / "test_sample.py"
    source.write_text(SAMPLE)
    assert rewritten_modules.stale([source]) == [source]
    assert rewritten_modules.rewrite([source], pass_hook=False) == 1
    assert rewritten_modules.stale([source]) == []
    kept = rewrite._read_pyc(source, rewritten_modules.cached_pyc(source))
    _, own = rewrite._rewrite_test(source, pytestconfig)  # pytest's own rewrite, with this session's settings
    assert kept is not None and kept == own  # the same code (marshal's bytes differ by reference counts)
    source.write_text(SAMPLE + "\n")  # another size: the written module no longer fits
    assert rewritten_modules.stale([source]) == [source]


def test_a_worker_reads_the_written_module_instead_of_rewriting(tmp_path):
    """pytest's own trace, in a pytest of its own over a module written here: it found the module, rewrote
    nothing, and the rewritten assert still explains its failure."""
    source = tmp_path / "test_sample.py"
    source.write_text(SAMPLE.replace("== 2", "== 3"))
    rewritten_modules.rewrite([source], pass_hook=False)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:cov", "-q",
                           "--debug=" + str(tmp_path / "trace.log"), str(source)], cwd=tmp_path, capture_output=True,
                          text=True, env={**unmeasured(os.environ), "PYTHONPATH": str(ROOT)}, timeout=120)
    trace = (tmp_path / "trace.log").read_text()
    assert f"found cached rewritten pyc for {source}" in trace and f"rewriting {source}" not in trace, trace[-2000:]
    assert done.returncode == 1 and "assert 2 == 3" in done.stdout, done.stdout[-2000:]


def test_the_controller_writes_every_stale_module_in_two_processes_then_nothing(tmp_path):
    written = _tree(tmp_path)
    config = _Config(tmp_path)
    assert rewritten_modules.rewritten_by_pytest(config) == sorted(written)
    priming = rewritten_modules.start(config, unmeasured(os.environ), ROOT)
    assert priming.helper is not None and 0 < len(priming.mine) < len(written)  # half in the second process
    assert priming.finish() == len(written)
    assert rewritten_modules.stale(written) == [] and not (tmp_path / "tests" / "__pycache__" / "helper.py").exists()
    again = rewritten_modules.start(config, unmeasured(os.environ), ROOT)
    assert again.helper is None and again.finish() == 0


def _names(code: Any) -> set[str]:
    """The names a code object and the code objects inside it use."""
    found = set(code.co_names)
    for constant in code.co_consts:
        if hasattr(constant, "co_names"):
            found |= _names(constant)
    return found


@pytest.mark.parametrize("pass_hook", [True, False])
def test_both_processes_write_with_the_sessions_assertion_pass_hook_setting(pass_hook, tmp_path):
    """enable_assertion_pass_hook changes what a rewrite makes (each passing assert calls the hook), and pytest
    reads a written module whatever the setting it was written with: both halves write with the session's."""
    from _pytest.assertion import rewrite

    written = _tree(tmp_path)
    priming = rewritten_modules.start(_Config(tmp_path, pass_hook=pass_hook), unmeasured(os.environ), ROOT)
    assert priming.helper is not None and priming.mine and priming.finish() == len(written)
    for source in written:
        code = rewrite._read_pyc(source, rewritten_modules.cached_pyc(source))
        assert code is not None and ("_check_if_assertion_pass_impl" in _names(code)) is pass_hook, source


@pytest.mark.parametrize("why", ["plain asserts", "no byte code"])
def test_nothing_is_written_where_pytest_would_write_nothing(why, tmp_path, monkeypatch):
    written = _tree(tmp_path)
    if why == "no byte code":
        monkeypatch.setattr(sys, "dont_write_bytecode", True)
    priming = rewritten_modules.start(_Config(tmp_path, "plain" if why == "plain asserts" else "rewrite"), {}, ROOT)
    assert priming.finish() == 0 and rewritten_modules.stale(written) == written


def test_a_module_pytest_cannot_import_is_left_to_the_worker_that_imports_it(tmp_path):
    """A test module that does not compile (work in progress), anywhere under the test paths and in either half:
    the others are written and nothing is raised; a session that selects the module reports it as pytest does (a
    collection error of that module), and one that does not select it runs as if it were not there."""
    written = _tree(tmp_path)
    broken = [tmp_path / "tests" / "test_unfinished.py", tmp_path / "tests" / "deeper" / "test_unfinished_too.py"]
    for number, path in enumerate(broken):
        path.write_text("def test_wip(:\n" + "    pass\n" * (number + 1))
    assert rewritten_modules.rewrite(broken, pass_hook=False) == 0  # the controller's half
    priming = rewritten_modules.start(_Config(tmp_path), unmeasured(os.environ), ROOT)
    assert priming.helper is not None and set(broken) & set(priming.mine) and set(broken) - set(priming.mine)
    assert priming.finish() == len(written)
    assert rewritten_modules.stale([*written, *broken]) == broken


def test_a_cache_directory_that_cannot_be_made_is_left_to_the_workers(tmp_path):
    """A file where __pycache__ would be (a read-only directory: the same refusal): nothing written, nothing
    raised; each worker then reads the source, as pytest would."""
    source = tmp_path / "test_sample.py"
    source.write_text(SAMPLE)
    (tmp_path / "__pycache__").write_text("not a directory")
    assert rewritten_modules.rewrite([source], pass_hook=False) == 0
    assert (tmp_path / "__pycache__").read_text() == "not a directory"


def test_a_fifo_in_place_of_a_rewritten_module_hangs_no_session_that_does_not_import_it(tmp_path):
    """A FIFO opened to read waits for a writer forever: one where a module's rewritten `.pyc` is expected is never
    opened by the controller (a worker that imports that module meets it as pytest alone would), and stays."""
    source = tmp_path / "test_sample.py"
    source.write_text(SAMPLE)
    fifo = rewritten_modules.cached_pyc(source)
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    found: list[list[Path]] = []
    looking = threading.Thread(target=lambda: found.append(rewritten_modules.stale([source])), daemon=True)
    looking.start()
    looking.join(60)  # a bound only: the answer comes at once, or never
    if looking.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # a writer that closes: the waiting read ends
        looking.join()
    assert found == [[]] and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_halves_split_by_bytes_and_keep_every_file(tmp_path):
    sizes = [9000, 5000, 4000, 3000, 1000, 1000]
    files = []
    for number, size in enumerate(sizes):
        files.append(tmp_path / f"test_{number}.py")
        files[-1].write_text("#" * size)
    one, two = rewritten_modules.halves(files)
    assert sorted(one + two) == sorted(files)
    weight = [sum(path.stat().st_size for path in part) for part in (one, two)]
    assert abs(weight[0] - weight[1]) <= 1000, weight


def test_the_session_rewrites_its_test_modules_and_conftests_not_its_helpers(pytestconfig):
    found = set(rewritten_modules.rewritten_by_pytest(pytestconfig))
    assert {ROOT / "tests" / "conftest.py", Path(__file__).resolve()} <= found
    assert ROOT / "tests" / "polling.py" not in found and ROOT / "tests" / "rewritten_modules.py" not in found
