"""policies/checkov_batch.py around Checkov: the templates it is given, in order with their suffixes, and its
refusals. What Checkov finds is the session's one Checkov process over every fixture and mutation
(tests/policy/conftest.py), in Checkov's own environment; here the module runs in process with the scan itself
replaced."""

from __future__ import annotations

import io
import json
import sys

import pytest

from platform_spec.exit_codes import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE
from policies import checkov_batch


def test_each_template_is_scanned_with_its_suffix_and_the_reports_are_one_json_list(tmp_path, monkeypatch):
    first, second = tmp_path / "a.template.json", tmp_path / "b.template.json"
    first.write_text("{}")
    second.write_text("{}")
    scanned = []
    monkeypatch.setattr(checkov_batch, "scan", lambda jobs, checks: scanned.append((jobs, checks)) or
                        [{"file": path} for _, path in jobs])
    monkeypatch.setattr(sys, "__stdout__", out := io.StringIO())
    assert checkov_batch.main(["--external-checks-dir", "checks", "--template", "fx", str(first),
                               str(second)]) == EXIT_OK
    assert scanned == [([("fx", str(first)), (None, str(second))], "checks")]
    assert json.loads(out.getvalue()) == [{"file": str(first)}, {"file": str(second)}]


def test_no_template_or_a_missing_one_is_a_usage_error_and_nothing_is_scanned(tmp_path, capsys, monkeypatch):
    scanned = []
    monkeypatch.setattr(checkov_batch, "scan", lambda jobs, checks: scanned.append(jobs) or [])
    with pytest.raises(SystemExit) as exited:
        checkov_batch.main(["--external-checks-dir", str(tmp_path)])
    assert exited.value.code == EXIT_USAGE and "no template to scan" in capsys.readouterr().err
    present, gone = tmp_path / "a.template.json", tmp_path / "gone.template.json"
    present.write_text("{}")
    assert checkov_batch.main(["--external-checks-dir", str(tmp_path), "--template", "x", str(gone),
                               str(present)]) == EXIT_USAGE
    assert capsys.readouterr().err == f"error: no such template: {gone}\n" and scanned == []


def test_checkov_failing_or_no_standard_output_is_an_incomplete_run(tmp_path, capsys, monkeypatch):
    template = tmp_path / "a.template.json"
    template.write_text("{}")
    argv = ["--external-checks-dir", str(tmp_path), str(template)]

    def fails(jobs, checks):
        raise RuntimeError("a check broke")

    monkeypatch.setattr(checkov_batch, "scan", fails)
    assert checkov_batch.main(argv) == EXIT_INCOMPLETE
    assert capsys.readouterr().err == "error: Checkov failed: RuntimeError: a check broke\n"
    monkeypatch.setattr(checkov_batch, "scan", lambda jobs, checks: [{"file": jobs[0][1]}])
    monkeypatch.setattr(sys, "__stdout__", None)
    assert checkov_batch.main(argv) == EXIT_INCOMPLETE
    assert capsys.readouterr().err == "error: no standard output to write the reports to\n"
