"""What the core returns: findings with a status, and the exit code they imply."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from platform_spec import catalog, monitor, stacks
from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK
from platform_spec.path import Path
from platform_spec.result import Status
from platform_utils.source_map import Located, Site, SourceMap, locate

SEVERITIES = [s.value for s in catalog.Severity]


def stack_suffix(stack_name: str) -> str | None:
    """The environment suffix of one of its stacks, TapStack<suffix> or its posture monitor's TapMonitor<suffix>;
    None for a name of neither kind."""
    for prefix in (stacks.STACK_PREFIX, monitor.STACK_PREFIX):
        if stack_name.startswith(prefix) and len(stack_name) > len(prefix):
            return stack_name[len(prefix):]
    return None


def resource_label(resource_type: str, logical_id: str, physical_id: str | None) -> str:
    """How a finding names a resource the stack declares: "TYPE LogicalId (physical id)". `resource_parts`
    reads it back (the table, SARIF, the HTML report and accepted-findings entries do)."""
    return f"{resource_type} {logical_id}" + (f" ({physical_id})" if physical_id else "")


def resource_parts(resource: str) -> tuple[str, str | None, str | None] | None:
    """(type, logical id, physical id) of a `resource_label`, the ids None where it has none; None when
    `resource` does not start with a resource type (a secret's ARN, a file entry)."""
    parts = resource.split(" ", 2)
    if not parts[0].startswith("AWS::"):
        return None
    logical = parts[1] if len(parts) >= 2 else None
    physical = parts[2][1:-1] if len(parts) == 3 and parts[2].startswith("(") and parts[2].endswith(")") else None
    return parts[0], logical, physical


@dataclass(frozen=True)
class Finding:
    check_id: str  # e.g. "rds.multi_az"
    rule_id: str  # catalog id
    status: Status
    resource: str  # ARN where known, else the name that was looked up
    reason: str
    severity: str = ""
    title: str = ""
    # A failure's evidence as plain data (the predicate's Result.evidence) and the ids a fix needs (physical id,
    # ARN, account, region, the resolved properties the rule's fix commands name): opscli.explain fills the
    # catalog's fix commands from it, the same for every format.
    evidence: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        rule = catalog.CATALOG.get(self.rule_id)
        if rule is not None:
            if not self.severity:
                # Enum's `value` is a Python-level property; `_value_` is the same string, read directly: a
                # whole-stack audit makes hundreds of findings.
                object.__setattr__(self, "severity", rule.severity._value_)
            if not self.title:
                object.__setattr__(self, "title", rule.title)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Finding:
        return cls(**{**data, "status": Status(data["status"])})


@dataclass(frozen=True)
class Provenance:
    """Who ran a report and on what: the caller (sts:GetCallerIdentity's Arn, None where it was not read), the
    SHA-256 of the stack's template as read and what was hashed, and the commit of the checkout opscli ran from
    (opscli.provenance)."""

    caller: str | None = None
    template_sha256: str | None = None
    template_of: str | None = None
    commit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"caller": self.caller, "template": {"sha256": self.template_sha256, "of": self.template_of}
                if self.template_sha256 else None, "commit": self.commit}


