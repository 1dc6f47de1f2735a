"""The policy gate on the real template: clean as synthesized, and each broken requirement reported by id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE
from policies.gate import ROOT, cli, core, locate, merge, synthesis, table
from policies.gate.result import GateError, GateResult
from policies.gate.scanners import cfnlint, nag
from policies.gate.scanners.template import template_scan
from tests.conftest import CDK_AND_CHECKOV, unmeasured
from tests.policy.conftest import misspelt_queue_property
from tests.policy.fixtures import MUTATIONS

pytestmark = [pytest.mark.synth, CDK_AND_CHECKOV]


@pytest.fixture(autouse=True)
def cfn_lint_unmeasured(monkeypatch):
    """cfn-lint's process runs none of our code, so it starts without coverage's subprocess hook (pyproject's
    `patch = subprocess`): traced, it took twice the CPU (4.8 s instead of 2.5 s on the real template). Every
    other process these tests start (the CDK CLI's `python -m cdk_app`) is measured as before."""
    run = subprocess.run

    def run_cfn_lint_unmeasured(args, *rest, **options):
        if list(args[1:3]) == ["-c", cfnlint.CFN_LINT]:
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
        "error: /TapStackx/Logs/Resource: [STK-KMS-001] Data stores ... : KmsKeyId is not set (at "
        "TapStackx/Logs/Resource)",
        "error: /TapStackx/Role/Resource: AwsSolutions-IAM5[Resource::*]: The IAM entity contains wildcard permissions",
        "error: /TapStackx/Db/Resource: StreamTech-STK-RDS-001: The PostgreSQL instance is Multi-AZ",
        "noise that is not a finding",
    ])
    findings = synthesis.synth_findings(stderr)
    assert [(f.engine, f.rule_id, f.catalog_id) for f in findings] == [
        ("aspect", "STK-KMS-001", "STK-KMS-001"), ("nag", "AwsSolutions-IAM5", "STK-IAM-001"),
        ("nag", "StreamTech-STK-RDS-001", "STK-RDS-001")]


def test_one_broken_setting_is_one_finding_with_every_engine_and_its_python_line():
    """Issue 26: multi_az=False printed four FAIL lines, one per pack, and no file or line."""
    at = " (declared at cdk_app/constructs/database.py:40)"
    stderr = "\n".join(f"error: /TapStackx/Database/Instance/Resource: {rule}: The RDS instance is not Multi-AZ{at}"
                       for rule in ("StreamTech-STK-RDS-001", "AwsSolutions-RDS3", "HIPAA.Security-RDSMultiAZSupport",
                                    "NIST.800.53.R5-RDSMultiAZSupport"))
    [finding] = merge.merge(synthesis.synth_findings(stderr))
    assert finding.catalog_id == "STK-RDS-001" and finding.source == ("cdk_app/constructs/database.py", 40)
    assert finding.seen_by == ("nag StreamTech-STK-RDS-001", "nag AwsSolutions-RDS3",
                               "nag HIPAA.Security-RDSMultiAZSupport", "nag NIST.800.53.R5-RDSMultiAZSupport")
    line = table.finding_line(finding)
    assert line.startswith("FAIL STK-RDS-001 HIGH /TapStackx/Database/Instance/Resource "
                           "(cdk_app/constructs/database.py:40): StreamTech-STK-RDS-001: The RDS instance")
    assert "(declared at" not in line and ". Fix: Set multi_az=True on the DatabaseInstance. [nag" in line
    result = GateResult(findings=[finding], not_run=dict.fromkeys(core.TEMPLATE_STAGE, "synthesis failed"))
    lines = table.summary_lines(result)
    assert "  checkov: NOT RUN (synthesis failed)" in lines and "  template engine: NOT RUN (synthesis failed)" in lines
    assert not any("0 passed" in line for line in lines)


