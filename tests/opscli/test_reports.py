"""Outputs that fit their tools: SARIF that code scanning accepts (validated against the vendored OASIS SARIF
2.1.0 schema, tests/schemas/), a table that fits the terminal, and several report files from one run."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opscli.cli import main
from opscli.model import Finding, Report
from opscli.render import (
    findings_from_json,
    findings_from_sarif,
    resource_lines,
    to_sarif,
)
from tests.property.test_opscli_properties import findings

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "schemas" / "sarif-schema-2.1.0.json").read_text())
VALIDATOR = jsonschema.Draft4Validator(SCHEMA)


def assert_code_scanning_accepts(document: dict) -> None:
    """The schema, plus what GitHub's upload and the spec's prose require beyond it."""
    errors = sorted(VALIDATOR.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    for result in document["runs"][0]["results"]:
        [location] = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] and physical["region"]["startLine"] >= 1
        assert location["logicalLocations"][0]["fullyQualifiedName"]
        assert (result["level"] == "none") == (result["kind"] != "fail"), result  # SARIF 3.27.9


@settings(max_examples=40)
@given(st.lists(findings, max_size=10), st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,20}", fullmatch=True),
                                                   max_size=5))
def test_sarif_of_any_findings_is_schema_valid_with_physical_locations(items, logical_ids):
    template = {"Resources": {lid: {"Type": "AWS::SQS::Queue", "Properties": {}} for lid in logical_ids}}
    report = Report(command="audit", target={"suffix": "x"}, findings=items, template=template)
    document = json.loads(to_sarif(report))
    assert_code_scanning_accepts(document)
    assert findings_from_sarif(to_sarif(report)) == items


def test_a_finding_on_a_declared_resource_points_at_its_line_in_the_synthesized_template(synth):
    """CDK records no Python source lines (its creation stacks hold jsii frames only), so the location is the
    template `cdk synth` wrote, at the resource's own line: checked against the file itself."""
    lines = resource_lines(synth.template)
    text = synth.template_path.read_text().splitlines()
    assert set(lines) == set(synth.template["Resources"])
    for lid, number in lines.items():
        assert text[number - 1] == f'  "{lid}": {{', (lid, number, text[number - 1])
    lid = next(iter(lines))
    report = Report(command="audit", target={"suffix": "test"}, template=synth.template, findings=[Finding("c.x", "STK-KMS-002", __import__(
                        "platform_spec.result", fromlist=["Status"]).Status.FAIL, f"AWS::KMS::Key {lid} (k)", "off")])
    [result] = json.loads(to_sarif(report))["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == lines[lid]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "cdk.out/TapStacktest.template.json"


@pytest.mark.synth
def test_one_run_writes_every_report_and_they_agree(deployed, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["audit", "--suffix", "test", "--only-failed", "--report", f"json={out / 'audit.json'}",
                 "--report", f"sarif={out / 'audit.sarif'}", "--report", f"table={out / 'audit.txt'}"])
    terminal = capsys.readouterr().out
    assert code == 0 and "no FAIL or ERROR" in terminal
    document = json.loads((out / "audit.json").read_text())
    sarif = json.loads((out / "audit.sarif").read_text())
    assert_code_scanning_accepts(sarif)
    assert findings_from_json((out / "audit.json").read_text()) == \
        findings_from_sarif((out / "audit.sarif").read_text())
    assert len(document["findings"]) > 400 and document["summary"]["exit_code"] == 0
    assert "coverage:" in (out / "audit.txt").read_text() and not list(out.glob(".*.partial"))
    results = sarif["runs"][0]["results"]
    located = [r for r in results if r["locations"][0]["physicalLocation"]["region"]["startLine"] > 1]
    assert len(located) > 0.9 * len(results)  # findings on declared resources point at their own lines


@pytest.mark.parametrize("spec, said", [("pdf=x.pdf", "is not FORMAT=PATH"), ("json", "is not FORMAT=PATH"),
                                        ("json=", "is not FORMAT=PATH")])
def test_a_bad_report_spec_is_a_usage_error(spec, said, capsys):
    assert main(["audit", "--suffix", "test", "--report", spec]) == 2
    assert said in capsys.readouterr().err


@pytest.mark.synth
def test_a_report_that_cannot_be_written_is_a_usage_error(deployed, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["audit", "--suffix", "test", "-o", "json", "--report", f"sarif={blocker / 'x.sarif'}"]) == 2
    err = capsys.readouterr().err
    assert f"--report sarif {blocker / 'x.sarif'} cannot be written" in err and not list(tmp_path.glob(".*partial"))


def test_the_table_fits_80_columns_collapses_identical_errors_and_sums_up_by_service():
    """Issue 13: piped, the table was 200 wide, ARNs wrapped every 11 characters, and an unreachable endpoint
    gave 52 identical ERROR rows."""
    import io

    from rich.console import Console

    from opscli.render import table
    from platform_spec.result import Status

    items = [Finding("key.rotation", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key EncryptionKey3A692D6E (1111-2222)",
                     "EnableKeyRotation is not true", severity="MEDIUM")]
    items += [Finding("stack.x", "STK-STACK-001", Status.ERROR, f"AWS::RDS::DBInstance Db{n} (rds-{n})",
                      "could not look: endpoint unreachable") for n in range(52)]
    items += [Finding("secret.pending", "STK-SECRET-005", Status.PASS,
                      "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-credentials-prod-AbCdEf", "none")]
    report = Report(command="audit", target={"suffix": "prod"}, findings=items, api_calls=3, seconds=1.0)
    for only_failed in (False, True):
        buffer = io.StringIO()
        table(report, Console(file=buffer, width=80, no_color=True), 3, only_failed=only_failed)
        lines = buffer.getvalue().splitlines()
        assert max(len(line) for line in lines) <= 80
        rows = [line for line in lines if line.startswith("│") and not line.startswith("│  ")]
        statuses = [row.split("│")[1].strip() for row in rows]
        assert statuses == (["FAIL", "ERROR ×52"] + ([] if only_failed else ["PASS"]))
        assert "EncryptionKey3A692D6E".startswith(rows[0].split("│")[4].strip())  # the short name, not the type
        assert lines[-2] == "not passing, by service: KMS 1 MEDIUM; RDS 52 ERROR"
        assert lines[-1].startswith("54 checks: 1 PASS, 1 FAIL, 52 ERROR")


def test_findings_are_grouped_by_the_controls_their_rules_map_to():
    from opscli.render import compliance_view
    from platform_spec.result import Status

    items = [Finding("a", "STK-KMS-002", Status.FAIL, "k", "off"), Finding("b", "STK-RDS-003", Status.PASS, "d", "on"),
             Finding("c", "STK-RDS-001", Status.ERROR, "d", "?")]
    view = compliance_view(items, "iso27001")
    assert list(view) == ["8.14", "8.20", "8.24"]  # numeric order
    assert view["8.24"]["rules"] == ["STK-KMS-002", "STK-RDS-003"]
    assert (view["8.24"]["FAIL"], view["8.24"]["PASS"]) == (1, 1)
    assert view["8.14"]["ERROR"] == 1 and view["8.20"] == {**view["8.20"], "rules": ["STK-RDS-003"], "PASS": 1}


@pytest.mark.synth
def test_audit_for_a_framework_keeps_only_its_rules_grouped_by_control(deployed, capsys):
    from platform_spec import catalog

    assert main(["audit", "--suffix", "test", "-o", "json", "--compliance", "iso27001"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["compliance"]["framework"] == "iso27001"
    controls = document["compliance"]["controls"]
    assert {"8.24", "8.14", "5.9"} <= set(controls) and controls["8.24"]["FAIL"] == 0 and controls["8.24"]["PASS"] > 10
    assert all(catalog.get(f["rule_id"]).references.iso27001 for f in document["findings"])
    assert main(["audit", "--suffix", "test", "--compliance", "security-hub", "--only-failed"]) == 0
    out = capsys.readouterr().out
    assert "by security-hub control" in out and "RDS.5" in out


@pytest.mark.synth
def test_drift_and_rotate_check_sarif_are_schema_valid_too(deployed, tmp_path, capsys):
    for command in (["drift"], ["rotate-check", "secrets"], ["rotate-check", "keys"]):
        path = tmp_path / f"{'-'.join(command)}.sarif"
        assert main([*command, "--suffix", "test", "-o", "json", "--report", f"sarif={path}"]) == 0
        capsys.readouterr()
        sarif = json.loads(path.read_text())
        assert sarif["runs"][0]["results"]
        assert_code_scanning_accepts(sarif)