@dataclass
class Report:
    command: str
    target: dict[str, str]
    findings: list[Finding] = field(default_factory=list)
    api_calls: int = 0
    seconds: float = 0.0
    coverage: dict | None = None  # the stack-scope run's coverage (declared, read, and why not), when there was one
    incomplete: str | None = None  # "timeout" or "interrupted": some checks never got an answer (they are ERROR)
    compliance: str | None = None  # --compliance: the framework the findings were filtered to and are grouped by
    template: Any = field(default=None, repr=False)  # the declaration read (SARIF lines, HTML picture); not in JSON
    created: datetime = field(default_factory=lambda: datetime.now(UTC))  # when the run ended
    # The accepted-findings entries that were current in this run: rule, resource, reason, approver, expires, and
    # how many FAILs each accepted (core.conclude fills it; the HTML report's register of deviations shows it)
    register: list[dict[str, Any]] = field(default_factory=list)
    # The stack's paths across its perimeter, from the same live read the rules judged (audit only; None: the
    # command does not compute them): who each resource admits and where its data goes (platform_spec.path)
    paths: list[Path] | None = None
    # Logical id -> the resources a finding on it names by ARN, with their CloudFormation types (its own, or its
    # parents': opscli.arns), from the live read; empty where the run read nothing
    arns: dict[str, tuple[Any, ...]] = field(default_factory=dict, repr=False)
    provenance: Provenance = field(default_factory=Provenance)
    # The CDK app's source map every view locates a declared resource's findings with (its Python line); None:
    # none was looked for (the CLI sets the one it found, or one that says why there is none)
    source_map: SourceMap | None = field(default=None, repr=False)

    @property
    def stack(self) -> str:
        """The stack the run looked at: as read from CloudFormation, else the one its suffix names."""
        return self.target.get("stack") or stacks.stack_name(self.target.get("suffix", ""))

    @property
    def region(self) -> str:
        """The region the run looked in: as the report says, else the platform's (a report made elsewhere)."""
        return self.target.get("region") or stacks.ALLOWED_REGION

    def counts(self) -> dict[str, int]:
        counted = Counter(f.status.value for f in self.findings)
        return {status.value: counted.get(status.value, 0) for status in Status}

    def located(self) -> Located:
        """Where in the app's Python each resource of the declaration read is declared (its logical id -> Site),
        by the source map, through the aws:cdk:path CDK writes on each resource of the deployed template."""
        return locate(self.template, self.source_map, self.stack)

    def source_warning(self, located: Located | None = None) -> str | None:
        """One sentence when a finding on a declared resource has no Python line (no source map, a template
        without CDK's metadata, a resource the map does not know); None when every one has its line."""
        located = located or self.located()
        declared = [lid for f in self.findings if (lid := declared_id(f)) is not None]
        missing = set(located.missing(declared))
        return located.warning(declared, sum(1 for lid in declared if lid in missing))


def declared_id(finding: Finding) -> str | None:
    """The logical id of the declared resource a finding is about; None for anything else (a secret the stack
    imports, an identity outside it)."""
    parts = resource_parts(finding.resource)
    return parts[1] if parts is not None and parts[1] else None


def source_of(located: Located, finding: Finding) -> Site | None:
    """The Python line that declares the resource `finding` is about, where `located` knows it."""
    lid = declared_id(finding)
    return located.sites.get(lid) if lid is not None else None


WORST = [Status.FAIL, Status.ERROR, Status.ACCEPTED, Status.PASS, Status.NOT_APPLICABLE]  # worst first


def worst(statuses: Iterable[Status]) -> Status | None:
    return min(statuses, key=WORST.index, default=None)


def path_status(path: Path, findings: Iterable[Finding]) -> Status | None:
    """The verdict on one path, from the findings of its rule that name what it judges (the stack's resource by
    its logical id, or an identity by its ARN): an outside path has their worst status; an inside path PASSes
    wherever its rule reached a verdict (the resource may FAIL for another of its paths), is ERROR where the rule
    could not look, and has none (None) where no finding of this run names it (another command, or a
    --compliance view without its rule)."""
    found = worst(f.status for f in findings if f.rule_id == path.rule_id and
                  (f.resource == path.judged or ((parts := resource_parts(f.resource)) is not None and
                                                 parts[1] == path.judged)))
    if path.outside or found in (None, Status.ERROR, Status.NOT_APPLICABLE):
        return found
    return Status.PASS


