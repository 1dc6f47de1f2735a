"""scripts/choose-python.sh: set-up's interpreter is a 3.13, else 3.12, that answers (PATH's, else pyenv's newest
final release of the default build); else python3."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.stand_ins import python_of, script

SCRIPT = ROOT / "scripts" / "choose-python.sh"


def _interpreter(path: Path, *, answers: bool) -> Path:
    """A stand-in interpreter: the script only asks whether it runs (its exit status), as a pyenv shim of a
    version that is not enabled fails."""
    return script(path, f"#!/bin/sh\nexit {0 if answers else 1}\n")


@pytest.fixture
def machine(tmp_path):
    """A PATH with nothing but the tools the script uses and the interpreters a case puts there, and a pyenv
    root of its own."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ls", "sort", "timeout"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    pyenv = tmp_path / "pyenv"

    def choose(stderr: list[str] | None = None) -> str:
        bash = shutil.which("bash")
        result = subprocess.run([bash, str(SCRIPT)], capture_output=True, text=True, timeout=30,
                                env={"PATH": str(bin_dir), "PYENV_ROOT": str(pyenv), "HOME": str(tmp_path)})
        assert result.returncode == 0, result.stderr
        if stderr is not None:
            stderr.append(result.stderr)
        return result.stdout.strip()

    return bin_dir, pyenv, choose


def test_the_newest_pyenv_313_that_answers_is_chosen_over_a_failing_shim(machine):
    bin_dir, pyenv, choose = machine
    _interpreter(bin_dir / "python3.13", answers=False)  # pyenv's shim of a version not enabled
    for version in ("3.13.1", "3.13.9"):
        _interpreter(pyenv / "versions" / version / "bin" / "python3.13", answers=True)
    newest = _interpreter(pyenv / "versions" / "3.13.10" / "bin" / "python3.13", answers=True)
    _interpreter(pyenv / "versions" / "3.13.11" / "bin" / "python3.13", answers=False)  # broken: passed over
    _interpreter(pyenv / "versions" / "3.12.1" / "bin" / "python3.12", answers=True)
    assert choose() == str(newest)


def test_a_313_on_path_that_answers_comes_before_pyenvs(machine):
    bin_dir, pyenv, choose = machine
    _interpreter(bin_dir / "python3.13", answers=True)
    _interpreter(pyenv / "versions" / "3.13.5" / "bin" / "python3.13", answers=True)
    assert choose() == "python3.13"


def test_312_when_no_313_answers(machine):
    _, pyenv, choose = machine
    _interpreter(pyenv / "versions" / "3.13.0" / "bin" / "python3.13", answers=False)
    chosen = _interpreter(pyenv / "versions" / "3.12.1" / "bin" / "python3.12", answers=True)
    assert choose() == str(chosen)


def test_python3_when_neither_is_here(machine):
    bin_dir, pyenv, choose = machine
    _interpreter(bin_dir / "python3.12", answers=False)
    (pyenv / "versions" / "3.11.7" / "bin").mkdir(parents=True)
    assert choose() == "python3"


def test_a_pre_release_or_a_free_threaded_or_debug_build_is_passed_over(machine):
    """pyenv's 3.13.* holds them too, and a pre-release sorts above the final release before it."""
    _, pyenv, choose = machine
    versions = pyenv / "versions"
    python_of(versions / "3.13.2rc1" / "bin" / "python3.13", "3.13.2", releaselevel="candidate")
    python_of(versions / "3.13.1t" / "bin" / "python3.13", "3.13.1", abiflags="t")
    python_of(versions / "3.13.1-debug" / "bin" / "python3.13", "3.13.1", abiflags="d")
    final = python_of(versions / "3.13.1" / "bin" / "python3.13", "3.13.1")
    python_of(versions / "3.13.0" / "bin" / "python3.13", "3.13.0")
    assert choose() == str(final)


def test_a_313_that_says_it_is_another_version_is_passed_over(machine):
    _, pyenv, choose = machine
    python_of(pyenv / "versions" / "3.13.1" / "bin" / "python3.13", "3.12.1")
    chosen = python_of(pyenv / "versions" / "3.12.1" / "bin" / "python3.12", "3.12.1")
    assert choose() == str(chosen)


def test_an_interpreter_that_never_answers_is_given_up_and_passed_over(machine):
    """The script's `timeout` cut to 1 s here: what it runs is killed, and the next interpreter is asked."""
    bin_dir, pyenv, choose = machine
    (bin_dir / "timeout").unlink()
    _interpreter(bin_dir / "timeout", answers=True).write_text(
        "#!/bin/sh\n# timeout [-k N] DURATION COMMAND...: the duration made 1 s\n"
        "while [ $# -gt 0 ]; do case $1 in -k) shift 2;; -*) shift;; [0-9]*) shift; break;; *) break;; esac; done\n"
        f"exec '{shutil.which('timeout')}' -k 1 1 \"$@\"\n")
    hangs = _interpreter(pyenv / "versions" / "3.13.2" / "bin" / "python3.13", answers=True)
    hangs.write_text("#!/bin/sh\nexec sleep 60\n")
    (bin_dir / "sleep").symlink_to(shutil.which("sleep"))
    chosen = _interpreter(pyenv / "versions" / "3.13.1" / "bin" / "python3.13", answers=True)
    stderr: list[str] = []
    assert choose(stderr) == str(chosen)
    assert f"{hangs} did not answer" in stderr[0]


@pytest.mark.parametrize("kind", ["directory", "fifo", "link loop"])
def test_an_entry_that_is_no_interpreter_is_passed_over(machine, kind):
    _, pyenv, choose = machine
    odd = pyenv / "versions" / "3.13.9" / "bin" / "python3.13"
    odd.parent.mkdir(parents=True)
    if kind == "directory":
        odd.mkdir()
    elif kind == "fifo":
        os.mkfifo(odd)
    else:
        odd.symlink_to(odd.parent / "loop")
        (odd.parent / "loop").symlink_to(odd)
    chosen = _interpreter(pyenv / "versions" / "3.13.1" / "bin" / "python3.13", answers=True)
    assert choose() == str(chosen)


def test_a_version_directory_with_a_space_in_its_name(machine, tmp_path):
    _, _, choose = machine
    chosen = _interpreter(tmp_path / "pyenv" / "versions" / "3.13.1 local" / "bin" / "python3.13", answers=True)
    assert choose() == str(chosen)
