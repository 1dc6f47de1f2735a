"""`source scripts/env.sh` works from any directory (and through a link to it), in bash and zsh: the repository is
found from the file's own location, not from $PWD."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT

ENV_SH = ROOT / "scripts" / "env.sh"


def _source(shell: str, script: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([shell, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)})


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_sourced_from_another_directory_or_through_a_link_it_puts_the_repository_first(shell, tmp_path):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed here")
    link = tmp_path / "env.sh"
    link.symlink_to(ENV_SH)
    for path in (ENV_SH, link):
        done = _source(shell, f'source "{path}" && command -v python && printf "%s\\n" "$AWS_DEFAULT_REGION" '
                              '"${_streamtech_root-none}"', tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [str(ROOT.resolve() / ".venv" / "bin" / "python"), "ap-northeast-1", "none"]


def test_a_shell_that_cannot_say_where_it_sources_from_fails_with_a_reason_elsewhere(tmp_path):
    """POSIX sh has no name for the sourced file: from the repository's root it works, elsewhere it says why."""
    if shutil.which("dash") is None:
        pytest.skip("dash is not installed here")
    elsewhere = _source("dash", f'. "{ENV_SH}"; echo "rc=$?"', tmp_path)
    assert elsewhere.stdout.strip() == "rc=1" and "no repository around scripts/env.sh" in elsewhere.stderr
    at_root = _source("dash", f'. "{ENV_SH}"; echo "rc=$?"; command -v python', ROOT)
    assert at_root.stdout.split() == ["rc=0", str(ROOT.resolve() / ".venv" / "bin" / "python")]
