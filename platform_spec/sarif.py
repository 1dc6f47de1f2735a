"""What the gate's and opscli's SARIF share, shaped for GitHub code scanning: the schema, the level of a failed
result, the `security-severity` that ranks an alert (GitHub: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium,
0.1-3.9 low), the rule descriptors with their words in markdown (docs/rules.md holds the same text), and the
fingerprint that keeps an alert one alert across runs and deployments."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

from platform_spec import catalog

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note", "INFO": "note"}  # of a FAIL
SECURITY_SEVERITY = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "3.0", "INFO": "1.0"}
FINGERPRINT = "streamtechFinding/v2"
RULES_DOC = "docs/rules.md"
# Where docs/rules.md is published, for helpUri (SARIF asks for an absolute URI): STREAMTECH_HELP_BASE_URI, else
# the repository and commit of a GitHub Actions run; without either, helpUri is left out and help carries it all.
HELP_BASE_ENV = "STREAMTECH_HELP_BASE_URI"


def anchor(rule_id: str) -> str:
    return rule_id.lower()


def help_base(environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    if env.get(HELP_BASE_ENV):
        return env[HELP_BASE_ENV].rstrip("/")
    if env.get("GITHUB_SERVER_URL") and env.get("GITHUB_REPOSITORY") and env.get("GITHUB_SHA"):
        return f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/blob/{env['GITHUB_SHA']}"
    return None


def tags(rule: catalog.Rule) -> list[str]:
    """Code scanning's filters: 'security', the rule's family (NET, IAM, ...) and the frameworks it maps to."""
    family = rule.id.split("-")[1].lower()
    frameworks = [kind.replace("_", "-") for kind in ("iso27001", "security_hub", "prowler", "config_rule")
                  if rule.references.ids(kind)]
    return ["security", family, *frameworks]


def rule_markdown(rule: catalog.Rule) -> str:
    """The rule in markdown: what it requires and why, what to do now, what to change in code, its controls."""
    lines = [f"**{rule.id}** ({rule.severity.value}): {rule.title}", "", rule.rationale, ""]
    if rule.now:
        lines += [f"**Fix now:** {rule.now}", ""]
    lines += [f"**{'In code' if rule.now else 'Remediation'}:** {rule.in_code}", ""]
    refs = [(label, ids) for label, kind in (("ISO/IEC 27001:2022", "iso27001"), ("Security Hub", "security_hub"),
                                             ("AWS Config", "config_rule"), ("Prowler", "prowler"),
                                             ("cdk-nag", "cdk_nag"), ("Checkov", "checkov"))
            if (ids := rule.references.ids(kind))]
    if refs:
        lines.append("**Controls:** " + "; ".join(f"{label} {', '.join(ids)}" for label, ids in refs))
    return "\n".join(lines).strip() + "\n"


def sarif_rules(rule_ids: set[str], *, base: str | None = None) -> list[dict]:
    """SARIF reportingDescriptors for `rule_ids`: catalog words as text and markdown, default level, and the
    properties code scanning ranks and filters by. An id outside the catalog (a tool's own) gets its id only."""
    rules = []
    for rule_id in sorted(rule_ids):
        entry = catalog.CATALOG.get(rule_id)
        if entry is None:
            rules.append({"id": rule_id, "shortDescription": {"text": rule_id},
                          "properties": {"tags": ["security"], "security-severity": SECURITY_SEVERITY["MEDIUM"]}})
            continue
        rule = {"id": rule_id, "name": "".join(part.capitalize() for part in rule_id.split("-")),
                "shortDescription": {"text": entry.title}, "fullDescription": {"text": entry.rationale},
                "help": {"text": f"Now: {entry.now} In code: {entry.in_code}" if entry.now else entry.in_code,
                         "markdown": rule_markdown(entry)},
                "defaultConfiguration": {"level": LEVEL[entry.severity.value]},
                "properties": {"tags": tags(entry), "security-severity": SECURITY_SEVERITY[entry.severity.value],
                               "precision": "high"}}
        if base:
            rule["helpUri"] = f"{base}/{RULES_DOC}#{anchor(rule_id)}"
        rules.append(rule)
    return rules


# Where a result falls back to when no line of ours is known: the file that declares the CDK app, tracked in
# every CDK repository (code scanning needs a file for every result), as a whole: no line is made up.
FALLBACK_LOCATION = ("cdk.json", None)
ROOT_BASE = {"%SRCROOT%": {"description": {"text": "the repository's root"}}}


def location(file: str, line: int | None, name: str) -> dict:
    """One result's location: a file of the repository (relative to %SRCROOT%) and its line where one is known
    (without one, the result is about the file as a whole), and what it is about."""
    physical: dict = {"artifactLocation": {"uri": file, "uriBaseId": "%SRCROOT%"}}
    if line is not None and line >= 1:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical, "logicalLocations": [{"fullyQualifiedName": name, "kind": "resource"}]}


def fingerprint(rule_id: str, logical_id: str, check_id: str) -> str:
    """Stable across deployments and suffixes: rule, the resource's logical id (never its physical id) and check."""
    return hashlib.sha256(f"{rule_id}|{logical_id}|{check_id}".encode()).hexdigest()[:32]
