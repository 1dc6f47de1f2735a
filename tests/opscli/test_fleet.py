"""Outputs for the fleet: ASFF validated against Security Hub's own service model (BatchImportFindings' input
shape, as botocore ships it), OCSF Compliance Findings against the OCSF schema's files, stable ids so a re-import
updates, and `opscli export security-hub` importing through a client that can call nothing else."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from botocore.validate import ParamValidator

from opscli.cli import main
from opscli.fleet import asff_resource_type, securityhub_model, to_asff, to_ocsf
from opscli.model import Finding, Report
from platform_spec.result import Status
from tests.library_tracing import untraced
from tests.ocsf import validate as ocsf_validate

# The OCSF schema's checks and botocore's validator are test and library code that call none of ours: they run
# outside coverage's tracer (what coverage measures is the same; hundreds of findings are checked per run).
validate = untraced(ocsf_validate)

WHEN = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def report(*findings: Finding, physical: str = "sg-1") -> Report:
    items = list(findings) or [
        Finding("STK-NET-005", "STK-NET-005", Status.FAIL, f"AWS::EC2::SecurityGroup DbSg ({physical})",
                "sends tcp 443 to 0.0.0.0/0", severity="HIGH"),
        Finding("key.rotation", "STK-KMS-002", Status.PASS, "AWS::KMS::Key Key (1111-2222)", "on"),
        Finding("secret.rotation_enabled", "STK-SECRET-003", Status.ERROR,
                "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-credentials-prod-AbCdEf",
                "could not look: throttled"),
        Finding("STK-S3-001", "STK-S3-001", Status.ACCEPTED, "AWS::S3::Bucket Intake (intake-prod)", "accepted"),
        Finding("x", "STK-ECS-003", Status.NOT_APPLICABLE, "AWS::ECS::Cluster C (c)", "n/a"),
    ]
    return Report(command="audit", target={"suffix": "prod", "stack": "TapStackprod", "region": "ap-northeast-1",
                                           "account": "123456789012"}, findings=items, created=WHEN)


def asff_time(iso: str) -> str:
    return datetime.fromisoformat(iso).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def asff_errors(findings: list[dict]) -> str:
    shape = securityhub_model().operation_model("BatchImportFindings").input_shape
    return untraced(lambda: ParamValidator().validate({"Findings": findings}, shape).generate_report())()


def test_asff_is_what_batch_import_findings_accepts_with_stable_ids():
    findings = to_asff(report())
    assert asff_errors(findings) == ""
    assert len(findings) == 4  # NOT_APPLICABLE judged nothing
    failing = findings[0]
    assert failing["Id"] == "TapStackprod/STK-NET-005/DbSg/STK-NET-005"
    assert failing["Compliance"]["Status"] == "FAILED" and failing["Severity"]["Label"] == "HIGH"
    assert failing["Resources"][0] == {"Type": "AwsEc2SecurityGroup",
                                       "Id": "arn:aws:ec2:ap-northeast-1:123456789012:security-group/sg-1",
                                       "Partition": "aws",
                                       "Region": "ap-northeast-1", "Details": {"Other": {
                                           "LogicalId": "DbSg", "CloudFormationType": "AWS::EC2::SecurityGroup",
                                           "Stack": "TapStackprod"}}}
    assert failing["Remediation"]["Recommendation"]["Text"].startswith("Now: aws ec2 revoke-security-group-egress")
    assert "ISO/IEC 27001:2022 8.12" in failing["Compliance"]["RelatedRequirements"]
    statuses = [(f["Compliance"]["Status"], f["Workflow"]["Status"]) for f in findings]
    assert statuses == [("FAILED", "NEW"), ("PASSED", "RESOLVED"), ("NOT_AVAILABLE", "NEW"), ("FAILED", "SUPPRESSED")]
    assert [f["Id"] for f in to_asff(report(physical="sg-2"))] == [f["Id"] for f in findings]  # another deployment


def test_a_broken_asff_finding_is_refused_by_the_model():
    [finding] = to_asff(report(Finding("c", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key K (k)", "off")))
    del finding["AwsAccountId"]
    finding["Severity"]["Label"] = 7
    said = asff_errors([finding])
    assert "AwsAccountId" in said and "Severity.Label" in said


@pytest.mark.parametrize(("resource_type", "asff"), [
    ("AWS::RDS::DBInstance", "AwsRdsDbInstance"), ("AWS::EC2::SecurityGroup", "AwsEc2SecurityGroup"),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "AwsElbv2LoadBalancer"), ("AWS::WAFv2::WebACL", "AwsWafv2WebAcl"),
    ("AWS::Logs::LogGroup", "Other"), (None, "Other")])
def test_resource_types_are_security_hubs_own_names(resource_type, asff):
    assert asff_resource_type(resource_type) == asff


def test_ocsf_compliance_findings_validate_against_the_schema():
    events = to_ocsf(report())
    assert len(events) == 4
    for event in events:
        assert validate(event) == [], event
    failing = events[0]
    assert (failing["class_uid"], failing["type_uid"], failing["severity_id"]) == (2003, 200301, 4)
    assert failing["compliance"]["status_id"] == 3 and failing["compliance"]["control"] == "STK-NET-005"
    assert failing["resources"][0]["uid"] == "arn:aws:ec2:ap-northeast-1:123456789012:security-group/sg-1"
    assert failing["cloud"]["account"] == {"uid": "123456789012"}
    assert [e["compliance"]["status"] for e in events] == ["Fail", "Pass", "Warning", "Fail"]
    assert [e["finding_info"]["uid"] for e in to_ocsf(report(physical="sg-2"))] == \
        [e["finding_info"]["uid"] for e in events]


def test_the_validator_really_fails_a_broken_event():
    [event] = to_ocsf(report(Finding("c", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key K (k)", "off",
                                     severity="MEDIUM")))
    broken = json.loads(json.dumps(event))
    del broken["finding_info"]["uid"]
    broken["severity_id"] = 42
    broken["compliance"]["status_id"] = "3"
    broken["invented"] = 1
    broken["type_uid"] = 200399
    said = "\n".join(validate(broken))
    for expected in ("finding_info.uid: required", "severity_id: 42 is not one of", "compliance.status_id: '3' is "
                     "not integer_t", "invented: not an attribute", "type_uid 200399"):
        assert expected in said, said
    del broken["cloud"]
    assert "compliance_finding.cloud: required, missing" in validate(broken)  # the cloud profile requires it


def test_every_finding_names_its_resource_by_arn_or_says_what_it_is():
    from opscli.arns import Located
    from opscli.stackcheck import ACCOUNT_SUBJECT

    made = report(
        Finding("STK-NET-005", "STK-NET-005", Status.FAIL, "AWS::EC2::SecurityGroupIngress In (sgr-1)", "ssh"),
        Finding("c", "STK-PERIM-002", Status.ERROR, ACCOUNT_SUBJECT, "could not look: throttled"),
        Finding("stack.scope", "STK-STACK-001", Status.ERROR, "TapStackprod", "could not look: endpoint down"),
        Finding("c", "STK-PERIM-002", Status.FAIL, "arn:aws:iam::123456789012:role/outsider", "reaches in"),
        Finding("c", "STK-STACK-001", Status.FAIL, "AWS::KMS::Key Gone", "not deployed"),
        Finding("c", "STK-S3-001", Status.PASS, "AWS::S3::Bucket Intake (intake-prod)", "on"))
    made.arns = {"In": (Located("arn:aws:ec2:ap-northeast-1:123456789012:security-group/sg-1",
                                "AWS::EC2::SecurityGroup"),), "Intake": ()}
    findings = to_asff(made)
    assert asff_errors(findings) == ""
    named = {f["GeneratorId"] + " " + f["Resources"][0]["Type"]: f["Resources"][0]["Id"] for f in findings}
    assert named == {
        "STK-NET-005 AwsEc2SecurityGroup": "arn:aws:ec2:ap-northeast-1:123456789012:security-group/sg-1",
        "STK-PERIM-002 AwsAccount": "AWS::::Account:123456789012",  # as Security Hub names an account
        "STK-STACK-001 Other": "TapStackprod/Gone",  # not deployed: no ARN, a stable id
        "STK-PERIM-002 AwsIamRole": "arn:aws:iam::123456789012:role/outsider",
        "STK-S3-001 Other": "TapStackprod/Intake"}  # the live read found no ARN for it: not the physical id's
    scope = next(f for f in findings if f["Title"].startswith("STK-STACK-001") and "endpoint" in f["Description"])
    assert scope["Resources"][0] == {"Type": "Other", "Id": "TapStackprod", "Partition": "aws",
                                     "Region": "ap-northeast-1"}
    rule = next(f for f in findings if f["GeneratorId"] == "STK-NET-005")["Resources"][0]
    assert rule["Details"]["Other"]["CloudFormationType"] == "AWS::EC2::SecurityGroupIngress"  # what it is about


def test_without_a_history_every_time_is_this_runs():
    [finding] = to_asff(report(Finding("c", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key K (k)", "off")))
    times = {finding[name] for name in ("FirstObservedAt", "LastObservedAt", "CreatedAt", "UpdatedAt")}
    assert times == {"2026-12-04T12:00:00.000Z"}
    [event] = to_ocsf(report(Finding("c", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key K (k)", "off")))
    info = event["finding_info"]
    assert {info[name] for name in ("first_seen_time", "last_seen_time", "created_time", "modified_time")} == \
        {int(WHEN.timestamp() * 1000)}


def test_observed_and_created_times_come_from_the_history(tmp_path):
    from opscli import history

    path = tmp_path / "history.sqlite"
    failing = Finding("c", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key K (k)", "off")
    passing = Finding("c", "STK-KMS-002", Status.PASS, "AWS::KMS::Key K (k)", "on")
    for day, finding in enumerate([passing, failing, failing]):
        run = report(finding)
        run.created = WHEN + timedelta(days=day)
        history.record(path, run, 1)
    [finding] = to_asff(run, history.read(path, run))
    assert (finding["CreatedAt"], finding["FirstObservedAt"], finding["LastObservedAt"], finding["UpdatedAt"]) == \
        ("2026-12-04T12:00:00.000Z", "2026-12-05T12:00:00.000Z", "2026-12-06T12:00:00.000Z",
         "2026-12-06T12:00:00.000Z")
    assert asff_errors([finding]) == ""
    [event] = to_ocsf(run, history.read(path, run))
    assert event["finding_info"]["first_seen_time"] == int((WHEN + timedelta(days=1)).timestamp() * 1000)
    assert validate(event) == []


def test_a_time_the_history_holds_that_cannot_be_read_or_lies_ahead_is_this_runs():
    from opscli.history import Past

    key = "TapStackprod/STK-KMS-002/K/c"
    past = Past([], {}, streak_since={key: "not a time"}, first_seen={key: "2999-01-01T00:00:00+00:00"})
    [finding] = to_asff(report(Finding("c", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key K (k)", "off")), past)
    assert finding["FirstObservedAt"] == finding["CreatedAt"] == "2026-12-04T12:00:00.000Z"


def test_the_report_says_who_ran_it_on_what_in_asff_and_ocsf():
    from opscli.model import Provenance

    made = report(Finding("c", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key K (k)", "off"))
    made.provenance = Provenance(caller="arn:aws:sts::123456789012:assumed-role/auditor/s", template_sha256="ab" * 32,
                                 template_of="GetTemplate's TemplateBody", commit="c0" * 20)
    [finding] = to_asff(made)
    assert {k: v for k, v in finding["ProductFields"].items() if k in ("opscli/Caller", "opscli/TemplateSha256",
                                                                        "opscli/Commit")} == {
        "opscli/Caller": made.provenance.caller, "opscli/TemplateSha256": "ab" * 32, "opscli/Commit": "c0" * 20}
    [event] = to_ocsf(made)
    assert event["unmapped"]["provenance"] == {"caller": made.provenance.caller, "commit": "c0" * 20, "template": {
        "sha256": "ab" * 32, "of": "GetTemplate's TemplateBody"}} and validate(event) == []
    [bare] = to_asff(report(Finding("c", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key K (k)", "off")))
    assert not any(k in bare["ProductFields"] for k in ("opscli/Caller", "opscli/TemplateSha256", "opscli/Commit"))


@pytest.mark.synth
def test_the_audit_writes_asff_and_ocsf_that_validate_and_export_imports_them(shared_read, tmp_path, capsys):
    """Two audits of the local deployment with one history: every finding validates against Security Hub's model
    and names its resource by ARN; its first observation holds from the first run, its last is the second's."""
    history = tmp_path / "history.sqlite"
    runs = []
    for n in (1, 2):
        asff, ocsf = tmp_path / f"audit{n}.asff.json", tmp_path / f"audit{n}.ocsf.json"
        assert main(["audit", "--suffix", "test", "-o", "json", "--history", str(history), "--report",
                     f"asff={asff}", "--report", f"ocsf={ocsf}"]) == 0
        runs.append((json.loads(capsys.readouterr().out), json.loads(asff.read_text())))
    (first_json, first), (second_json, findings) = runs
    assert len(findings) > 400 and asff_errors(findings) == ""
    not_arns = sorted({r["Id"] for f in findings for r in f["Resources"] if not r["Id"].startswith("arn:")})
    assert not not_arns, not_arns
    assert all(r["Partition"] == "aws" and r["Id"].split(":")[1] == "aws" for f in findings for r in f["Resources"])
    assert {f["Id"]: f["FirstObservedAt"] for f in findings} == {f["Id"]: f["FirstObservedAt"] for f in first}
    assert {f["Id"]: f["CreatedAt"] for f in findings} == {f["Id"]: f["CreatedAt"] for f in first}
    assert {f["LastObservedAt"] for f in findings} == {f["UpdatedAt"] for f in findings} == \
        {asff_time(second_json["time"])}
    assert {f["FirstObservedAt"] for f in findings} == {asff_time(first_json["time"])}
    made = second_json["provenance"]
    assert made["caller"].startswith("arn:aws:") and ":123456789012:" in made["caller"]
    assert re.fullmatch(r"[0-9a-f]{64}", made["template"]["sha256"]) and made["template"]["of"] == \
        "GetTemplate's TemplateBody" and made == first_json["provenance"]
    assert findings[0]["ProductFields"]["opscli/Caller"] == made["caller"]
    events = json.loads((tmp_path / "audit2.ocsf.json").read_text())
    assert len(events) == len(findings) and all(validate(event) == [] for event in events)
    assert {e["resources"][0]["uid"] for e in events} <= {r["Id"] for f in findings for r in f["Resources"]}
    assert {e["finding_info"]["first_seen_time"] for e in events} == \
        {e["finding_info"]["first_seen_time"] for e in json.loads((tmp_path / "audit1.ocsf.json").read_text())}
    asff = tmp_path / "audit2.asff.json"
    # import twice: Security Hub keeps one finding per id (the second import updates)
    for _ in range(2):
        assert main(["export", "security-hub", "--report", f"asff={asff}"]) == 0
        said = capsys.readouterr().out
        assert f"imported {len(findings)} of {len(findings)} findings" in said
    import boto3

    hub = boto3.client("securityhub", region_name="ap-northeast-1")
    ids = [f["Id"] for page in hub.get_paginator("get_findings").paginate() for f in page["Findings"]]
    assert sorted(ids) == sorted(f["Id"] for f in findings)  # one each, after two imports


