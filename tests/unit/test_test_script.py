"""scripts/test.sh's end: the suite's exit status, whatever the byte code store (scripts/bytecode.py) does after it,
and no store after Ctrl-C. Run as a copy with stand-ins for set-up, pytest and the environments' interpreters."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

PYTEST = """#!/bin/sh
# pytest's stand-in: exits $STUB_STATUS, or, sleeping, exits 2 on SIGINT as pytest does (KeyboardInterrupt caught)
trap 'kill "$nap"; echo interrupted; exit 2' INT
if [ -n "${STUB_SLEEP:-}" ]; then sleep "$STUB_SLEEP" & nap=$!; : > started; wait "$nap"; fi
exit "${STUB_STATUS:-0}"
"""


def _copy(tmp_path: Path) -> Path:
    work = tmp_path / "checkout"
    (work / "scripts").mkdir(parents=True)
    (work / "scripts" / "test.sh").write_bytes((ROOT / "scripts" / "test.sh").read_bytes())
    for name in ("setup.sh", "system-deps.sh"):
        (work / "scripts" / name).write_text("true\n")
    (work / "bin").mkdir()
    (work / "scripts" / "env.sh").write_text(f'export PATH="{work / "bin"}:$PATH"\n')
    (work / "bin" / "python").write_text(PYTEST)
    for venv in (".venv", ".venv-checkov"):
        (work / venv / "bin").mkdir(parents=True)
        (work / venv / "bin" / "python").write_text(
            f'#!/bin/sh\necho "$0 $*" >> "{work / "stores"}"\nexit "${{STORE_STATUS:-0}}"\n')
    for path in (work / "bin" / "python", work / ".venv" / "bin" / "python", work / ".venv-checkov" / "bin" / "python"):
        path.chmod(0o755)
    return work


@pytest.mark.parametrize(("suite", "store"), [(0, 0), (1, 0), (5, 0), (0, 3), (1, 3), (0, 1)])
def test_the_status_is_the_suites_and_the_store_runs_after_it(suite, store, tmp_path):
    work = _copy(tmp_path)
    proc = subprocess.run(["bash", "scripts/test.sh"], cwd=work, capture_output=True, text=True,
                          env={**os.environ, "STUB_STATUS": str(suite), "STORE_STATUS": str(store)})
    assert proc.returncode == suite
    assert (work / "stores").read_text().splitlines() == [
        ".venv/bin/python scripts/bytecode.py store", ".venv-checkov/bin/python scripts/bytecode.py store"]


def test_ctrl_c_ends_the_run_with_the_suites_status_and_stores_nothing(tmp_path):
    """A terminal's Ctrl-C: SIGINT to the whole foreground process group, the script and pytest."""
    work = _copy(tmp_path)
    # SIGINT back to its default before bash starts (a shell cannot trap a signal ignored at its start, as it may
    # be in a test worker), by an exec: preexec_fn is not safe in a process with threads.
    default_int = "import os, signal; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp('bash', ['bash', " \
                  "'scripts/test.sh'])"
    proc = subprocess.Popen([sys.executable, "-c", default_int], cwd=work, env={**os.environ, "STUB_SLEEP": "30"},
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not (work / "started").exists():
            assert time.monotonic() < deadline, "the stand-in never started"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert (proc.returncode, out.strip()) == (2, "interrupted")
    assert not (work / "stores").exists()


@pytest.mark.parametrize("args", [["-p", "no:cacheprovider"], ["-q", "-pno:cacheprovider"]])
def test_affected_without_the_cache_provider_is_a_usage_error_before_anything_runs(args, tmp_path):
    """pytest-testmon reads the cache provider's --lf option: `--affected -p no:cacheprovider` would end every run
    that selects in its INTERNALERROR. Refused with the reason, exit 2, before set-up or pytest runs."""
    work = _copy(tmp_path)
    (work / "scripts" / "setup.sh").write_text(f": > {work / 'set-up'}\n")
    proc = subprocess.run(["bash", "scripts/test.sh", "--affected", *args], cwd=work, capture_output=True, text=True)
    assert proc.returncode == 2 and "error: --affected needs pytest's cache provider" in proc.stderr
    assert proc.stderr.rstrip().endswith(f"leave out {' '.join(args[-2:]) if args[-2] == '-p' else args[-1]}")
    assert not (work / "set-up").exists() and not (work / ".cache").exists()
    assert subprocess.run(["bash", "scripts/test.sh", *args], cwd=work, capture_output=True).returncode == 0


@pytest.mark.parametrize("args", [["-k", "no:cacheprovider"], ["tests/a.py::test_no:cacheprovider"], []])
def test_affected_with_the_text_elsewhere_runs(args, tmp_path):
    """Only a disabled cache provider is refused: the same text as a -k expression or a test id runs."""
    work = _copy(tmp_path)
    for name in ("requirements.lock", "requirements-checkov.lock", "package-lock.json", "cdk.json", "pyproject.toml"):
        (work / name).write_text("")  # what --affected's stamp hashes
    (work / "tests").mkdir()
    assert subprocess.run(["bash", "scripts/test.sh", "--affected", *args], cwd=work,
                          capture_output=True).returncode == 0
