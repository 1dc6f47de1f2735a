"""What a rule predicate returns: a status and the reason, as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Status(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    # Only live checks produce ERROR: the check could not look (denied, throttled, endpoint down).
    ERROR = "ERROR"
    # A live FAIL that a current, approved entry of the accepted-findings file excuses (rules/accepted.py).
    ACCEPTED = "ACCEPTED"


class CouldNotLook(Exception):
    """An answer lacks (or garbles) a field AWS always returns: the check could not look, so it is ERROR,
    never PASS or FAIL. Live readers and live-only predicates raise it; opscli reports it."""


@dataclass(frozen=True)
class Result:
    status: Status
    reason: str

    @classmethod
    def ok(cls, reason: str) -> Result:
        return cls(Status.PASS, reason)

    @classmethod
    def fail(cls, reason: str) -> Result:
        return cls(Status.FAIL, reason)

    @classmethod
    def na(cls, reason: str = "not applicable to this resource type") -> Result:
        return cls(Status.NOT_APPLICABLE, reason)

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL
