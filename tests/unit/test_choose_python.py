"""scripts/choose-python.sh: set-up's interpreter is the newest 3.13, else 3.12, that answers; else python3."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "choose-python.sh"


def _interpreter(path: Path, *, answers: bool) -> Path:
    """A stand-in interpreter: the script only asks whether it runs (its exit status), as a pyenv shim of a
    version that is not enabled fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\nexit {0 if answers else 1}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def machine(tmp_path):
    """A PATH with nothing but the tools the script uses and the interpreters a case puts there, and a pyenv
    root of its own."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ls", "sort"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    pyenv = tmp_path / "pyenv"

    def choose() -> str:
        bash = shutil.which("bash")
        result = subprocess.run([bash, str(SCRIPT)], capture_output=True, text=True, timeout=30,
                                env={"PATH": str(bin_dir), "PYENV_ROOT": str(pyenv), "HOME": str(tmp_path)})
        assert result.returncode == 0, result.stderr
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
