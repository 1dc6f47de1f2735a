"""What a rule predicate returns: a status and the reason, as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    # Only live checks produce ERROR: the check could not look (denied, throttled, endpoint down).
    ERROR = "ERROR"
    # A live FAIL that a current, approved entry of the accepted-findings file excuses (rules/stk_ops.py).
    ACCEPTED = "ACCEPTED"


class CouldNotLook(Exception):
    """An answer lacks (or garbles) a field AWS always returns: the check could not look, so it is ERROR,
    never PASS or FAIL. Live readers and live-only predicates raise it; opscli reports it."""


@dataclass(frozen=True)
class Result:
    status: Status
    reason: str
    # What a failure found, as plain data (JSON types) in the shape the AWS API that fixes it takes: the offending
    # ingress rule as EC2's IpPermissions, the statement's Sid and principal. The reason says it for people; the
    # catalog's fix commands (platform_spec.catalog.Fix) are filled from these, so nothing is parsed back out of it.
    evidence: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @classmethod
    def ok(cls, reason: str) -> Result:
        return cls(Status.PASS, reason)

    @classmethod
    def fail(cls, reason: str, **evidence: Any) -> Result:
        return cls(Status.FAIL, reason, evidence)

    @classmethod
    def na(cls, reason: str = "not applicable to this resource type") -> Result:
        return cls(Status.NOT_APPLICABLE, reason)

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL
