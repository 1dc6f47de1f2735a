"""`opscli export security-hub`: the one command that writes to AWS, opt-in. It imports an ASFF report
(`--report asff=PATH` of an audit, drift or rotate-check) with BatchImportFindings, through a client of its own
that can send nothing else: not the read-only clients of opscli.aws, whose guard stays as it is."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
from botocore.config import Config
from botocore.validate import ParamValidator

from opscli.aws import endpoint_pin, new_session
from opscli.errors import OpsError, ReadOnlyViolation, UsageError, read_json_input
from opscli.fleet import securityhub_model

OPERATION = "BatchImportFindings"
BATCH = 100  # BatchImportFindings takes at most 100 findings a call
ATTEMPTS = 5  # every attempt, the first included (botocore's standard retry mode, with its backoff)


def _guard(model: Any, **_: Any) -> None:
    if model.name != OPERATION:
        raise ReadOnlyViolation(f"refused {model.service_model.service_name}:{model.name}: the export client sends "
                                f"only securityhub:{OPERATION}")


def import_client(*, region: str, profile: str | None, endpoint_url: str | None) -> Any:
    """A Security Hub client that refuses every operation but BatchImportFindings (and, with an endpoint, every
    other destination)."""
    try:
        session = new_session(profile_name=profile, region_name=region)
    except botocore.exceptions.ProfileNotFound as exc:
        raise UsageError(str(exc)) from None
    client = session.client("securityhub", endpoint_url=endpoint_url, config=Config(
        region_name=region, retries={"mode": "standard", "total_max_attempts": ATTEMPTS}, connect_timeout=5,
        read_timeout=20, user_agent_extra="opscli-export"))
    client.meta.events.register("before-call.*.*", _guard)
    if endpoint_url:
        client.meta.events.register("before-send.*.*", endpoint_pin(endpoint_url, subdomains=False))
    return client


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


def import_findings(client: Any, findings: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    """(imported, failed findings with Security Hub's reasons), in batches of 100."""
    imported, failed = 0, []
    for start in range(0, len(findings), BATCH):
        try:
            answer = client.batch_import_findings(Findings=findings[start:start + BATCH])
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            raise OpsError(f"{OPERATION} refused: {error.get('Code')}: {error.get('Message')} ({imported} of "
                           f"{len(findings)} imported before it)") from None
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise OpsError(f"{OPERATION} could not be sent: {exc} ({imported} of {len(findings)} imported before "
                           "it)") from None
        imported += int(answer.get("SuccessCount", 0))
        failed += list(answer.get("FailedFindings") or [])
    return imported, failed
