"""opscli.render's outputs fit their tools: SARIF that code scanning accepts (validated against the vendored OASIS
SARIF 2.1.0 schema, tests/schemas/), a finding's file:line in every view, and several report files from one run that
agree."""

from __future__ import annotations

import functools
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
    to_sarif,
)
from platform_spec import catalog
from platform_spec.result import Status
from platform_utils import source_map
from tests.conftest import ROOT
from tests.library_tracing import untraced
from tests.property.strategies import findings

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "schemas" / "sarif-schema-2.1.0.json").read_text())
VALIDATOR = jsonschema.Draft4Validator(SCHEMA)


@functools.cache
def tracked(path: str) -> bool:
    """Whether git tracks `path` (asked once per path: a run's reports name the same few files again and again)."""
    import subprocess

    return subprocess.run(["git", "ls-files", "--error-unmatch", path], cwd=ROOT, capture_output=True).returncode == 0


def _assert_code_scanning_accepts(document: dict, *, failing_only: bool = True) -> None:
    """The OASIS schema, plus what GitHub's code scanning documents for an upload: one location per result with
    a file the repository tracks (never an ignored one such as cdk.out/) and its start line where one is known
    (a result no line of ours is known for is about the app's cdk.json as a whole: no line is made up); a
    security-severity between 0.0 and 10.0 on every rule; partialFingerprints unique within the run;
    automationDetails.id as category/ (so audit, drift and rotate-check uploads do not replace each other); by
    default only failing results (code scanning shows every result, whatever its kind)."""
    errors = sorted(VALIDATOR.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    [run] = document["runs"]
    category = run["automationDetails"]["id"]
    assert category.endswith("/") and category.split("/")[0] in ("opscli", "policy-gate"), category
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    for rule in rules.values():
        assert 0.0 <= float(rule["properties"]["security-severity"]) <= 10.0, rule
        assert "security" in rule["properties"]["tags"]
        if rule["id"] in catalog.CATALOG:
            assert rule["help"]["markdown"].startswith(f"**{rule['id']}**")
    prints = [tuple(sorted(result["partialFingerprints"].items())) for result in run["results"]]
    assert len(prints) == len(set(prints)), "two results share a fingerprint"
    for result in run["results"]:
        assert result["ruleId"] in rules
        [location] = result["locations"]
        physical = location["physicalLocation"]
        assert physical["region"]["startLine"] >= 1 if "region" in physical else \
            physical["artifactLocation"]["uri"] == "cdk.json", physical
        assert tracked(physical["artifactLocation"]["uri"]), physical
        assert location["logicalLocations"][0]["fullyQualifiedName"]
        assert (result["level"] == "none") == (result["kind"] != "fail"), result  # SARIF 3.27.9
        if failing_only:
            assert result["kind"] == "fail", result


# The checks above are test and library code (jsonschema, git) that call none of ours: outside coverage's tracer
# (what coverage measures is the same; a report of an audit holds hundreds of results).
assert_code_scanning_accepts = untraced(_assert_code_scanning_accepts)


@settings(max_examples=40)
@given(st.lists(findings, max_size=10), st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,20}", fullmatch=True),
                                                   max_size=5))
def test_sarif_of_any_findings_is_schema_valid_with_physical_locations(items, logical_ids):
    template = {"Resources": {lid: {"Type": "AWS::SQS::Queue", "Properties": {}} for lid in logical_ids}}
    items = list({(f.rule_id, f.resource, f.check_id): f for f in items}.values())  # one result per (rule, check)
    report = Report(command="audit", target={"suffix": "x"}, findings=items, template=template)
    every = json.loads(to_sarif(report, include_pass=True))
    assert_code_scanning_accepts(every, failing_only=False)
    assert findings_from_sarif(to_sarif(report, include_pass=True)) == items
    failing = json.loads(to_sarif(report))
    assert_code_scanning_accepts(failing)
    assert [r["properties"]["check_id"] for r in failing["runs"][0]["results"]] == \
        [f.check_id for f in items if f.status in (Status.FAIL, Status.ACCEPTED)]


