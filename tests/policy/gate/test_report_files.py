"""policies/gate/report_files.py: where the gate's report files may go."""

from __future__ import annotations

import pytest

from platform_spec.exit_codes import EXIT_USAGE
from policies.gate import cli
from tests.conftest import CDK_AND_CHECKOV

pytestmark = [pytest.mark.synth, CDK_AND_CHECKOV]


def test_a_reports_directory_the_user_names_is_never_made_nor_written_through_a_link(tmp_path, capsys, monkeypatch):
    """Refused before anything runs (exit 2): a --reports directory that does not exist (it once had its
    missing parents made) and a report file there that is a symbolic link (it was written through)."""
    ran = []
    monkeypatch.setattr(cli, "run", lambda *a, **k: ran.append(1))
    assert cli.main(["--suffix", "x", "--reports", str(tmp_path / "a" / "b")]) == EXIT_USAGE
    assert "--reports" in capsys.readouterr().err and not (tmp_path / "a").exists()
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "gate.sarif").symlink_to(tmp_path / "elsewhere.sarif")
    assert cli.main(["--suffix", "x", "--reports", str(tmp_path / "r")]) == EXIT_USAGE
    assert "gate.sarif is a symbolic link: not written through" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere.sarif").exists() and not ran
