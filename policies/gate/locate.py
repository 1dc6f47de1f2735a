"""Where a template-stage finding's resource is declared in the app's Python code, from the assembly's source map."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from platform_utils import source_map
from policies.gate import ROOT
from policies.report_formats import ReportFinding


def template_sources(cdk_out: Path, templates: Sequence[Path]) -> dict[tuple[str, str], source_map.Site]:
    """(template path, logical id) -> the Python line that declares the resource, from the assembly's source map
    (python -m cdk_app writes source-map.json beside the templates); empty without one."""
    sites = source_map.load(cdk_out / source_map.FILE_NAME)
    out: dict[tuple[str, str], source_map.Site] = {}
    for path in templates if sites else []:
        try:
            template = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            continue
        for lid, site in source_map.resource_sites(template, sites).items():
            out[(os.path.relpath(path, ROOT), lid)] = site
    return out


def locate(findings: Sequence[ReportFinding], cdk_out: Path, templates: Sequence[Path]
           ) -> tuple[list[ReportFinding], str | None, str]:
    """Template-stage findings with the Python line that declares each resource, from the source map beside the
    templates; the map's path (None: none applied) and why some finding has no line ("" when none lacks one)."""
    sources = template_sources(cdk_out, templates)
    located = [replace(f, source=sources.get((f.location, logical_id(f)), f.source)) for f in findings]
    map_file = os.path.relpath(cdk_out / source_map.FILE_NAME, ROOT)
    if sources:
        why = "the template names no such resource (a finding on the template as a whole)"
    elif source_map.load(cdk_out / source_map.FILE_NAME):
        why = "the templates carry no aws:cdk:path metadata; their template line is given instead"
    else:
        why = (f"{map_file} is missing or unreadable (python -m cdk_app writes it beside the templates: synthesize "
               "without --skip-synth); their template line is given instead")
    return located, map_file if sources else None, unlocated(located, why)


def logical_id(f: ReportFinding) -> str:
    """The logical id a template-stage finding names (Checkov: 'TYPE.Lid', cfn-lint: 'Resources.Lid')."""
    return f.resource.rsplit(".", 1)[-1]


def unlocated(findings: Sequence[ReportFinding], why: str) -> str:
    """One sentence for the findings that name no Python line (with `why`), or "" when every one does."""
    missing = sorted({f.resource for f in findings if f.source is None})
    if not missing:
        return ""
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    return f"no file:line for {len(missing)} resource(s) with findings ({shown}): {why}"
