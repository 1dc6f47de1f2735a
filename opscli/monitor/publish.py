"""Where a monitor run's results go: Security Hub (ASFF, stable ids; a PASS archived as Security Hub's own controls
archive a resolved finding), the stack's report bucket (the run as JSON Lines) and CloudWatch (FailingFindings by
Severity, and the alarm's FailingHighOrCriticalFindings). Each is one write the monitor's role is allowed, sent
through the same guarded session as its reads; WRITES also names the monitor's one other write, a message it
dead-letters itself (opscli.monitor.handler)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

from opscli import fleet
from opscli.aws import Aws
from opscli.export import Imported, import_findings
from opscli.model import SEVERITIES, Report, resource_parts
from opscli.monitor.run import Outcome
from platform_spec import monitor
from platform_spec.result import Status

WRITES = frozenset({"securityhub:BatchImportFindings", "s3:PutObject", "cloudwatch:PutMetricData",
                    "sqs:SendMessage"})  # the last: to its own dead-letter queue only (opscli.monitor.handler)


def asff(report: Report) -> list[dict[str, Any]]:
    """The report's findings as BatchImportFindings takes them: a PASSED one with RecordState ARCHIVED, and a
    NOT_APPLICABLE one (a check with nothing to judge now: its resource is gone, or the rule no longer applies)
    NOT_AVAILABLE and ARCHIVED, so that no verdict of an earlier run stands. An ERROR stays ACTIVE."""
    findings = fleet.to_asff(report, retire=True)
    for finding, f in zip(findings, report.findings, strict=True):
        if f.status in (Status.PASS, Status.NOT_APPLICABLE):
            finding["RecordState"] = "ARCHIVED"
    return findings


def to_security_hub(aws: Aws, report: Report) -> Imported:
    """Every finding of the report imported (OpsError, exit 3, when Security Hub's answer says otherwise)."""
    return import_findings(aws.client("securityhub"), asff(report))


def report_lines(outcome: Outcome) -> str:
    """The run as JSON Lines: one line for the run, then one per finding (with its Security Hub id)."""
    report = outcome.report
    assert report is not None
    head = {"run": {**outcome.summary(), "stack": report.stack, "created": report.created.isoformat(),
                    "target": report.target, "incomplete": report.incomplete,
                    "poison": [{"messageId": p.record.message_id, "reason": p.reason} for p in outcome.poison]}}
    lines = [json.dumps(head, sort_keys=True, ensure_ascii=False)]
    for f in report.findings:
        lines.append(json.dumps({**f.to_dict(), "id": fleet.finding_id(report, f)}, sort_keys=True,
                                ensure_ascii=False))
    return "\n".join(lines) + "\n"


def report_key(outcome: Outcome) -> str:
    report = outcome.report
    assert report is not None
    when = report.created
    return f"{report.stack}/{when:%Y/%m/%d}/{when:%H%M%S%f}-{outcome.kind}-{uuid.uuid4().hex[:8]}.jsonl"


def to_bucket(aws: Aws, bucket: str, outcome: Outcome) -> str:
    """The run's JSON Lines report put in the bucket; returns its key."""
    key = report_key(outcome)
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=report_lines(outcome).encode("utf-8"),
                                ContentType="application/x-ndjson")
    return key


def failing(report: Report, *, whole: bool) -> dict[str, int]:
    """FAILED findings by severity. A whole-stack run counts every severity (zeros too: the stack's count); a run
    on some resources only the severities it found failing, so that it never reports the stack clean."""
    counted = Counter(f.severity or "HIGH" for f in report.findings if f.status is Status.FAIL)
    return {severity: counted.get(severity, 0) for severity in SEVERITIES if whole or counted.get(severity)}


def alarming(counts: dict[str, int], *, whole: bool) -> int | None:
    """What the alarm's metric says for a run with these `failing` counts: its failing HIGH and CRITICAL findings.
    A whole-stack run always says (0 too: it judged everything, so 0 is evidence the alarm may clear); a run on
    some resources only when it found some (it cannot vouch for the rest): None, nothing is put. So the alarm,
    which keeps its state while no data comes (TreatMissingData ignore), goes to ALARM on the first run that finds
    one, stays there while runs keep finding them, and returns to OK only on a whole-stack run that finds none."""
    total = sum(counts.get(severity, 0) for severity in monitor.ALARM_SEVERITIES)
    return total if whole or total else None


def judged_everything(report: Report, *, whole: bool) -> bool:
    """Whether a run's counts are evidence about the whole stack: a whole-stack run that could look at every check
    (no ERROR, not cut short). A whole run that could not read something says only what it saw failing, never 0:
    what it could not read may be what fails."""
    return whole and not report.incomplete and not any(f.status is Status.ERROR for f in report.findings) and \
        any(resource_parts(f.resource) for f in report.findings)  # it judged something the stack declares


def to_metrics(aws: Aws, namespace: str, report: Report, *, whole: bool) -> dict[str, int]:
    """FailingFindings by Severity (`failing`) and the alarm's metric (`alarming`), put as one request; what was
    put, by severity and under the alarm metric's name. Zeros only from a run that judged everything."""
    whole = judged_everything(report, whole=whole)
    counts = failing(report, whole=whole)
    data = [{"MetricName": monitor.METRIC_NAME, "Dimensions": [{"Name": monitor.METRIC_DIMENSION, "Value": severity}],
             "Value": float(count), "Unit": "Count", "Timestamp": report.created}
            for severity, count in counts.items()]
    alarm = alarming(counts, whole=whole)
    if alarm is not None:
        data.append({"MetricName": monitor.ALARM_METRIC_NAME, "Value": float(alarm), "Unit": "Count",
                     "Timestamp": report.created})
    if data:
        aws.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=data)
    return {**counts, **({monitor.ALARM_METRIC_NAME: alarm} if alarm is not None else {})}
