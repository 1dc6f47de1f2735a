"""policies/gate/cli.py: the gate command end to end, its exit codes, stdout and stderr."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE
from policies.gate import ROOT, cli
from tests.conftest import CDK_AND_CHECKOV

pytestmark = [pytest.mark.synth, CDK_AND_CHECKOV]


def test_full_gate_passes_on_the_stack_and_writes_reports(synth, tmp_path, capsys, replayed_tools):
    """The gate command end to end: synth with every pack (the session's assembly, from the cache: its inputs
    are unchanged), Checkov, cfn-lint, template engine, reports; the assembly is copied into --cdk-out. Checkov
    and cfn-lint answer for the copied templates what the session's one process of each answered for the same
    bytes (tests/policy/conftest.py replayed_tools)."""
    (tmp_path / "r").mkdir()
    code = cli.main(["--suffix", "test", "--cdk-out", str(tmp_path / "cdk.out"), "--reports", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "policy gate: 0 unsuppressed finding(s)" in out and "cfn-lint: 0 error(s)" in out
    assert "0 non-compliant" in out and "0 failed over 2 template(s)" in out  # TapStack and TapMonitor
    summary = json.loads((tmp_path / "r" / "gate.json").read_text())
    assert summary["findings"] == [] and summary["summary"]["nag_compliant"] > 100
    assert json.loads((tmp_path / "cdk.out" / "TapStacktest.template.json").read_text()) == synth.template
    sarif = json.loads((tmp_path / "r" / "gate.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []
    suite = ET.parse(tmp_path / "r" / "gate.junit.xml").getroot().find("testsuite")
    assert suite.get("failures") == "0" and int(suite.get("tests")) > 20


def test_gate_usage_and_tool_errors(tmp_path, capsys, monkeypatch, replayed_tools):
    assert cli.main(["--suffix", "Bad Suffix"]) == EXIT_USAGE
    assert "environmentSuffix 'Bad Suffix' is not allowed" in capsys.readouterr().err
    assert cli.main(["--suffix", "x", "--skip-synth", "--cdk-out", str(tmp_path)]) == EXIT_USAGE
    assert "no *.template.json" in capsys.readouterr().err
    (tmp_path / "a.template.json").write_text("{}")
    monkeypatch.setenv("CHECKOV_PYTHON", str(tmp_path / "missing-python"))
    (tmp_path / "r").mkdir()
    assert cli.main(["--suffix", "x", "--skip-synth", "--cdk-out", str(tmp_path),
                     "--reports", str(tmp_path / "r")]) == EXIT_INCOMPLETE
    assert "Checkov was not found" in capsys.readouterr().err


def test_gate_reports_findings_with_exit_1(tmp_path, capsys, replayed_tools):
    from tests.policy.fixtures import FIXTURES
    (tmp_path / "broken.template.json").write_text(json.dumps(FIXTURES["STK-REDIS-002"]["fail"], indent=1))
    (tmp_path / "r").mkdir()
    code = cli.main(["--suffix", "fx", "--skip-synth", "--cdk-out", str(tmp_path), "--reports", str(tmp_path / "r")])
    captured = capsys.readouterr()
    assert code == EXIT_FINDINGS
    # Issue 13: the catalog id first, the engine's own id after; findings on stdout with the summary
    line = next(text for text in captured.out.splitlines() if "STK-REDIS-002" in text)
    assert line.strip().startswith("FAIL STK-REDIS-002 HIGH ") and "TransitEncryptionMode is 'preferred'" in line
    assert line.strip().endswith("]") and "checkov STK-REDIS-002" in line.rsplit("[", 1)[1]
    sarif = json.loads((tmp_path / "r" / "gate.sarif").read_text())
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= {"STK-REDIS-002"}
    from tests.opscli.test_render import VALIDATOR
    assert not list(VALIDATOR.iter_errors(sarif))  # the OASIS schema, and a file and line for code scanning:
    for result in sarif["runs"][0]["results"]:
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"].endswith("broken.template.json")
        assert physical["region"]["startLine"] >= 1
    assert any(r["locations"][0]["physicalLocation"]["region"]["startLine"] > 1 for r in sarif["runs"][0]["results"])
    suite = ET.parse(tmp_path / "r" / "gate.junit.xml").getroot().find("testsuite")
    assert int(suite.get("failures")) >= 1


def test_the_gate_with_multi_az_off_prints_one_line_with_the_python_line_the_rule_and_the_fix(
        synth, tmp_path, monkeypatch, capsys):
    """The issue's check: with multi_az=False synthesis fails in four packs; `cdk synth` prints each finding as
    the entry point writes it (cdk-nag ends its messages with a line feed, so an older entry point put the
    '(declared at …)' on a line of its own, and the gate lost it). The gate prints one line with the Python line
    of the session's source map, the rule and the fix; gate.json and gate.sarif carry the same file and line."""
    from cdk_app import assembly_cache
    from cdk_app.assembly_cache import SynthesisFailed
    from platform_utils import source_map

    site = source_map.site_of("TapStackx/Database/Instance/Resource",
                              source_map.load(synth.outdir / source_map.FILE_NAME))
    assert "rds.DatabaseInstance(" in (ROOT / site.file).read_text().splitlines()[site.line - 1]
    output = "".join(f"error: /TapStackx/Database/Instance/Resource: {rule}: The RDS DB instance is not multi-AZ.\n"
                     f" (declared at {site})\n" for rule in ("AwsSolutions-RDS3", "HIPAA.Security-RDSMultiAZSupport",
                                                             "StreamTech-STK-RDS-001"))
    output += "error: synthesis found 3 guardrail violation(s); nothing is deployable\n" \
              "python3 -m cdk_app: Subprocess exited with error 1\n"

    def failing(context):
        raise SynthesisFailed("cdk synth exited 1", exit_code=1, output=output)

    monkeypatch.setattr(assembly_cache, "synthesized", failing)
    (tmp_path / "r").mkdir()
    assert cli.main(["--suffix", "x", "--cdk-out", str(tmp_path / "out"), "--reports", str(tmp_path / "r")]) == \
        EXIT_FINDINGS
    captured = capsys.readouterr()
    [line] = [line for line in captured.out.splitlines() if line.strip().startswith("FAIL")]
    assert f"STK-RDS-001 HIGH /TapStackx/Database/Instance/Resource ({site.file}:{site.line}): " in line
    assert "Fix: Set multi_az=True on the DatabaseInstance." in line and "warning" not in captured.err
    [finding] = json.loads((tmp_path / "r" / "gate.json").read_text())["findings"]
    assert finding["source"] == {"file": site.file, "line": site.line}
    [result] = json.loads((tmp_path / "r" / "gate.sarif").read_text())["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == site.file
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": site.line}
