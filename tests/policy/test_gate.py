"""The policy gate on the real template: clean as synthesized, and each broken requirement reported by id."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET

import pytest

from policies import gate
from tests.conftest import CDK_AND_CHECKOV, unmeasured
from tests.policy.mutations import MUTATIONS

pytestmark = [pytest.mark.synth, CDK_AND_CHECKOV]


@pytest.fixture(autouse=True)
def cfn_lint_unmeasured(monkeypatch):
    """cfn-lint's process runs none of our code, so it starts without coverage's subprocess hook (pyproject's
    `patch = subprocess`): traced, it took twice the CPU (4.8 s instead of 2.5 s on the real template). Every
    other process these tests start (the CDK CLI's `python -m cdk_app`) is measured as before."""
    run = subprocess.run

    def run_cfn_lint_unmeasured(args, *rest, **options):
        if list(args[1:3]) == ["-c", gate.CFN_LINT]:
            options["env"] = unmeasured(options.get("env") or os.environ)
        return run(args, *rest, **options)

    monkeypatch.setattr(subprocess, "run", run_cfn_lint_unmeasured)


@pytest.fixture(scope="module")
def gate_run(policy_scan):
    """Findings of the gate's template stage per mutated copy of the real template (and the original).

    The template engine sees every copy. Checkov, slow on whole templates, sees the original and the
    copies whose rule the template engine does not implement (in the session's one Checkov run): the gate
    reports the union of both.
    """
    return policy_scan.mutants


def test_the_synthesized_template_passes_the_template_stage(gate_run):
    assert gate_run["original"] == []


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_broken_requirement_is_reported_with_its_rule_id(gate_run, mutation):
    expected = MUTATIONS[mutation][1]
    reported = {f.catalog_id for f in gate_run[mutation]}
    assert expected in reported, f"{mutation}: expected {expected}, got {sorted(reported)}"


def test_full_gate_passes_on_the_stack_and_writes_reports(synth, tmp_path, capsys):
    """The gate command end to end: synth with every pack (the session's assembly, from the cache: its inputs
    are unchanged), Checkov, template engine, reports; the assembly is copied into --cdk-out."""
    code = gate.main(["--suffix", "test", "--cdk-out", str(tmp_path / "cdk.out"), "--reports", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == gate.EXIT_OK, out
    assert "policy gate: 0 unsuppressed finding(s)" in out and "cfn-lint: 0 error(s)" in out
    assert "0 non-compliant" in out and "0 failed over 1 template(s)" in out
    summary = json.loads((tmp_path / "r" / "gate.json").read_text())
    assert summary["findings"] == [] and summary["summary"]["nag_compliant"] > 100
    assert json.loads((tmp_path / "cdk.out" / "TapStacktest.template.json").read_text()) == synth.template
    sarif = json.loads((tmp_path / "r" / "gate.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []
    suite = ET.parse(tmp_path / "r" / "gate.junit.xml").getroot().find("testsuite")
    assert suite.get("failures") == "0" and int(suite.get("tests")) > 20


def test_gate_usage_and_tool_errors(tmp_path, capsys, monkeypatch):
    assert gate.main(["--suffix", "Bad Suffix"]) == gate.EXIT_USAGE
    assert "environmentSuffix 'Bad Suffix' is not allowed" in capsys.readouterr().err
    assert gate.main(["--suffix", "x", "--skip-synth", "--cdk-out", str(tmp_path)]) == gate.EXIT_USAGE
    assert "no *.template.json" in capsys.readouterr().err
    (tmp_path / "a.template.json").write_text("{}")
    monkeypatch.setenv("CHECKOV_PYTHON", str(tmp_path / "missing-python"))
    assert gate.main(["--suffix", "x", "--skip-synth", "--cdk-out", str(tmp_path),
                      "--reports", str(tmp_path / "r")]) == gate.EXIT_TOOL
    assert "Checkov was not found" in capsys.readouterr().err


def test_gate_reports_findings_with_exit_1(tmp_path, capsys):
    from tests.policy.fixtures import FIXTURES
    (tmp_path / "broken.template.json").write_text(json.dumps(FIXTURES["STK-REDIS-002"]["fail"], indent=1))
    code = gate.main(["--suffix", "fx", "--skip-synth", "--cdk-out", str(tmp_path), "--reports", str(tmp_path / "r")])
    captured = capsys.readouterr()
    assert code == gate.EXIT_FINDINGS
    # Issue 13: the catalog id first, the engine's own id after; findings on stdout with the summary
    line = next(l for l in captured.out.splitlines() if "STK-REDIS-002" in l)
    assert line.strip().startswith("FAIL STK-REDIS-002 [checkov") and "TransitEncryptionMode is 'preferred'" in line
    sarif = json.loads((tmp_path / "r" / "gate.sarif").read_text())
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= {"STK-REDIS-002"}
    from tests.opscli.test_reports import VALIDATOR
    assert not list(VALIDATOR.iter_errors(sarif))  # the OASIS schema, and a file and line for code scanning:
    for result in sarif["runs"][0]["results"]:
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"].endswith("broken.template.json")
        assert physical["region"]["startLine"] >= 1
    assert any(r["locations"][0]["physicalLocation"]["region"]["startLine"] > 1 for r in sarif["runs"][0]["results"])
    suite = ET.parse(tmp_path / "r" / "gate.junit.xml").getroot().find("testsuite")
    assert int(suite.get("failures")) >= 1


def test_synth_error_lines_become_findings():
    stderr = "\n".join([
        "error: /TapStackx/Logs/Resource: [STK-KMS-001] Data stores ... : KmsKeyId is not set (at TapStackx/Logs/Resource)",
        "error: /TapStackx/Role/Resource: AwsSolutions-IAM5[Resource::*]: The IAM entity contains wildcard permissions",
        "error: /TapStackx/Db/Resource: StreamTech-STK-RDS-001: The PostgreSQL instance is Multi-AZ",
        "noise that is not a finding",
    ])
    findings = gate.synth_findings(stderr)
    assert [(f.engine, f.rule_id, f.catalog_id) for f in findings] == [
        ("aspect", "STK-KMS-001", "STK-KMS-001"), ("nag", "AwsSolutions-IAM5", ""),
        ("nag", "StreamTech-STK-RDS-001", "STK-RDS-001")]


def test_gate_scans_only_the_stacks_of_the_current_assembly(tmp_path):
    """Templates of earlier synths (other suffixes) left in cdk.out are not judged against this suffix."""
    (tmp_path / "TapStackold.template.json").write_text("{}")
    (tmp_path / "TapStacknew.template.json").write_text("{}")
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {
        "TapStacknew": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "TapStacknew.template.json"}},
        "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}}}}))
    assert gate.assembly_templates(tmp_path) == [tmp_path / "TapStacknew.template.json"]
    (tmp_path / "manifest.json").unlink()
    assert len(gate.assembly_templates(tmp_path)) == 2


def test_a_failed_synthesis_becomes_findings_usage_or_tool_errors(tmp_path, monkeypatch, capsys):
    """What `cdk synth` says when it fails (through the assembly cache) decides the gate's answer."""
    from cdk_app import assembly_cache
    from cdk_app.assembly_cache import SynthesisFailed

    def failing(output):
        def synthesized(context):
            raise SynthesisFailed("cdk synth exited 1", exit_code=1, output=output)
        return synthesized

    finding = "error: /TapStackx/Logs/Resource: [STK-KMS-001] KmsKeyId is not set (at TapStackx/Logs/Resource)\n"
    monkeypatch.setattr(assembly_cache, "synthesized", failing(finding))
    result = gate.run("x", cdk_out=tmp_path / "out")
    assert [(f.engine, f.catalog_id) for f in result.findings] == [("aspect", "STK-KMS-001")]
    monkeypatch.setattr(assembly_cache, "synthesized",
                        failing("error: environmentSuffix 'x' is bad\nSubprocess exited with error 2\n"))
    assert gate.main(["--suffix", "x", "--cdk-out", str(tmp_path / "out")]) == gate.EXIT_USAGE
    assert "environmentSuffix 'x' is bad" in capsys.readouterr().err
    monkeypatch.setattr(assembly_cache, "synthesized", failing("node crashed\n"))
    assert gate.main(["--suffix", "x", "--cdk-out", str(tmp_path / "out")]) == gate.EXIT_TOOL
    assert "node crashed" in capsys.readouterr().err


def test_cfn_lint_fails_a_property_cloudformation_would_reject(tmp_path, capsys):
    """Issue 13: cfn-lint (CloudFormation's resource specification) runs over every template; an unknown
    property is a finding here, not a failed deployment."""
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": "queue-fx", "VisibilityTimeoutSeconds": 30}}}}
    (tmp_path / "bad.template.json").write_text(json.dumps(template))
    findings, counts = gate.cfnlint_scan([tmp_path / "bad.template.json"])
    assert counts["cfn_lint_errors"] >= 1
    [finding] = [f for f in findings if f.rule_id == "E3002"]
    assert finding.engine == "cfn-lint" and finding.resource == "Resources.Queue"
    assert "VisibilityTimeoutSeconds" in finding.message
    assert gate.finding_line(finding).startswith("FAIL (cfn-lint) [cfn-lint E3002] HIGH Resources.Queue: ")


def test_a_broken_cfn_lint_is_a_gate_that_could_not_run(tmp_path, monkeypatch):
    monkeypatch.setattr(gate.sys, "executable", str(tmp_path / "no-python"))
    with pytest.raises(gate.GateError, match="could not start|did not produce a report"):
        gate.cfnlint_scan([tmp_path / "a.template.json"])