def test_a_finding_points_at_the_python_line_that_declares_its_resource(synth):
    """CDK records no Python lines, so synthesis records them (cdk_app/source_map.py): the location of a finding
    on the NLB's security group is the ec2.SecurityGroup( line of the API construct, in a tracked file; every
    view (the table's detail block, JSON, HTML, SARIF, ASFF, OCSF) gives that file:line."""
    sites = source_map.load(ROOT / source_map.COMMITTED_PATH)
    lid = next(lid for lid, r in synth.template["Resources"].items()
               if r["Properties"].get("GroupName") == "nlb-sg-test")
    failing = Finding("STK-NET-005", "STK-NET-005", Status.FAIL, f"AWS::EC2::SecurityGroup {lid} (sg-1)",
                      "sends all traffic to 0.0.0.0/0", severity="HIGH")
    report = Report(command="audit", target={"suffix": "test", "stack": "TapStacktest"}, template=synth.template,
                    findings=[failing])
    document = json.loads(to_sarif(report, sites=sites))
    assert_code_scanning_accepts(document)
    [result] = document["runs"][0]["results"]
    where = result["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"] == "cdk_app/constructs/api.py"
    assert "ec2.SecurityGroup(" in (ROOT / "cdk_app/constructs/api.py").read_text().splitlines()[
        where["region"]["startLine"] - 1]
    assert result["properties"]["explanation"]["remediation"]["now"].startswith("aws ec2 revoke-security-group-egress")
    assert "Fix now: aws ec2 revoke-security-group-egress" in result["message"]["text"]
    # the same finding on another deployment (another physical id) keeps its fingerprint
    moved = Finding("STK-NET-005", "STK-NET-005", Status.FAIL, f"AWS::EC2::SecurityGroup {lid} (sg-2)",
                    "sends all traffic to 0.0.0.0/0", severity="HIGH")
    again = json.loads(to_sarif(Report(command="audit", target=report.target, template=synth.template,
                                       findings=[moved]), sites=sites))
    assert again["runs"][0]["results"][0]["partialFingerprints"] == result["partialFingerprints"]
    site = source_map.Site(where["artifactLocation"]["uri"], where["region"]["startLine"])
    _assert_every_view_gives(report, failing, site, sites)
    # without a map (a CLI-only install) the result still lands in a tracked file, on no made-up line, and says why
    bare = json.loads(to_sarif(report))
    [run] = bare["runs"]
    assert run["results"][0]["locations"][0]["physicalLocation"] == {"artifactLocation": {
        "uri": "cdk.json", "uriBaseId": "%SRCROOT%"}}
    [note] = run["invocations"][0]["toolConfigurationNotifications"]
    assert note["level"] == "warning" and "no source map was given" in note["message"]["text"]
    assert_code_scanning_accepts(bare)


def _assert_every_view_gives(report: Report, failing: Finding, site: source_map.Site, sites: dict) -> None:
    import io

    from rich.console import Console

    from opscli import fleet
    from opscli.html import to_html
    from opscli.render import to_json
    from opscli.terminal import table

    report.source_map = source_map.SourceMap(sites, "cdk_app/source_map.json")
    document = json.loads(to_json(report, 1))
    assert document["findings"][0]["source"] == {"file": site.file, "line": site.line}
    assert document["source_map"] == {"file": "cdk_app/source_map.json", "warning": None}
    buffer = io.StringIO()
    table(report, Console(file=buffer, width=200, no_color=True), 1)
    assert any(line.split() == ["declared", str(site)] for line in buffer.getvalue().splitlines())
    assert f"declared at <code>{site}</code>" in to_html(report, 1)
    assert fleet.to_asff(report)[0]["ProductFields"]["opscli/Source"] == str(site)
    assert fleet.to_ocsf(report)[0]["unmapped"]["source"] == {"file": site.file, "line": site.line}
    report.source_map = None


def test_without_a_source_map_each_view_says_why_instead_of_a_made_up_line(tmp_path):
    """Run outside the checkout, a template without CDK's metadata, a resource the map does not know: no line
    is claimed, and one sentence says why (on stderr, in JSON's source_map.warning and in SARIF)."""
    from opscli.render import to_json

    template = {"Resources": {"Db": {"Type": "AWS::RDS::DBInstance",
                                     "Metadata": {"aws:cdk:path": "TapStackx/Database/Instance/Resource"}}}}
    failing = Finding("rds.multi_az", "STK-RDS-001", Status.FAIL, "AWS::RDS::DBInstance Db (rds-x)", "not Multi-AZ")
    secret = Finding("secret.rotation", "STK-SECRET-003", Status.FAIL, "arn:aws:secretsmanager:x", "off")
    report = Report(command="audit", target={"suffix": "x"}, findings=[failing, secret], template=template)
    outside = source_map.SourceMap.discover(tmp_path)
    assert outside.sites == {} and "is not in the CDK app's checkout" in outside.missing
    inside = source_map.SourceMap.discover(ROOT / "opscli" / "readers")  # from a folder of the checkout, upwards
    assert inside.origin == str(ROOT / source_map.COMMITTED_PATH) and inside.sites
    cases = {
        "no map": (outside, "no source map:"),
        "no metadata": (inside, "carries no aws:cdk:path metadata"),
        "not in the map": (source_map.SourceMap({"Cache": "cdk_app/constructs/cache.py:9"}, "old.json"),
                           "not in the source map old.json (Db)"),
    }
    for name, (shown, said) in cases.items():
        report.source_map = shown
        report.template = {"Resources": {"Db": {"Type": "AWS::RDS::DBInstance"}}} if name == "no metadata" \
            else template
        warning = report.source_warning()
        assert warning.startswith("no file:line for 1 finding(s) on 1 declared resource(s)") and said in warning, \
            (name, warning)
        document = json.loads(to_json(report, 1))
        assert [f["source"] for f in document["findings"]] == [None, None]
        assert document["source_map"]["warning"] == warning
        [db, _] = json.loads(to_sarif(report))["runs"][0]["results"]
        assert "region" not in db["locations"][0]["physicalLocation"], name
    report.source_map = inside  # the map applies: the declared resource has its line; the secret is not declared
    report.template = template
    assert report.source_warning() is None
    document = json.loads(to_json(report, 1))
    assert document["findings"][0]["source"]["file"] == "cdk_app/constructs/database.py"
    assert document["findings"][1]["source"] is None and document["source_map"]["warning"] is None


