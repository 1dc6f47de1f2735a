"""Findings for the fleet: AWS Security Hub's format (ASFF, schema 2018-10-08) and OCSF Compliance Findings
(class 2003), so that an organisation that outgrows one operator can aggregate them (Prowler writes both).

One finding per rule × resource × check, with an id that stays the same from run to run and deployment to
deployment (stack, rule, logical id, check), so that a re-import updates the finding instead of adding one:
a PASS closes in Security Hub what an earlier FAIL opened. NOT_APPLICABLE is left out (nothing was judged);
ERROR is Compliance NOT_AVAILABLE / OCSF compliance status Warning ("did not yield a result")."""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import datetime
from typing import Any

from opscli import __version__
from opscli.explain import explanation
from opscli.model import Finding, Report, cut, resource_parts, short_name
from opscli.sanitize import visible_json
from platform_spec import catalog
from platform_spec.result import Status

ASFF_SCHEMA = "2018-10-08"
OCSF_VERSION = "1.8.0"
PRODUCT = "opscli"
VENDOR = "StreamTech platform team"
# ASFF allows at most 32 related requirements and these lengths (BatchImportFindings' model).
ASFF_TITLE, ASFF_DESCRIPTION, ASFF_TEXT = 256, 1024, 512
_ASFF_STATUS = {Status.PASS: "PASSED", Status.FAIL: "FAILED", Status.ACCEPTED: "FAILED",
                Status.ERROR: "NOT_AVAILABLE"}
_OCSF_SEVERITY = {"INFO": 1, "LOW": 2, "MEDIUM": 3, "HIGH": 4, "CRITICAL": 5}
_OCSF_COMPLIANCE = {Status.PASS: (1, "Pass"), Status.FAIL: (3, "Fail"), Status.ACCEPTED: (3, "Fail"),
                    Status.ERROR: (2, "Warning")}



def finding_id(report: Report, f: Finding) -> str:
    """Stable across runs and deployments: stack, rule, logical id (never a physical id) and check."""
    return f"{report.stack}/{f.rule_id or 'none'}/{short_name(f.resource)}/{f.check_id}"


@functools.cache
def securityhub_model() -> Any:
    """Security Hub's service model as botocore ships it: what ASFF is checked against."""
    import botocore.session

    return botocore.session.get_session().get_service_model("securityhub")


@functools.cache
def _asff_types() -> dict[str, str]:
    """Security Hub's resource type names (ResourceDetails' members in its service model), by lower-case name."""
    return {name.lower(): name for name in securityhub_model().shape_for("ResourceDetails").members}


def asff_resource_type(resource_type: str | None) -> str:
    """'AWS::RDS::DBInstance' -> 'AwsRdsDbInstance' where Security Hub names the type; 'Other' otherwise."""
    if not resource_type or not resource_type.startswith("AWS::"):
        return "Other"
    name = "aws" + "".join(resource_type.split("::")[1:]).replace("ElasticLoadBalancingV2", "Elbv2")
    return _asff_types().get(name.lower(), "Other")


def _judged(report: Report) -> list[Finding]:
    return [f for f in report.findings if f.status is not Status.NOT_APPLICABLE]


