"""Findings for the fleet: AWS Security Hub's format (ASFF, schema 2018-10-08) and OCSF Compliance Findings
(class 2003), so that an organisation that outgrows one operator can aggregate them (Prowler writes both).

One finding per rule × resource × check, with an id that stays the same from run to run and deployment to
deployment (stack, rule, logical id, check), so that a re-import updates the finding instead of adding one:
a PASS closes in Security Hub what an earlier FAIL opened. NOT_APPLICABLE is left out (nothing was judged);
ERROR is Compliance NOT_AVAILABLE / OCSF compliance status Warning ("did not yield a result").

A finding names its resource by ARN (`Resources[].Id`, OCSF `resources[].uid`), as Security Hub's own controls
and AWS Config do, so that they join: the ARN opscli.arns makes for each declared resource, its parent's for a
type without one (a security group's rule names the group). What has no ARN is `Other` with a stable id: a
declared resource whose ARN cannot be made (not deployed) STACK/LOGICAL-ID, the stack itself or an accepted-
findings entry as the finding names it; the account's IAM is `AwsAccount` `AWS::::Account:ID`, as Security Hub
names an account.

Times come from the local history (opscli.history): FirstObservedAt (OCSF first_seen_time) is the first run of
the finding's current status streak, CreatedAt (created_time) the first run that judged it at all, LastObservedAt
and UpdatedAt (last_seen_time, modified_time) this run. Without a history (--no-history, or a history that could
not be used) all four are this run's time."""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from opscli import __version__, arns
from opscli.explain import explanation
from opscli.model import Finding, Report, cut, resource_parts, short_name, source_of
from opscli.sanitize import visible_json
from opscli.stackcheck import ACCOUNT_SUBJECT
from platform_spec.result import Status

ASFF_SCHEMA = "2018-10-08"
OCSF_VERSION = "1.8.0"
PRODUCT = "opscli"
VENDOR = "StreamTech platform team"
# ASFF allows at most 32 related requirements and these lengths (BatchImportFindings' model).
ASFF_TITLE, ASFF_DESCRIPTION, ASFF_TEXT, ASFF_FIELD = 256, 1024, 512, 2048
_ASFF_STATUS = {Status.PASS: "PASSED", Status.FAIL: "FAILED", Status.ACCEPTED: "FAILED",
                Status.ERROR: "NOT_AVAILABLE", Status.NOT_APPLICABLE: "NOT_AVAILABLE"}
_OCSF_SEVERITY = {"INFO": 1, "LOW": 2, "MEDIUM": 3, "HIGH": 4, "CRITICAL": 5}
_OCSF_COMPLIANCE = {Status.PASS: (1, "Pass"), Status.FAIL: (3, "Fail"), Status.ACCEPTED: (3, "Fail"),
                    Status.ERROR: (2, "Warning")}



def finding_id(report: Report, f: Finding) -> str:
    """Stable across runs and deployments: stack, rule, logical id (never a physical id) and check."""
    return f"{report.stack}/{f.rule_id or 'none'}/{short_name(f.resource)}/{f.check_id}"


@functools.cache
def securityhub_model() -> Any:
    """Security Hub's service model as botocore ships it: what ASFF is checked against."""
    from opscli.aws import models

    return models().get_service_model("securityhub")


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


_ARN_TYPES = {("secretsmanager", "secret"): "AwsSecretsManagerSecret", ("iam", "role"): "AwsIamRole",
              ("iam", "user"): "AwsIamUser", ("iam", "group"): "AwsIamGroup", ("iam", "policy"): "AwsIamPolicy"}


def _arn_type(arn: str) -> str:
    """Security Hub's type of an ARN a finding names directly (a secret, an identity), or Other."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "Other"
    resource = parts[5].split("/", 1)[0].split(":", 1)[0]
    return _ARN_TYPES.get((parts[2], resource), "Other")


def named_resources(report: Report, f: Finding) -> list[tuple[str, str]]:
    """(Security Hub type, id) of what a finding is about: the resource's ARN (or its parents'), else a stable id
    (see the module's docstring)."""
    account = report.target.get("account")
    parts = resource_parts(f.resource)
    if parts is not None:
        rtype, logical, physical = parts
        located = report.arns.get(logical or "")
        if located is None:  # a report not made from a live read: what the physical id alone gives
            arn = arns.from_physical(rtype, physical, region=report.region, account=account)
            located = (arns.Located(arn, rtype),) if arn else ()
        if located:
            return [(asff_resource_type(item.type), item.arn) for item in located]
        return [("Other", f"{report.stack}/{logical}")]
    if f.resource.startswith("arn:"):
        return [(_arn_type(f.resource), f.resource)]
    if f.resource == ACCOUNT_SUBJECT and account:
        return [("AwsAccount", f"AWS::::Account:{account}")]
    return [("Other", f.resource)]


def _moment(iso: str | None, now: datetime) -> datetime:
    """A time the history holds, never after `now`; `now` where there is none or it cannot be read."""
    try:
        moment = datetime.fromisoformat(iso) if isinstance(iso, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        return now
    return min(moment, now)


def observed(report: Report, f: Finding, past: Any = None) -> dict[str, datetime]:
    """first (of the current status streak), last (this run), created (first judged at all), updated (this
    run), from the history `past` (opscli.history.Past) where given."""
    now = report.created
    key = finding_id(report, f)
    first = _moment(getattr(past, "streak_since", {}).get(key), now)
    created = min(_moment(getattr(past, "first_seen", {}).get(key), now), first)
    return {"first": first, "last": now, "created": created, "updated": now}


def _asff_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def provenance_fields(report: Report) -> dict[str, str]:
    """Who ran the report and on what (caller, template hash, commit), as ASFF ProductFields."""
    p = report.provenance
    values = {"opscli/Caller": p.caller, "opscli/TemplateSha256": p.template_sha256, "opscli/Commit": p.commit}
    return {key: cut(value, 2048) for key, value in values.items() if value}


def to_asff(report: Report, past: Any = None, *, retire: bool = False) -> list[dict[str, Any]]:
    """The report as BatchImportFindings' Findings (a list; import with `opscli export security-hub`); `past`:
    what the local history says (opscli.history.Past), for the observed and created times. `retire` (the
    posture monitor): a NOT_APPLICABLE finding is kept, as Compliance NOT_AVAILABLE, so that it retires what an
    earlier run sent for that check (as Security Hub archives a deleted resource's findings)."""
    account = report.target.get("account") or "000000000000"
    region = report.region
    located = report.located()
    out = []
    for f in report.findings if retire else _judged(report):
        e = explanation(f)
        site = source_of(located, f)
        parts = resource_parts(f.resource)
        times = {name: _asff_time(moment) for name, moment in observed(report, f, past).items()}
        requirements = [f"{name} {control}" for name, ids in e["controls"].items() for control in ids][:32]
        finding: dict[str, Any] = {
            "SchemaVersion": ASFF_SCHEMA,
            "Id": cut(finding_id(report, f), 512),
            "ProductArn": f"arn:aws:securityhub:{region}:{account}:product/{account}/default",
            "GeneratorId": f.rule_id or f.check_id,
            "AwsAccountId": account,
            "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
            "FirstObservedAt": times["first"], "LastObservedAt": times["last"],
            "CreatedAt": times["created"], "UpdatedAt": times["updated"],
            "Severity": {"Label": f.severity if f.status not in (Status.PASS, Status.NOT_APPLICABLE) else
                         "INFORMATIONAL",
                         "Original": f.severity},
            "Title": cut(f"{f.rule_id} {e['title']}", ASFF_TITLE),
            "Description": cut(f"{f.reason} — {e['rationale']}".strip(" —"), ASFF_DESCRIPTION),
            "Resources": [{"Type": kind, "Id": cut(name, 512),
                           "Partition": name.split(":")[1] if name.startswith("arn:") else arns.PARTITION,
                           "Region": region,
                           "Details": {"Other": {"LogicalId": parts[1] or "", "CloudFormationType": parts[0],
                                                 "Stack": report.stack}} if parts else {}}
                          for kind, name in named_resources(report, f)[:32]],
            "Compliance": {"Status": _ASFF_STATUS[f.status], **({"RelatedRequirements": requirements}
                                                                 if requirements else {})},
            "ProductFields": {"opscli/Command": report.command, "opscli/CheckId": f.check_id,
                              "opscli/Version": __version__, "opscli/ReadWith": ", ".join(
                                  e["evidence"]["read_with"])[:1024],
                              # the Python line that declares the resource (the app's source map)
                              **({"opscli/Source": cut(str(site), 1024)} if site is not None else {})},
            "RecordState": "ACTIVE",
            "Workflow": {"Status": "SUPPRESSED" if f.status is Status.ACCEPTED else
                         "RESOLVED" if f.status in (Status.PASS, Status.NOT_APPLICABLE) else "NEW"},
        }
        now, in_code = e["remediation"]["now"], e["remediation"]["in_code"]
        if now:
            # The whole fix, in pieces of ProductFields' 2,048 characters where it is longer (a policy document)
            for n, start in enumerate(range(0, len(now), ASFF_FIELD)):
                field_name = "opscli/FixNow" + (f"/{n + 1:02d}" if n else "")
                finding["ProductFields"][field_name] = now[start:start + ASFF_FIELD]
        if now or in_code:
            text = " ".join(part for part in (f"Now: {now}" if now else "", f"In code: {in_code}" if in_code else "")
                            if part)
            if len(text) > ASFF_TEXT:  # never a command cut in the middle: say where the whole one is
                text = f"Now: the command in ProductFields opscli/FixNow ({len(now)} characters). In code: {in_code}"
            finding["Remediation"] = {"Recommendation": {"Text": cut(text, ASFF_TEXT)}}
        for resource in finding["Resources"]:
            if not resource["Details"]:
                del resource["Details"]
        finding["ProductFields"].update(provenance_fields(report))
        out.append(finding)
    return out


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def to_ocsf(report: Report, past: Any = None) -> list[dict[str, Any]]:
    """The report as OCSF Compliance Finding events (class 2003, category 2 Findings), one per finding; `past`
    as for to_asff."""
    account = report.target.get("account")
    region = report.region
    when = _epoch_ms(report.created)
    located = report.located()
    out = []
    for f in _judged(report):
        e = explanation(f)
        site = source_of(located, f)
        parts = resource_parts(f.resource)
        status_id, status = _OCSF_COMPLIANCE[f.status]
        severity_id = _OCSF_SEVERITY.get(f.severity, 0)
        uid = hashlib.sha256(finding_id(report, f).encode()).hexdigest()
        times = {name: _epoch_ms(moment) for name, moment in observed(report, f, past).items()}
        resource: dict[str, Any] = {"uid": named_resources(report, f)[0][1],
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
                             "types": ["Software and Configuration Checks"], "created_time": times["created"],
                             "first_seen_time": times["first"], "last_seen_time": times["last"],
                             "modified_time": times["updated"], "product_uid": PRODUCT},
            "compliance": {"control": f.rule_id, "status_id": status_id, "status": status,
                           "standards": sorted(e["controls"]) or ["StreamTech platform catalog"],
                           "requirements": [f"{name} {c}" for name, ids in e["controls"].items() for c in ids]},
            "resources": [resource],
            "unmapped": {"check_id": f.check_id, "read_with": e["evidence"]["read_with"],
                         "stack": report.stack, **({"source": site.to_dict()} if site is not None else {})},
        }
        if e["remediation"]["now"] or e["remediation"]["in_code"]:
            event["remediation"] = {"desc": " ".join(part for part in (
                f"Now: {e['remediation']['now']}" if e["remediation"]["now"] else "",
                f"In code: {e['remediation']['in_code']}" if e["remediation"]["in_code"] else "") if part)}
        event["unmapped"]["provenance"] = report.provenance.to_dict()
        out.append(event)
    return out


def asff_text(report: Report, past: Any = None) -> str:
    return visible_json(json.dumps(to_asff(report, past), indent=2, sort_keys=True, ensure_ascii=False)) + "\n"


def ocsf_text(report: Report, past: Any = None) -> str:
    return visible_json(json.dumps(to_ocsf(report, past), indent=2, sort_keys=True, ensure_ascii=False)) + "\n"
