"""Outputs for the fleet: ASFF validated against Security Hub's own service model (BatchImportFindings' input
shape, as botocore ships it), OCSF Compliance Findings against the OCSF schema's files, stable ids so a re-import
updates, and `opscli export security-hub` importing through a client that can call nothing else."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from botocore.validate import ParamValidator

from opscli.cli import main
from opscli.fleet import asff_resource_type, securityhub_model, to_asff, to_ocsf
from opscli.model import Finding, Report
from platform_spec.result import Status
from tests.ocsf import validate

WHEN = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


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


def asff_errors(findings: list[dict]) -> str:
    shape = securityhub_model().operation_model("BatchImportFindings").input_shape
    return ParamValidator().validate({"Findings": findings}, shape).generate_report()


def test_asff_is_what_batch_import_findings_accepts_with_stable_ids():
    findings = to_asff(report())
    assert asff_errors(findings) == ""
    assert len(findings) == 4  # NOT_APPLICABLE judged nothing
    failing = findings[0]
    assert failing["Id"] == "TapStackprod/STK-NET-005/DbSg/STK-NET-005"
    assert failing["Compliance"]["Status"] == "FAILED" and failing["Severity"]["Label"] == "HIGH"
    assert failing["Resources"][0] == {"Type": "AwsEc2SecurityGroup", "Id": "sg-1", "Partition": "aws",
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
    assert failing["resources"][0]["uid"] == "sg-1" and failing["cloud"]["account"] == {"uid": "123456789012"}
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


@pytest.mark.synth
def test_the_audit_writes_asff_and_ocsf_that_validate_and_export_imports_them(deployed, tmp_path, capsys):
    asff, ocsf = tmp_path / "audit.asff.json", tmp_path / "audit.ocsf.json"
    assert main(["audit", "--suffix", "test", "-o", "json", "--report", f"asff={asff}",
                 "--report", f"ocsf={ocsf}"]) == 0
    capsys.readouterr()
    findings = json.loads(asff.read_text())
    assert len(findings) > 400 and asff_errors(findings) == ""
    events = json.loads(ocsf.read_text())
    assert len(events) == len(findings) and all(validate(event) == [] for event in events)
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


def test_the_export_client_may_reach_only_its_endpoint_host_not_even_a_subdomain():
    from types import SimpleNamespace

    from opscli.aws import EndpointViolation, endpoint_pin

    strict, s3_style = endpoint_pin("http://127.0.0.1:9", subdomains=False), endpoint_pin("http://localhost:9")
    strict(SimpleNamespace(url="http://127.0.0.1:9/"))  # its own endpoint: let through
    for url in ("http://evil.127.0.0.1:9/", "https://127.0.0.1:9/", "http://127.0.0.1:10/",
                "https://securityhub.ap-northeast-1.amazonaws.com/"):
        with pytest.raises(EndpointViolation):
            strict(SimpleNamespace(url=url))
    s3_style(SimpleNamespace(url="http://bucket.localhost:9/"))  # the read-only clients' S3 virtual hosting
