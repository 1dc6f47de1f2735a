"""The gate's report files (gate.json, gate.sarif, gate.junit.xml): where they may go, and writing them whole.
Their formats are policies/report_formats.py's."""

from __future__ import annotations

import os
from pathlib import Path

from platform_spec import sarif
from platform_spec.exit_codes import EXIT_INCOMPLETE, EXIT_USAGE
from platform_utils import files
from policies.gate import ROOT
from policies.gate.result import GateError, GateResult
from policies.report_formats import to_json, to_junit, to_sarif

REPORT_NAMES = ("gate.json", "gate.sarif", "gate.junit.xml")


def reports_directory(named: Path | None) -> Path:
    """Where the reports go, checked before anything runs: reports/ (this tool's own, made when missing), or a
    directory the user named, which must exist (none is made: a missing one is more often a typo than a wish).
    A report file there that is a symbolic link or not a regular file is refused, as opscli's --report is."""
    directory = named if named is not None else ROOT / "reports"
    if Path(os.path.abspath(directory)) == ROOT / "reports":
        try:
            directory.mkdir(exist_ok=True)
        except OSError as exc:
            raise GateError(f"reports directory {directory} cannot be made: {exc.strerror or exc}",
                            EXIT_USAGE) from None
    elif not directory.is_dir():
        raise GateError(f"--reports {named} is not a directory (none is made for a path you name: create it, or "
                        "leave --reports out for reports/)", EXIT_USAGE)
    for name in REPORT_NAMES:
        try:
            files.writable_target(directory / name, "report")
        except files.FileRefused as exc:
            raise GateError(str(exc), EXIT_USAGE) from None
    return directory


def write_reports(result: GateResult, directory: Path) -> list[Path]:
    """gate.json, gate.sarif and gate.junit.xml in `directory`, each whole or not at all (files.write_whole)."""
    summary = {"findings": len(result.findings), "seconds": {k: round(v, 2) for k, v in result.seconds.items()},
               "not_run": result.not_run, **result.counts,
               "source_map": {"file": result.source_map, "warning": result.source_warning or None}}
    outputs = {
        directory / "gate.json": to_json(result.findings, summary=summary),
        directory / "gate.sarif": to_sarif(result.findings, tool="streamtech-policy-gate",
                                           help_base=sarif.help_base()),
        directory / "gate.junit.xml": to_junit(result.findings, suite="policy-gate",
                                                checks_run=sorted(result.checks_run)),
    }
    for path, text in outputs.items():
        try:
            files.write_whole(path, text, "report")
        except files.FileRefused as exc:
            raise GateError(str(exc), EXIT_INCOMPLETE) from None
    return list(outputs)