def test_errors_are_notifications_not_results_and_fail_the_run():
    items = [Finding("stack.x", "STK-STACK-001", Status.ERROR, "AWS::RDS::DBInstance Db (rds-1)",
                     "could not look: endpoint unreachable"),
             Finding("key.rotation", "STK-KMS-002", Status.PASS, "AWS::KMS::Key Key (k)", "on")]
    document = json.loads(to_sarif(Report(command="drift", target={"suffix": "x"}, findings=items)))
    [run] = document["runs"]
    assert run["results"] == [] and run["invocations"][0]["executionSuccessful"] is False
    assert "could not look: endpoint unreachable" in run["invocations"][0]["toolExecutionNotifications"][0][
        "message"]["text"]
    assert run["automationDetails"]["id"] == "opscli/drift/TapStackx/"


@pytest.mark.synth
def test_one_run_writes_every_report_and_they_agree(shared_read, tmp_path, capsys, monkeypatch):
    """Run from a folder of the checkout: the checkout's source map is found upwards, and every finding on a
    declared resource carries its file:line in JSON, SARIF, ASFF and OCSF."""
    out = tmp_path / "out"
    out.mkdir()  # a report goes only into a directory that exists
    monkeypatch.chdir(ROOT / "opscli")
    code = main(["audit", "--suffix", "test", "--report", f"json={out / 'audit.json'}",
                 "--report", f"sarif={out / 'audit.sarif'}", "--report", f"table={out / 'audit.txt'}",
                 "--report", f"asff={out / 'audit.asff'}", "--report", f"ocsf={out / 'audit.ocsf'}"])
    captured = capsys.readouterr()
    terminal = captured.out
    assert code == 0 and "nothing needs someone" in terminal and "warning" not in captured.err
    document = json.loads((out / "audit.json").read_text())
    failing = json.loads((out / "audit.sarif").read_text())
    assert_code_scanning_accepts(failing)
    assert failing["runs"][0]["results"] == [] and failing["runs"][0]["invocations"][0]["executionSuccessful"]
    assert main(["audit", "--suffix", "test", "-o", "sarif", "--sarif-include-pass",
                 "--report", f"sarif={out / 'every.sarif'}"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads((out / "every.sarif").read_text())
    every = json.loads((out / "every.sarif").read_text())
    assert_code_scanning_accepts(every, failing_only=False)
    assert findings_from_json((out / "audit.json").read_text()) == \
        findings_from_sarif((out / "every.sarif").read_text())
    assert len(document["findings"]) > 400 and document["summary"]["exit_code"] == 0
    assert "coverage:" in (out / "audit.txt").read_text() and not list(out.glob(".*.partial"))
    results = every["runs"][0]["results"]
    located = [r for r in results if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] != "cdk.json"]
    assert len(located) > 0.9 * len(results)  # findings on declared resources point at their Python lines
    assert all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("cdk_app/")
               for r in located)
    assert document["target"]["region"] == "ap-northeast-1" and document["target"]["account"]
    assert all(f["explanation"]["evidence"]["read_with"] for f in document["findings"])
    declared = [f for f in document["findings"] if f["resource"].startswith("AWS::")]
    assert declared and all(f["source"]["file"].startswith("cdk_app/") and f["source"]["line"] >= 1 for f in declared)
    assert document["source_map"] == {"file": str(ROOT / source_map.COMMITTED_PATH), "warning": None}
    for result in results:
        if result["properties"]["source"]:
            assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == \
                result["properties"]["source"]["line"]
    sources = {str(source_map.Site(**f["source"])) for f in declared}
    asff = json.loads((out / "audit.asff").read_text())
    judged = [f for f in declared if f["status"] != "NOT_APPLICABLE"]  # ASFF and OCSF leave those out
    assert {f["ProductFields"]["opscli/Source"] for f in asff if "opscli/Source" in f["ProductFields"]} <= sources
    assert sum("opscli/Source" in f["ProductFields"] for f in asff) == len(judged)
    ocsf = json.loads((out / "audit.ocsf").read_text())
    assert sum("source" in event["unmapped"] for event in ocsf) == len(judged)