def to_asff(report: Report) -> list[dict[str, Any]]:
    """The report as BatchImportFindings' Findings (a list; import with `opscli export security-hub`)."""
    account = report.target.get("account") or "000000000000"
    region = report.target.get("region") or "ap-northeast-1"
    when = report.created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    out = []
    for f in _judged(report):
        e = explanation(f)
        rule = catalog.CATALOG.get(f.rule_id)
        parts = resource_parts(f.resource)
        physical = (parts[2] if parts is not None else None) or f.resource
        requirements = [f"{name} {control}" for name, ids in e["controls"].items() for control in ids][:32]
        finding: dict[str, Any] = {
            "SchemaVersion": ASFF_SCHEMA,
            "Id": cut(finding_id(report, f), 512),
            "ProductArn": f"arn:aws:securityhub:{region}:{account}:product/{account}/default",
            "GeneratorId": f.rule_id or f.check_id,
            "AwsAccountId": account,
            "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
            "CreatedAt": when, "UpdatedAt": when,
            "Severity": {"Label": f.severity if f.status is not Status.PASS else "INFORMATIONAL",
                         "Original": f.severity},
            "Title": cut(f"{f.rule_id} {e['title']}", ASFF_TITLE),
            "Description": cut(f"{f.reason} — {e['rationale']}".strip(" —"), ASFF_DESCRIPTION),
            "Resources": [{"Type": asff_resource_type(parts[0] if parts else None), "Id": cut(physical, 512),
                           "Partition": "aws", "Region": region,
                           "Details": {"Other": {"LogicalId": parts[1] or "", "CloudFormationType": parts[0],
                                                 "Stack": report.stack}} if parts else {}}],
            "Compliance": {"Status": _ASFF_STATUS[f.status], **({"RelatedRequirements": requirements}
                                                                 if requirements else {})},
            "ProductFields": {"opscli/Command": report.command, "opscli/CheckId": f.check_id,
                              "opscli/Version": __version__, "opscli/ReadWith": ", ".join(
                                  e["evidence"]["read_with"])[:1024]},
            "RecordState": "ACTIVE",
            "Workflow": {"Status": "SUPPRESSED" if f.status is Status.ACCEPTED else
                         "RESOLVED" if f.status is Status.PASS else "NEW"},
        }
        if rule is not None and (rule.now or rule.in_code):
            finding["Remediation"] = {"Recommendation": {"Text": cut(
                f"Now: {rule.now} In code: {rule.in_code}" if rule.now else rule.in_code, ASFF_TEXT)}}
        if not finding["Resources"][0]["Details"]:
            del finding["Resources"][0]["Details"]
        out.append(finding)
    return out


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def to_ocsf(report: Report) -> list[dict[str, Any]]:
    """The report as OCSF Compliance Finding events (class 2003, category 2 Findings), one per finding."""
    account = report.target.get("account")
    region = report.target.get("region") or "ap-northeast-1"
    when = _epoch_ms(report.created)
    out = []
    for f in _judged(report):
        e = explanation(f)
        parts = resource_parts(f.resource)
        status_id, status = _OCSF_COMPLIANCE[f.status]
        severity_id = _OCSF_SEVERITY.get(f.severity, 0)
        uid = hashlib.sha256(finding_id(report, f).encode()).hexdigest()
        resource: dict[str, Any] = {"uid": (parts[2] if parts is not None else None) or f.resource,
                                    "name": short_name(f.resource),
                                    "type": parts[0] if parts is not None else "secret", "region": region,
                                    "cloud_partition": "aws"}
        event: dict[str, Any] = {
            "class_uid": 2003, "class_name": "Compliance Finding", "category_uid": 2, "category_name": "Findings",
            "activity_id": 1, "activity_name": "Create", "type_uid": 200301,
            "type_name": "Compliance Finding: Create", "time": when,
            "severity_id": severity_id, "severity": f.severity.capitalize() if severity_id else "Unknown",
            "status_id": 1, "status": "New", "message": f.reason,
            "metadata": {"version": OCSF_VERSION, "profiles": ["cloud"], "uid": uid,
                         "product": {"name": PRODUCT, "vendor_name": VENDOR, "version": __version__},
                         "log_name": report.command},
            "cloud": {"provider": "AWS", "region": region, **({"account": {"uid": account}} if account else {})},
            "finding_info": {"uid": uid, "title": e["title"], "desc": e["rationale"] or e["title"],
                             "types": ["Software and Configuration Checks"], "created_time": when,
                             "product_uid": PRODUCT},
            "compliance": {"control": f.rule_id, "status_id": status_id, "status": status,
                           "standards": sorted(e["controls"]) or ["StreamTech platform catalog"],
                           "requirements": [f"{name} {c}" for name, ids in e["controls"].items() for c in ids]},
            "resources": [resource],
            "unmapped": {"check_id": f.check_id, "read_with": e["evidence"]["read_with"],
                         "stack": report.stack},
        }
        if e["remediation"]["now"] or e["remediation"]["in_code"]:
            event["remediation"] = {"desc": " ".join(part for part in (
                f"Now: {e['remediation']['now']}" if e["remediation"]["now"] else "",
                f"In code: {e['remediation']['in_code']}" if e["remediation"]["in_code"] else "") if part)}
        out.append(event)
    return out


def asff_text(report: Report) -> str:
    return visible_json(json.dumps(to_asff(report), indent=2, sort_keys=True, ensure_ascii=False)) + "\n"


def ocsf_text(report: Report) -> str:
    return visible_json(json.dumps(to_ocsf(report), indent=2, sort_keys=True, ensure_ascii=False)) + "\n"