def test_the_export_client_can_send_nothing_but_batch_import_findings(aws_credentials):
    from opscli import export
    from opscli.errors import ReadOnlyViolation

    client = export.import_client(region="ap-northeast-1", profile=None, endpoint_url="http://127.0.0.1:9")
    with pytest.raises(ReadOnlyViolation, match="sends only securityhub:BatchImportFindings"):
        client.get_findings()
    with pytest.raises(ReadOnlyViolation):
        client.disable_security_hub()


@pytest.mark.parametrize(("content", "said"), [
    ("{}", "not a list of ASFF findings"), ("[1]", "not a list of ASFF findings"),
    ('[{"Id": "x"}]', "not what BatchImportFindings accepts"), ("not json", "is not JSON")])
def test_a_bad_asff_report_is_a_usage_error_before_anything_is_sent(tmp_path, capsys, content, said):
    path = tmp_path / "r.json"
    path.write_text(content)
    assert main(["export", "security-hub", "--report", f"asff={path}", "--endpoint-url", "http://127.0.0.1:9"]) == 2
    assert said in capsys.readouterr().err


def test_export_wants_an_asff_report_and_says_what_failed(tmp_path, capsys, monkeypatch, aws_credentials):
    from opscli import export

    monkeypatch.setattr(export, "ATTEMPTS", 1)  # one refused connection is enough to show it
    assert main(["export", "security-hub", "--report", f"sarif={tmp_path}/x"]) == 2
    assert "is not asff=PATH" in capsys.readouterr().err
    path = tmp_path / "r.json"
    path.write_text(json.dumps(to_asff(report())))
    # nothing listens on port 9: the import could not be sent, which is never a success
    assert main(["export", "security-hub", "--report", f"asff={path}", "--endpoint-url", "http://127.0.0.1:9"]) == 3
    assert "BatchImportFindings could not be sent" in capsys.readouterr().err


def test_a_long_fix_now_is_kept_whole_in_pieces_that_sort_in_order(monkeypatch):
    """ProductFields values hold 2,048 characters: a longer command (a policy document) is split into pieces
    named so that their names sort in their order (/02 … /11), and joined they are the command."""
    from opscli import fleet

    real = fleet.explanation
    command = "aws sqs set-queue-attributes --attributes " + "x" * (2_048 * 11)

    def long(f):
        e = real(f)
        return {**e, "remediation": {**e["remediation"], "now": command}}

    monkeypatch.setattr(fleet, "explanation", long)
    [finding] = to_asff(report(Finding("c", "STK-NET-002", Status.FAIL, "AWS::EC2::SecurityGroup Sg (sg-1)", "x")))
    names = [k for k in finding["ProductFields"] if k.startswith("opscli/FixNow")]
    assert len(names) == 12 and names[0] == "opscli/FixNow" and sorted(names[1:]) == names[1:]
    assert "".join(finding["ProductFields"][k] for k in sorted(names)) == command
