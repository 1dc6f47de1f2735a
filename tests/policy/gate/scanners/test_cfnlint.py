"""policies/gate/scanners/cfnlint.py: a schema error is one finding from cfn-lint; a broken cfn-lint is a gate
that could not run."""

from __future__ import annotations

import json
import sys

import pytest

from platform_spec.exit_codes import EXIT_FINDINGS
from policies.gate import cli, core
from policies.gate.result import GateError
from policies.gate.scanners import cfnlint
from tests.conftest import CDK_AND_CHECKOV
from tests.policy.conftest import schema_error_template

pytestmark = [pytest.mark.synth, CDK_AND_CHECKOV]


def test_a_schema_error_fails_the_gate_once_from_cfn_lint(synth, tmp_path, monkeypatch, capsys, replayed_tools):
    """cfn-lint's rules run once. The synthesis the gate reuses ran without CDK's built-in copy of them (its
    CloudFormation Validate plugin left no report in the assembly); a property CloudFormation would reject, put
    into a real template of it (the monitor's: tests/policy/conftest.py schema_error_template), fails the gate
    with one finding: cfn-lint's, on the resource, with the Python line that declares it. (Checkov left out: it
    judges no schema, and its run over the real template is the mutation tests'.)"""
    import shutil
    from collections import Counter

    from cdk_app import assembly_cache

    report = synth.outdir / "validation-report.json"
    plugins = [r["pluginName"] for r in json.loads(report.read_text())["pluginReports"]] if report.exists() else []
    assert "CloudFormation Validate" not in plugins
    name, template, queue = schema_error_template(synth)
    assembly = tmp_path / "assembly"
    assembly.mkdir()
    (assembly / name).write_text(json.dumps(template, indent=1))
    shutil.copy(synth.outdir / "source-map.json", assembly)
    (assembly / "manifest.json").write_text(json.dumps({"artifacts": {name.removesuffix(".template.json"): {
        "type": "aws:cloudformation:stack", "properties": {"templateFile": name}}}}))
    monkeypatch.setattr(assembly_cache, "synthesized",
                        lambda context: assembly_cache.Assembly(assembly, "schema-error", True, 0.0))
    monkeypatch.setattr(core, "checkov_scan", lambda templates, suffix: ([], Counter(), set()))
    (tmp_path / "r").mkdir()
    assert cli.main(["--suffix", "test", "--cdk-out", str(tmp_path / "out"), "--reports", str(tmp_path / "r")]) \
        == EXIT_FINDINGS
    out = capsys.readouterr().out
    [line] = [line.strip() for line in out.splitlines() if line.strip().startswith("FAIL")]
    assert line.startswith(f"FAIL (cfn-lint) HIGH Resources.{queue} (cdk_app/") and "VisibilityTimeoutSeconds" in line
    assert line.endswith("[cfn-lint E3002]") and "cfn-lint: 1 error(s)" in out
    [finding] = json.loads((tmp_path / "r" / "gate.json").read_text())["findings"]
    assert finding["rule_id"] == "E3002" and finding["source"]["file"].startswith("cdk_app/")


def test_a_broken_cfn_lint_is_a_gate_that_could_not_run(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    with pytest.raises(GateError, match=r"could not start|did not produce a report"):
        cfnlint.cfnlint_scan([tmp_path / "a.template.json"])
