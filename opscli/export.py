"""`opscli export security-hub`: the one command that writes to AWS, opt-in. It imports an ASFF report
(`--report asff=PATH` of an audit, drift or rotate-check) with BatchImportFindings, through a session of
opscli.aws like every other command's, allowed that one write (and a role profile's credential calls) and
nothing else, and pinned to --endpoint-url; the read-only commands' sessions are allowed no write at all."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
from botocore.validate import ParamValidator

from opscli.aws import Aws
from opscli.errors import OpsError, UsageError, read_json_input
from opscli.fleet import securityhub_model
from opscli.sanitize import visible
from platform_spec.exit_codes import EXIT_INCOMPLETE
from platform_spec.result import CouldNotLook

OPERATION = "BatchImportFindings"
WRITES = frozenset({f"securityhub:{OPERATION}"})
BATCH = 100  # BatchImportFindings takes at most 100 findings a call
ATTEMPTS = 5  # every attempt, the first included (botocore's standard retry mode, with its backoff)


class CouldNotTell(OpsError):
    """Security Hub's answer to a batch cannot be trusted (its counts do not add up to what was sent, it could not
    be read, or none came): which of the batch's findings were imported is unknown, never a success."""

    exit_code = EXIT_INCOMPLETE


@dataclass(frozen=True)
class Imported:
    """What Security Hub said it did with the findings sent: every finding is either imported or failed."""

    sent: int
    imported: int
    failed: list[dict[str, Any]] = field(default_factory=list)  # Security Hub's FailedFindings, each with its reason


def import_client(*, region: str, profile: str | None, endpoint_url: str | None) -> Any:
    """A Security Hub client whose session sends only BatchImportFindings and the credential calls of a role
    profile (and, with an endpoint, sends nowhere else, the role's STS client included)."""
    aws = Aws(region=region, profile=profile, endpoint_url=endpoint_url, max_attempts=ATTEMPTS,
              allowed=frozenset(), writes=WRITES)
    aws.check_credentials()
    return aws.client("securityhub")


def read_findings(path: Any) -> list[dict[str, Any]]:
    """The findings of an ASFF report, each checked against BatchImportFindings' model before anything is sent."""
    findings = read_json_input(path, "--report asff")
    if not isinstance(findings, list) or not all(isinstance(f, dict) for f in findings):
        raise UsageError(f"--report asff {path}: not a list of ASFF findings (opscli audit --report asff=PATH "
                         "writes one)")
    problems = ParamValidator().validate({"Findings": findings},
                                         securityhub_model().operation_model(OPERATION).input_shape)
    if problems.has_errors():
        first = problems.generate_report().splitlines()[:3]
        raise UsageError(f"--report asff {path}: not what {OPERATION} accepts: {' '.join(first)}")
    return findings


def import_findings(client: Any, findings: list[dict[str, Any]]) -> Imported:
    """Every finding imported in batches of 100, or an OpsError (exit 3) that says how far it got. A batch whose
    answer cannot be trusted stops the export: nothing more is sent after it."""
    imported, failed = 0, []
    for start in range(0, len(findings), BATCH):
        batch = findings[start:start + BATCH]
        so_far = f"{imported} of {len(findings)} imported before it"
        try:
            answer = client.batch_import_findings(Findings=batch)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            raise OpsError(f"{exc.operation_name} refused: {visible(error.get('Code'))}: "
                           f"{visible(error.get('Message'))} ({so_far})") from None
        except (botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectionClosedError) as exc:
            # sent, and perhaps imported: only the answer is missing
            raise CouldNotTell(f"{_batch(batch, start, len(findings))}: sent, but no answer came ({visible(exc)}); "
                               f"could not tell which of its findings were imported ({so_far})") from None
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise OpsError(f"{OPERATION} could not be sent: {visible(exc)} ({so_far})") from None
        except (CouldNotLook, ValueError) as exc:  # the body or types (opscli.answers.check_answer), or botocore's
            # parser on a value it cannot convert (a count "abc")
            raise CouldNotTell(f"{_batch(batch, start, len(findings))}: {OPERATION}'s answer could not be read: "
                               f"{visible(exc)}; could not tell which of its findings were imported "
                               f"({so_far})") from None
        problem = _untrusted(answer, batch)
        if problem:
            raise CouldNotTell(f"{OPERATION} answered {_batch(batch, start, len(findings))} with {problem}: could "
                               f"not tell which of its findings were imported ({so_far})")
        imported += answer["SuccessCount"]
        failed += answer.get("FailedFindings", [])
    return Imported(sent=len(findings), imported=imported, failed=failed)


def _batch(batch: list[dict[str, Any]], start: int, total: int) -> str:
    """A batch as an operator finds it in the report: its place and its first and last ids."""
    first, last = visible(batch[0].get("Id")), visible(batch[-1].get("Id"))
    ids = first if len(batch) == 1 else f"{first} ... {last}"
    return f"the batch of findings {start + 1}-{start + len(batch)} of {total} ({ids})"


def _count(answer: dict[str, Any], key: str) -> int | None:
    value = answer.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _untrusted(answer: Any, batch: list[dict[str, Any]]) -> str | None:
    """Why an answer to `batch` cannot be trusted, or None: every finding sent is counted once, as imported or as
    failed, and each failed one is named (a finding of the batch, each named once)."""
    if not isinstance(answer, dict):
        return "no answer"
    success, failed_count = _count(answer, "SuccessCount"), _count(answer, "FailedCount")
    if success is None or failed_count is None:
        key = "SuccessCount" if success is None else "FailedCount"
        return f"{key} {visible(repr(answer.get(key)))[:40]}, not a count"
    if success + failed_count != len(batch):
        return f"SuccessCount {success} + FailedCount {failed_count} for {len(batch)} findings sent"
    failed = answer.get("FailedFindings", [])
    if not isinstance(failed, list) or not all(isinstance(item, dict) and isinstance(item.get("Id"), str)
                                               for item in failed):
        return "FailedFindings that are not a list of findings with their ids"
    if len(failed) != failed_count:
        return f"FailedCount {failed_count} but {len(failed)} FailedFindings named"
    if Counter(item["Id"] for item in failed) - Counter(finding.get("Id") for finding in batch):
        return "FailedFindings naming a finding that was not sent in it"
    return None