# cdk-nag rules our packs evaluate on the stack that no catalog rule maps, each with why: a finding of any
# other unmapped rule fails the test below (a cdk-nag upgrade that adds a rule must be mapped or listed here).
UNMAPPED_NAG = {
    "AEC5": "Redis on a non-default port: the cache listens on 6380 (TLS), nothing to enforce beyond it",
    "APIG2": "request validation is the metadata API's own (it answers 400 itself)",
    "EC27": "security group descriptions: cosmetic, CDK writes one for every group",
    "ECS7": "container logging: every container logs through awslogs to an encrypted group (STK-KMS-001, LOG-001)",
    "RDS11": "a non-default database port: PostgreSQL listens on 5433 already",
    "S5": "CloudFront origin access identity: the stack has no CloudFront",
    "SNS3": "topic SSL-only policy: the alarm topic has no publisher outside AWS services",
    "ALBHttpDropInvalidHeaderEnabled": "the stack has no Application Load Balancer (an internal NLB)",
    "ALBHttpToHttpsRedirection": "the stack has no Application Load Balancer (an internal NLB)",
    "ALBWAFEnabled": "the stack has no Application Load Balancer; the web ACL is on the API stage (STK-API-005)",
    "ElastiCacheRedisClusterAutomaticBackup": "the cache holds derived data only, rebuilt from PostgreSQL",
    "IAMUserNoPolicies": "the stack declares no IAM users",
    "L1": "the posture monitor's function runs the newest Python runtime (posture_monitor.RUNTIME); no catalog rule "
          "of its own yet",
    "LambdaConcurrency": "the posture monitor's function reserves its concurrency "
                         "(posture_monitor.RESERVED_CONCURRENCY);"
                         " no catalog rule of its own yet",
    "RDSAutomaticMinorVersionUpgradeEnabled": "the engine version is pinned and upgraded through the stack",
    "RDSEnhancedMonitoringEnabled": "enhanced monitoring is on; no catalog rule of its own yet",
    "RDSLoggingEnabled": "PostgreSQL logs are exported; no catalog rule of its own yet",
    "S3BucketVersioningEnabled": "versioning is on; no catalog rule of its own yet",
    "VPCDefaultSecurityGroupClosed": "CDK's restrict_default_security_group closes it at deployment",
    "WAFv2LoggingEnabled": "WAF logging is on; no catalog rule of its own yet",
}


def test_every_cdk_nag_rule_our_packs_evaluate_maps_to_a_catalog_rule_or_is_listed(synth):
    import csv

    evaluated = {row["Rule ID"] for report in synth.outdir.glob("*-NagReport.csv")
                 for row in csv.DictReader(report.open(newline=""))}
    mapping = nag.nag_to_catalog()
    unmapped = {rule for rule in evaluated if not rule.startswith("StreamTech-") and rule not in mapping}
    concept = {rule: rule.split("-", 1)[1] for rule in unmapped}
    assert {rule for rule, name in concept.items() if name not in UNMAPPED_NAG} == set(), \
        "map these cdk-nag rules in the catalog references or list them with a reason"
    assert len(evaluated) > 150 and len(unmapped) < len(evaluated) / 3