@pytest.mark.parametrize("spec, said", [("pdf=x.pdf", "is not FORMAT=PATH"), ("json", "is not FORMAT=PATH"),
                                        ("json=", "is not FORMAT=PATH")])
def test_a_bad_report_spec_is_a_usage_error(spec, said, capsys):
    assert main(["audit", "--suffix", "test", "--report", spec]) == 2
    assert said in capsys.readouterr().err


@pytest.mark.synth
def test_audit_for_a_framework_keeps_only_its_rules_grouped_by_control(shared_read, capsys):
    from platform_spec import catalog

    assert main(["audit", "--suffix", "test", "-o", "json", "--compliance", "iso27001"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["compliance"]["framework"] == "iso27001"
    controls = document["compliance"]["controls"]
    assert {"8.24", "8.14", "5.9"} <= set(controls) and controls["8.24"]["FAIL"] == 0 and controls["8.24"]["PASS"] > 10
    assert all(catalog.get(f["rule_id"]).references.iso27001 for f in document["findings"])
    assert main(["audit", "--suffix", "test", "--compliance", "security-hub"]) == 0
    out = capsys.readouterr().out
    assert "by security-hub control" in out and "RDS.5" in out


@pytest.mark.synth
def test_drift_and_rotate_check_sarif_are_schema_valid_too(shared_read, tmp_path, capsys):
    for command in (["drift"], ["rotate-check", "secrets"], ["rotate-check", "keys"]):
        path = tmp_path / f"{'-'.join(command)}.sarif"
        assert main([*command, "--suffix", "test", "-o", "json", "--report", f"sarif={path}"]) == 0
        capsys.readouterr()
        sarif = json.loads(path.read_text())
        assert sarif["runs"][0]["results"] == []  # a clean run uploads no alert
        assert_code_scanning_accepts(sarif)
        assert main([*command, "--suffix", "test", "-o", "json", "--sarif-include-pass", "--report",
                     f"sarif={path}"]) == 0
        capsys.readouterr()
        sarif = json.loads(path.read_text())
        assert sarif["runs"][0]["results"]
        assert_code_scanning_accepts(sarif, failing_only=False)
        assert sarif["runs"][0]["automationDetails"]["id"] == f"opscli/{'-'.join(command)}/TapStacktest/"


def test_a_run_outside_the_checkout_warns_once_on_stderr(tmp_path, capsys, monkeypatch, moto_env):
    """The warning case end to end (a one-queue stack record, in-process moto): from outside the checkout the
    run says once on stderr that no file:line applies, and JSON carries it; given --source-map, the queue has its
    line and nothing is said."""
    import boto3

    from opscli.targets import REQUIRED_OUTPUTS

    url = boto3.client("sqs", region_name="ap-northeast-1").create_queue(QueueName="queue-x")["QueueUrl"]
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "queue-x"},
                                        "Metadata": {"aws:cdk:path": "TapStackx/Intake/Queue/Resource"}}},
                "Outputs": {key: {"Value": "v"} for key in REQUIRED_OUTPUTS}}
    record = tmp_path / "stack-resources.json"
    record.write_text(json.dumps({"StackName": "TapStackx", "TemplateBody": template, "StackResourceSummaries": [
        {"LogicalResourceId": "Queue", "ResourceType": "AWS::SQS::Queue", "PhysicalResourceId": url,
         "ResourceStatus": "CREATE_COMPLETE"}]}))
    monkeypatch.chdir(tmp_path)
    args = ["audit", "--suffix", "x", "--stack-record", str(record), "-o", "json", "--no-history"]
    main(args)
    captured = capsys.readouterr()
    [warning] = [line for line in captured.err.splitlines() if "warning" in line]
    assert warning.startswith("opscli: warning: no file:line for ") and "no source map:" in warning
    document = json.loads(captured.out)
    queue = [f for f in document["findings"] if f["resource"].startswith("AWS::SQS::Queue Queue")]
    assert queue and all(f["source"] is None for f in queue)
    assert document["source_map"]["file"] is None and document["source_map"]["warning"] in warning
    site = {"Intake/Queue": "cdk_app/constructs/intake.py:7"}
    (tmp_path / "map.json").write_text(json.dumps(source_map.document(site)))
    main([*args, "--source-map", str(tmp_path / "map.json")])
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    document = json.loads(captured.out)
    queue = [f["source"] for f in document["findings"] if f["resource"].startswith("AWS::SQS::Queue Queue")]
    assert {json.dumps(source) for source in queue} == {json.dumps({"file": "cdk_app/constructs/intake.py", "line": 7})}
