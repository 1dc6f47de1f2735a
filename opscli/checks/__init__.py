"""Live checks by name: collectors that look (read-only AWS calls) and judge (live-only predicates).

Each collector declares the operations it may call and the checks it yields; when it cannot look, every check
it did not yield becomes ERROR (could not look) or FAIL (the resource it expected does not exist).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import botocore.exceptions
import botocore.parsers

from opscli.errors import CREDENTIAL_SOURCES, CredentialsError
from opscli.model import Finding
from opscli.targets import Targets
from platform_spec.result import CouldNotLook, Result, Status


class Clients(Protocol):
    """What a collector needs of opscli.aws.Aws (handed in: this package does not import the guard's module)."""

    def client(self, service: str) -> Any: ...

NOT_FOUND_CODES = {
    "DBInstanceNotFound", "DBInstanceNotFoundFault", "DBParameterGroupNotFound", "ReplicationGroupNotFoundFault",
    "FileSystemNotFound", "ClusterNotFoundException", "ServiceNotFoundException", "NotFoundException",
    "ResourceNotFoundException", "NotFoundError",
}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
                "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "AuthFailure"}
THROTTLE_CODES = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
                  "ProvisionedThroughputExceededException"}


class Missing(Exception):
    """The resource the environment should have does not exist."""


@dataclass(frozen=True)
class Spec:
    name: str
    operations: tuple[str, ...]  # "service:Operation" as botocore names them
    checks: tuple[tuple[str, str], ...]  # (check id, catalog rule id)


@dataclass
class Context:
    aws: Clients
    targets: Targets
    now: datetime
    cmk_arn: str | None = None
    max_age_days: int = 90


# What the operator does about each way of not being able to look: the last clause of the reason, so that an ERROR
# says what could not be looked at, why and what to do wherever it is shown.
GRANT = "grant the caller the read-only policy `opscli iam-policy` prints"
RENEW = f"the credentials are expired or not valid here: check {CREDENTIAL_SOURCES}"
LATER = "run again later, or when fewer clients share the account's request rate"
REACH = "check that the endpoint is up and that --endpoint-url (or AWS_ENDPOINT_URL) names it"
ANSWERS = "check that the endpoint is AWS or a faithful emulator of it (-v shows each call)"
NO_ANSWER = "no answer before the run's --timeout: check that the endpoint answers, or give a longer --timeout"
UNKNOWN = "it comes from another resource of the stack (that resource's ERROR says why it could not be read)"
CREDENTIAL_CODES = {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
                    "AuthFailure"}


def _bare(exc: BaseException) -> str:
    """An exception's text without a trailing colon of its own (botocore's "Further retries may succeed:"), so
    that the what-to-do after it reads as one sentence."""
    return str(exc).rstrip().rstrip(":").rstrip()


def describe_failure(exc: BaseException) -> tuple[Status, str]:
    """What an exception while looking means: (status, reason); an ERROR's reason ends with what to do."""
    if isinstance(exc, Missing):
        return Status.FAIL, str(exc)
    if isinstance(exc, botocore.exceptions.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        operation = getattr(exc, "operation_name", "?")
        said = f": {message}" if message else ""
        if code in NOT_FOUND_CODES:
            return Status.FAIL, f"not found ({operation}: {code})"
        if code in DENIED_CODES:
            todo = RENEW if code in CREDENTIAL_CODES else GRANT
            return Status.ERROR, f"access denied to {operation} ({code}){said}: {todo}"
        if code in THROTTLE_CODES:
            return Status.ERROR, f"throttled on {operation} after retries ({code}): {LATER}"
        return Status.ERROR, f"{operation} failed: {code} {message}".strip()
    if isinstance(exc, (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionError)):
        return Status.ERROR, f"endpoint unreachable: {_bare(exc)}: {REACH}"
    if isinstance(exc, (botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectTimeoutError)):
        return Status.ERROR, f"timed out: {_bare(exc)}: {REACH}"
    if isinstance(exc, CouldNotLook):
        return Status.ERROR, f"malformed answer: {_bare(exc)}: {ANSWERS}"
    if isinstance(exc, botocore.parsers.ResponseParserError):  # not a BotoCoreError: bad XML/JSON, HTML, cut short
        return Status.ERROR, f"malformed answer: {str(exc).splitlines()[0][:200]}: {ANSWERS}"
    if isinstance(exc, (KeyError, TypeError, IndexError, AttributeError)):
        return Status.ERROR, f"malformed answer: {type(exc).__name__} {_bare(exc)}: {ANSWERS}"
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return Status.ERROR, f"AWS SDK error: {exc}"
    raise exc


def run_collector(spec: Spec, fn: Callable[..., Iterator[Finding]], ctx: Context, resource: str,
                  *args: Any) -> list[Finding]:
    """Run one collector for `resource`; every declared check it could not judge becomes ERROR or FAIL."""
    findings: list[Finding] = []
    try:
        for finding in fn(ctx, resource, *args):
            findings.append(finding)
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError):
        raise CredentialsError.none_found() from None
    except Exception as exc:  # noqa: BLE001 - classified below; unknown exceptions re-raise there
        status, reason = describe_failure(exc)
        done = {f.check_id for f in findings}
        for check_id, rule_id in spec.checks:
            if check_id not in done:
                findings.append(Finding(check_id, rule_id, status, resource, reason))
    return findings


def judge(check_id: str, rule_id: str, resource: str, predicate: Callable[..., Result], *args: Any) -> Finding:
    """Apply a live predicate; a malformed answer is ERROR, never PASS."""
    try:
        result = predicate(*args)
    except (CouldNotLook, KeyError, TypeError, AttributeError) as exc:
        status, reason = describe_failure(exc)
        return Finding(check_id, rule_id, status, resource, reason)
    # A failure's fix is filled from its evidence and the resource it names (a secret's ARN is its id).
    evidence = {"id": resource, **result.evidence} if result.status is Status.FAIL else {}
    return Finding(check_id, rule_id, result.status, resource, result.reason, evidence=evidence)