class FailOn(str, Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


JUDGED = frozenset({Status.PASS, Status.FAIL, Status.ACCEPTED})


def judged(findings: Iterable[Finding]) -> int:
    """How many checks reached a verdict (PASS, FAIL or ACCEPTED): what a run can vouch for."""
    return sum(1 for f in findings if f.status in JUDGED)


def judged_nothing(findings: Iterable[Finding]) -> bool:
    """No check reached a verdict and none said why (no ERROR): a run that must not pass as compliant."""
    findings = list(findings)
    return not judged(findings) and not any(f.status is Status.ERROR for f in findings)


def exit_code(findings: Iterable[Finding], fail_on: str = "low") -> int:
    """3 if any check could not look, or if no check reached a verdict at all (a run that judged nothing vouches
    for nothing); else 1 if any FAIL at or above `fail_on`; else 0."""
    threshold = SEVERITIES.index(fail_on.upper())
    findings = list(findings)
    if any(f.status is Status.ERROR for f in findings) or not judged(findings):
        return EXIT_INCOMPLETE
    if any(f.status is Status.FAIL and SEVERITIES.index(f.severity or "HIGH") <= threshold for f in findings):
        return EXIT_FINDINGS
    return EXIT_OK


def sort_findings(findings: Sequence[Finding]) -> list[Finding]:
    order = {Status.ERROR: 0, Status.FAIL: 1, Status.ACCEPTED: 2, Status.PASS: 3, Status.NOT_APPLICABLE: 4}
    return sorted(findings, key=lambda f: (order[f.status], SEVERITIES.index(f.severity or "HIGH"), f.check_id,
                                           f.resource))


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_name(resource: str) -> str:
    """A finding's resource as people read it: the logical id of "TYPE LogicalId (physical)", the last part of an
    ARN or path; the full name stays in JSON and SARIF."""
    parts = resource_parts(resource)
    if parts is not None and parts[1] is not None:
        return parts[1]
    tail = resource.rsplit(":", 1)[-1] if resource.startswith("arn:") else resource
    return tail.rsplit("/", 1)[-1] or resource


def service_of(finding: Finding) -> str:
    """The AWS service a finding is about ("RDS" for AWS::RDS::DBInstance); "Secrets Manager" for secrets."""
    parts = resource_parts(finding.resource)
    if parts is not None:
        return parts[0].split("::")[1]
    if ":secretsmanager:" in finding.resource or finding.check_id.startswith("secret."):
        return "SecretsManager"
    return "Stack"


def coverage_line(coverage: dict) -> str:
    """declared / read, and the count behind every reason a declared resource was not read."""
    parts = [f"{coverage['read']} of {coverage['declared']} declared resources read"]
    if coverage.get("missing"):
        parts.append(f"{len(coverage['missing'])} missing")
    if coverage.get("errors"):
        parts.append(f"{len(coverage['errors'])} could not be read")
    if coverage.get("no_reader"):
        parts.append(f"types without a reader: {', '.join(sorted(coverage['no_reader']))}")
    if coverage.get("not_emulated"):
        parts.append(f"not emulated locally: {', '.join(sorted(coverage['not_emulated']))}")
    if coverage.get("unverifiable"):
        parts.append(f"{coverage['unverifiable']} declared properties not in the answers")
    return "; ".join(parts)


def unverified_groups(coverage: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    """The declared properties drift could not compare, as (resource, why, properties), in the order read: what
    the coverage line counts, listed."""
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in coverage.get("unverified") or []:
        groups.setdefault((str(entry.get("resource", "")), str(entry.get("why", ""))), []).append(
            str(entry.get("property", "")))
    return [(resource, why, properties) for (resource, why), properties in groups.items()]


# --compliance FRAMEWORK -> the catalog reference field that maps a rule to it.
FRAMEWORKS = {"iso27001": "iso27001", "security-hub": "security_hub", "config": "config_rule", "prowler": "prowler",
              "cdk-nag": "cdk_nag", "checkov": "checkov"}


def compliance_view(findings: list[Finding], framework: str) -> dict[str, dict]:
    """The findings grouped by the controls of `framework` their rules map to (catalog references): control ->
    {"rules": [...], PASS/FAIL/ERROR/ACCEPTED/NOT_APPLICABLE counts}. A rule mapped to several controls
    counts under each."""
    field = FRAMEWORKS[framework]
    controls: dict[str, dict] = {}
    for f in findings:
        rule = catalog.CATALOG.get(f.rule_id)
        for control in rule.references.ids(field) if rule else []:
            entry = controls.setdefault(control, {"rules": [], **{s.value: 0 for s in Status}})
            if f.rule_id not in entry["rules"]:
                entry["rules"].append(f.rule_id)
            entry[f.status.value] += 1

    def order(control: str) -> tuple:
        return tuple(int(p) if p.isdigit() else p for p in control.replace("-", ".").split("."))
    return {c: {**controls[c], "rules": sorted(controls[c]["rules"])} for c in sorted(controls, key=order)}
