"""Reading the source map that synthesis records (cdk_app/source_map.py): construct path below the stack ->
"cdk_app/....py:LINE", and from it the Python line that declares each resource of a template. Here, on the
ground floor, because the gate and opscli read it too (opscli without importing the CDK)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from platform_spec import files

FILE_NAME = "source-map.json"  # in the cloud assembly
COMMITTED_PATH = "cdk_app/source_map.json"  # relative to the repository's root
SCHEMA = "streamtech.source-map/v1"


def below_stack(sites: Mapping[str, str], stack_name: str) -> dict[str, str]:
    """The sites of one stack's constructs, keyed by their path below the stack (the same for every suffix)."""
    prefix = stack_name + "/"
    out = {path.removeprefix(prefix): site for path, site in sites.items() if path.startswith(prefix)}
    if stack_name in sites:
        out[""] = sites[stack_name]
    return dict(sorted(out.items()))


def document(sites: Mapping[str, str]) -> dict[str, Any]:
    return {"schema": SCHEMA, "constructs": dict(sorted(sites.items()))}


def read(path: str | Path) -> dict[str, str]:
    """The map of a source-map file. Raises files.FileRefused (not a regular file, too big, unreadable) or
    ValueError (not JSON, not a source map) with a sentence saying which."""
    try:
        data = files.read_json(path, "source map")
    except OSError as exc:
        raise files.FileRefused(f"source map {path} cannot be read: {exc.strerror or exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("constructs"), dict):
        raise ValueError(f"source map {path}: not a {SCHEMA} document (python -m cdk_app.source_map writes one)")
    return {str(k): str(v) for k, v in data["constructs"].items()}


def load(path: str | Path) -> dict[str, str]:
    """The map of a source-map file; {} when there is none or it is not one (for the default's best effort)."""
    try:
        return read(path)
    except (files.FileRefused, ValueError):
        return {}


def site_of(cdk_path: str | None, sites: Mapping[str, str]) -> tuple[str, int] | None:
    """(file, line) of the construct that declares the resource at `cdk_path` (aws:cdk:path, with the stack's
    name first): its longest recorded prefix below the stack."""
    if not cdk_path or not sites:
        return None
    parts = cdk_path.split("/")[1:]
    for end in range(len(parts), -1, -1):
        site = sites.get("/".join(parts[:end]))
        if site:
            file, _, line = site.rpartition(":")
            return (file, int(line)) if line.isdigit() else None
    return None


def resource_sites(template: Any, sites: Mapping[str, str]) -> dict[str, tuple[str, int]]:
    """Logical id -> (file, line) for every resource of a template that carries its aws:cdk:path."""
    resources = template.get("Resources") if isinstance(template, Mapping) else None
    out: dict[str, tuple[str, int]] = {}
    for lid, resource in (resources or {}).items():
        metadata = resource.get("Metadata") if isinstance(resource, Mapping) else None
        path = metadata.get("aws:cdk:path") if isinstance(metadata, Mapping) else None
        found = site_of(path if isinstance(path, str) else None, sites)
        if found:
            out[lid] = found
    return out
