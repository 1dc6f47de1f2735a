"""opscli.monitor.publish: a run's findings as Security Hub's (a PASS archived, a retired check not available),
its report as JSON lines with their ids, and its metrics, which never say clean for a run that could not look."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from opscli.model import Finding, Report
from opscli.monitor import publish, run
from platform_spec import monitor
from platform_spec.result import Status
from tests.opscli.monitor.conftest import SUFFIX


def _report(*findings: Finding) -> Report:
    return Report(command="monitor", target={"suffix": SUFFIX, "stack": f"TapStack{SUFFIX}", "region":
                                             "ap-northeast-1", "account": "123456789012"},
                  findings=list(findings), created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))


def test_a_pass_is_archived_and_a_fail_active():
    label = "AWS::EC2::SecurityGroup Group (sg-0b2)"
    report = _report(Finding("STK-NET-002", "STK-NET-002", Status.PASS, label, "ok"),
                     Finding("drift", "STK-DRIFT-001", Status.FAIL, label, "changed"),
                     Finding("STK-TAG-001", "STK-TAG-001", Status.ERROR, label, "could not look"))
    by_status = {f["Compliance"]["Status"]: f["RecordState"] for f in publish.asff(report)}
    assert by_status == {"PASSED": "ARCHIVED", "FAILED": "ACTIVE", "NOT_AVAILABLE": "ACTIVE"}


def test_a_retired_check_is_not_available_and_archived_an_error_active():
    label = "AWS::EC2::SecurityGroup Group (sg-0b2)"
    report = _report(Finding("STK-NET-002", "STK-NET-002", Status.NOT_APPLICABLE, label, "gone"),
                     Finding("STK-TAG-001", "STK-TAG-001", Status.ERROR, label, "could not look"))
    retired, unknown = publish.asff(report)
    assert (retired["Compliance"]["Status"], retired["RecordState"], retired["Severity"]["Label"],
            retired["Workflow"]["Status"]) == ("NOT_AVAILABLE", "ARCHIVED", "INFORMATIONAL", "RESOLVED")
    assert (unknown["Compliance"]["Status"], unknown["RecordState"]) == ("NOT_AVAILABLE", "ACTIVE")


def test_a_partial_run_never_reports_a_severity_clean():
    label = "AWS::S3::Bucket Bucket (b)"
    report = _report(Finding("STK-S3-001", "STK-S3-001", Status.FAIL, label, "open"),
                     Finding("STK-TAG-001", "STK-TAG-001", Status.PASS, label, "tagged"))
    partial, whole = publish.failing(report, whole=False), publish.failing(report, whole=True)
    severity = report.findings[0].severity
    assert partial == {severity: 1}
    assert whole[severity] == 1 and set(whole) == {"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"} and \
        sum(whole.values()) == 1


def test_the_report_is_json_lines_with_the_security_hub_ids():
    outcome = run.Outcome(kind="change", messages=1, changes=1, named=["Group"], read=["Group"],
                          report=_report(Finding("STK-NET-002", "STK-NET-002", Status.FAIL,
                                                 "AWS::EC2::SecurityGroup Group (sg-0b2)", "open")))
    lines = [json.loads(line) for line in publish.report_lines(outcome).splitlines()]
    assert lines[0]["run"]["named"] == ["Group"] and lines[0]["run"]["stack"] == f"TapStack{SUFFIX}"
    assert lines[1]["id"] == f"TapStack{SUFFIX}/STK-NET-002/Group/STK-NET-002" and lines[1]["status"] == "FAIL"
    assert publish.report_key(outcome).startswith(f"TapStack{SUFFIX}/2026/01/02/030405000000-change-")


class _MetricsPut:
    def __init__(self) -> None:
        self.put: list[dict] = []

    def client(self, _service: str) -> object:
        return self

    def put_metric_data(self, **request: object) -> None:
        self.put.append(request)


@pytest.mark.parametrize("findings", [
    # the declaration could not be read (run._could_not_start): one ERROR for the stack
    [Finding("stack.scope", "STK-STACK-001", Status.ERROR, f"TapStack{SUFFIX}", "could not look: AccessDenied")],
    # the one resource that failed is unreadable this hour (throttled, or a policy denying the monitor's role)
    [Finding("STK-S3-001", "STK-S3-001", Status.ERROR, "AWS::S3::Bucket Bucket (b)", "AccessDenied"),
     Finding("STK-TAG-001", "STK-TAG-001", Status.PASS, "AWS::EC2::VPC Vpc (vpc-1)", "tagged")],
])
def test_a_whole_run_that_could_not_look_never_puts_a_zero(findings):
    """A whole run that could not read something is no evidence that nothing fails: it puts no 0 (neither on the
    alarm's metric, which would clear the alarm, nor on FailingFindings) (review34b B)."""
    metrics = _MetricsPut()
    put = publish.to_metrics(metrics, "ns", _report(*findings), whole=True)
    assert put == {} and metrics.put == []
    cut_short = _report(Finding("STK-S3-001", "STK-S3-001", Status.PASS, "AWS::S3::Bucket Bucket (b)", "ok"))
    cut_short.incomplete = "timeout"
    assert publish.to_metrics(metrics, "ns", cut_short, whole=True) == {}
    clean = publish.to_metrics(metrics, "ns", _report(Finding("STK-S3-001", "STK-S3-001", Status.PASS,
                                                              "AWS::S3::Bucket Bucket (b)", "ok")), whole=True)
    assert clean[monitor.ALARM_METRIC_NAME] == 0 and set(clean) > {monitor.ALARM_METRIC_NAME}