def test_gate_scans_only_the_stacks_of_the_current_assembly(tmp_path):
    """Templates of earlier synths (other suffixes) left in cdk.out are not judged against this suffix."""
    (tmp_path / "TapStackold.template.json").write_text("{}")
    (tmp_path / "TapStacknew.template.json").write_text("{}")
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {
        "TapStacknew": {"type": "aws:cloudformation:stack",
                        "properties": {"templateFile": "TapStacknew.template.json"}},
        "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}}}}))
    assert core.assembly_templates(tmp_path) == [tmp_path / "TapStacknew.template.json"]
    (tmp_path / "manifest.json").unlink()
    assert len(core.assembly_templates(tmp_path)) == 2


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
    result = core.run("x", cdk_out=tmp_path / "out")
    assert [(f.engine, f.catalog_id) for f in result.findings] == [("aspect", "STK-KMS-001")]
    monkeypatch.setattr(assembly_cache, "synthesized",
                        failing("error: environmentSuffix 'x' is bad\nSubprocess exited with error 2\n"))
    assert cli.main(["--suffix", "x", "--cdk-out", str(tmp_path / "out")]) == EXIT_USAGE
    assert "environmentSuffix 'x' is bad" in capsys.readouterr().err
    monkeypatch.setattr(assembly_cache, "synthesized", failing("node crashed\n"))
    assert cli.main(["--suffix", "x", "--cdk-out", str(tmp_path / "out")]) == EXIT_INCOMPLETE
    assert "node crashed" in capsys.readouterr().err
    crash = ("Traceback (most recent call last):\n  ...\nValueError: bad\nerror: synthesis failed at "
             "cdk_app/constructs/database.py:58: ValueError: bad\npython3 -m cdk_app: Subprocess exited with error 3\n")
    monkeypatch.setattr(assembly_cache, "synthesized", failing(crash))
    assert cli.main(["--suffix", "x", "--cdk-out", str(tmp_path / "out")]) == EXIT_INCOMPLETE
    assert "\nerror: synthesis failed at cdk_app/constructs/database.py:58: ValueError: bad\nTraceback" in \
        capsys.readouterr().err  # the app's code broke: where first, the traceback after


def test_a_schema_error_fails_the_gate_once_from_cfn_lint(synth, tmp_path, monkeypatch, capsys, replayed_tools):
    """cfn-lint's rules run once. The synthesis the gate reuses ran without CDK's built-in copy of them (its
    CloudFormation Validate plugin left no report in the assembly); a property CloudFormation would reject, put
    into the real template, fails the gate with one finding: cfn-lint's, on the resource, with the Python line
    that declares it. (Checkov left out: it judges no schema, and its run over the real template is the mutation
    tests'.)"""
    import shutil
    from collections import Counter

    from cdk_app import assembly_cache

    report = synth.outdir / "validation-report.json"
    plugins = [r["pluginName"] for r in json.loads(report.read_text())["pluginReports"]] if report.exists() else []
    assert "CloudFormation Validate" not in plugins
    template = json.loads(synth.template_path.read_text())
    queue = misspelt_queue_property(template)
    assembly = tmp_path / "assembly"
    assembly.mkdir()
    (assembly / synth.template_path.name).write_text(json.dumps(template, indent=1))
    shutil.copy(synth.outdir / "source-map.json", assembly)
    (assembly / "manifest.json").write_text(json.dumps({"artifacts": {"TapStacktest": {
        "type": "aws:cloudformation:stack", "properties": {"templateFile": synth.template_path.name}}}}))
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


def test_every_checkov_finding_of_the_mutations_maps_to_a_catalog_rule(gate_run):
    unmapped = {(name, f.rule_id) for name, found in gate_run.items() for f in found
                if f.engine == "checkov" and not f.catalog_id}
    assert unmapped == set(), "map these Checkov checks in the catalog references"


def test_a_template_stage_finding_names_the_python_line_that_declares_the_resource(synth, tmp_path):
    """Over an assembly with the source-map.json synthesis wrote beside its templates, a template-stage finding
    (here the data store group's egress opened to the internet) names cdk_app's line, once, with its engine; the
    SARIF result sits at that line, with the rule's security-severity. (The template engine alone: the gate's
    Checkov run over the same mutation is the mutation test's.)"""
    import shutil

    from policies.reports import to_sarif
    from tests.opscli.test_reports import assert_code_scanning_accepts
    from tests.policy.fixtures import MUTATIONS

    out = tmp_path / "cdk.out"
    shutil.copytree(synth.outdir, out)
    template = json.loads(synth.template_path.read_text())
    MUTATIONS["db-egress-to-the-world"][0](template)
    mutated = out / synth.template_path.name
    mutated.write_text(json.dumps(template, indent=1))
    sources = locate.template_sources(out, [mutated])
    assert len(sources) == len(template["Resources"])
    found, _ = template_scan([mutated])
    located, map_file, warning = locate.locate(found, out, [mutated])
    assert map_file and map_file.endswith("source-map.json") and warning == ""
    located = merge.merge(located)
    [finding] = [f for f in located if f.catalog_id == "STK-NET-005"]
    line = table.finding_line(finding)
    assert "(cdk_app/constructs/database.py:" in line and line.endswith("[template STK-NET-005]")
    file, number = finding.source
    assert "ec2.SecurityGroup(" in (ROOT / file).read_text().splitlines()[number - 1]
    sarif = json.loads(to_sarif(located, tool="streamtech-policy-gate"))
    [result] = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "STK-NET-005"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "cdk_app/constructs/database.py"
    rule = next(r for r in sarif["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "STK-NET-005")
    assert rule["properties"]["security-severity"] == "8.0"
    assert_code_scanning_accepts(sarif)
    assert locate.template_sources(tmp_path, [mutated]) == {}  # no source map: no line claimed, and said so
    unplaced, map_file, warning = locate.locate(found, tmp_path, [mutated])
    assert map_file is None and "source-map.json is missing or unreadable" in warning
    bare = json.loads(to_sarif(merge.merge(unplaced), tool="streamtech-policy-gate"))
    [result] = [r for r in bare["runs"][0]["results"] if r["ruleId"] == "STK-NET-005"]
    assert result["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "cdk.json",
                                                                               "uriBaseId": "%SRCROOT%"}}


def test_the_gate_with_multi_az_off_prints_one_line_with_the_python_line_the_rule_and_the_fix(
        synth, tmp_path, monkeypatch, capsys):
    """The issue's check: with multi_az=False synthesis fails in four packs; `cdk synth` prints each finding as
    the entry point writes it (cdk-nag ends its messages with a line feed, so an older entry point put the
    '(declared at …)' on a line of its own, and the gate lost it). The gate prints one line with the Python line
    of the session's source map, the rule and the fix; gate.json and gate.sarif carry the same file and line."""
    from cdk_app import assembly_cache
    from cdk_app.assembly_cache import SynthesisFailed
    from platform_spec import source_map

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


def test_skip_synth_says_the_nag_packs_did_not_run():
    result = GateResult(not_run={"cdk-nag packs": "--skip-synth: only the template stage ran"})
    assert "  cdk-nag packs: NOT RUN (--skip-synth: only the template stage ran)" in table.summary_lines(result)
