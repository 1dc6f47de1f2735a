"""STK-OPS-001: an accepted live deviation is well-formed, approved and current.

An operator who accepts a live FAIL for a while records it in a reviewed file (opscli --accepted FILE): the rule
it excuses, the resource, a reason of at least one full sentence, the approver and an expiry date. Each entry
is judged here; only an entry that passes turns a matching FAIL into ACCEPTED, never an ERROR (a check that
could not look has nothing to accept). An expired or malformed entry is itself a FAIL of this rule.
Nothing here is registered with platform_spec.rule: an entry is no resource, and opscli's --accepted handling
asks `accepted_entry` of each.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from platform_spec.result import Result

RULE_ID = "STK-OPS-001"
CHECK_ID = "accepted.entry"
FIELDS = ("rule", "resource", "reason", "approver", "expires")
MAX_DAYS = 366  # an acceptance is reviewed at least once a year
_SENTENCE = re.compile(r"^\S.{18,}[.!?]$", re.DOTALL)
_RULE = re.compile(r"^STK-[A-Z0-9]+-\d{3}$")


def entry_problems(entry: Mapping[str, Any], today: dt.date) -> list[str]:
    """What is wrong with one accepted-finding entry (empty: it may accept)."""
    if not isinstance(entry, Mapping):
        return ["an entry must be a table of rule, resource, reason, approver, expires"]
    problems = [f"missing '{name}'" for name in FIELDS if name not in entry]
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)}")
    rule, resource = entry.get("rule"), entry.get("resource")
    if "rule" in entry and not (isinstance(rule, str) and _RULE.match(rule)):
        problems.append(f"rule {rule!r} is not a catalog id (STK-...-NNN)")
    if "rule" in entry and rule == RULE_ID:
        problems.append(f"{RULE_ID} itself cannot be accepted")
    if "resource" in entry and not (isinstance(resource, str) and resource.strip()):
        problems.append("resource must name the resource (logical id, physical id or ARN)")
    reason = entry.get("reason")
    if "reason" in entry and not (isinstance(reason, str) and _SENTENCE.match(reason.strip())):
        problems.append("reason must be at least one full sentence (20 characters or more, ending with . ! or ?)")
    approver = entry.get("approver")
    if "approver" in entry and not (isinstance(approver, str) and approver.strip()):
        problems.append("approver must name who approved it")
    expires = entry.get("expires")
    if "expires" in entry:
        if not isinstance(expires, dt.date) or isinstance(expires, dt.datetime):
            problems.append(f"expires must be a date (YYYY-MM-DD), got {expires!r}")
        elif expires < today:
            problems.append(f"expired on {expires.isoformat()}")
        elif (expires - today).days > MAX_DAYS:
            problems.append(f"expires {expires.isoformat()}: more than {MAX_DAYS} days ahead (review yearly)")
    return problems


def accepted_entry(entry: Mapping[str, Any], today: dt.date) -> Result:
    """STK-OPS-001 over one entry: PASS when it may accept, FAIL saying what is wrong otherwise."""
    problems = entry_problems(entry, today)
    if problems:
        return Result.fail("; ".join(problems))
    return Result.ok(f"accepted until {entry['expires'].isoformat()} by {entry['approver']}")
