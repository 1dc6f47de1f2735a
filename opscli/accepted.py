"""Accepted live findings: a reviewed TOML file of deviations an operator accepts for a while.

    [[accept]]
    rule = "STK-KMS-002"
    resource = "EncryptionKey3A692D6E"   # the logical id, the physical id or ARN, or the finding's full resource
    reason = "Rotation is suspended during the HSM migration; the platform team re-enables it at cutover."
    approver = "security-lead@streamtech.jp"
    expires = 2027-01-31

Each entry is judged by STK-OPS-001 (platform_spec/rules/stk_ops.py) and reported as a finding of its own. A
current entry turns the matching FAIL findings into ACCEPTED (the reason, approver and expiry in their reason);
an ERROR is never accepted; an entry that matches no FAIL is reported NOT_APPLICABLE, so stale entries show.
A file that is not TOML, or has no [[accept]] list, is a usage error.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from opscli.errors import UsageError, read_input
from opscli.model import Finding, resource_parts
from platform_spec import catalog
from platform_spec.result import Status
from platform_spec.rules.stk_ops import CHECK_ID, RULE_ID, accepted_entry


def load(path: Path) -> list[Any]:
    text = read_input(path, "accepted-findings file")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"--accepted {path} is not TOML: {exc}") from None
    entries = document.get("accept")
    if not isinstance(entries, list) or set(document) - {"accept"}:
        raise UsageError(f"--accepted {path}: expected only [[accept]] tables (rule, resource, reason, approver, "
                         f"expires)")
    return entries


def _names(resource: str) -> set[str]:
    """The ways an entry may name a finding's resource: "TYPE LogicalId (physical)" gives all three."""
    parts = resource_parts(resource)
    return {resource} | ({name for name in parts[1:] if name is not None} if parts is not None else set())


def apply(findings: list[Finding], entries: list[Any], source: Path, today: dt.date) -> list[Finding]:
    """`findings` with the accepted FAILs turned ACCEPTED, plus one STK-OPS-001 finding per entry."""
    rule = catalog.get(RULE_ID)
    out = list(findings)
    for index, entry in enumerate(entries, 1):
        label = f"{source}#{index}"
        if isinstance(entry, dict) and isinstance(entry.get("rule"), str):
            label += f" {entry['rule']} {entry.get('resource', '?')}"
        verdict = accepted_entry(entry, today)
        if verdict.status is not Status.PASS:
            out.append(Finding(CHECK_ID, RULE_ID, Status.FAIL, label, verdict.reason, severity=rule.severity.value,
                               title=rule.title))
            continue
        matched = 0
        for n, f in enumerate(out):
            if f.rule_id == entry["rule"] and entry["resource"] in _names(f.resource) and f.status is Status.FAIL:
                out[n] = replace(f, status=Status.ACCEPTED,
                                 reason=f"{verdict.reason}: {entry['reason']} (finding: {f.reason})")
                matched += 1
        status = Status.PASS if matched else Status.NOT_APPLICABLE
        said = f"{verdict.reason}; accepts {matched} FAIL finding(s)" if matched else \
            "current, but matches no FAIL in this run (fixed? then remove the entry)"
        out.append(Finding(CHECK_ID, RULE_ID, status, label, said, severity=rule.severity.value, title=rule.title))
    return out


def register(findings: list[Finding], entries: list[Any], today: dt.date) -> list[dict[str, Any]]:
    """The current entries as a register of deviations: rule, resource, reason, approver, expiry, and the number
    of FAIL findings of this run each accepted."""
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or accepted_entry(entry, today).status is not Status.PASS:
            continue
        accepts = sum(1 for f in findings if f.status is Status.ACCEPTED and f.rule_id == entry["rule"]
                      and entry["resource"] in _names(f.resource))
        out.append({"rule": entry["rule"], "resource": entry["resource"], "reason": entry["reason"],
                    "approver": entry["approver"], "expires": entry["expires"].isoformat(), "accepts": accepts})
    return out
