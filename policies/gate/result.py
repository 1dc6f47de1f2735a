"""What a gate run found (GateResult), or why it could not run (GateError, with its exit code)."""

from __future__ import annotations

from dataclasses import dataclass, field

from policies.report_formats import ReportFinding


class GateError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class GateResult:
    findings: list[ReportFinding] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    checks_run: set[str] = field(default_factory=set)
    not_run: dict[str, str] = field(default_factory=dict)  # stage -> why it did not run
    source_map: str | None = None  # the source map the template stage's findings were located with
    source_warning: str = ""  # why some finding names no Python line ("" when every one does)
