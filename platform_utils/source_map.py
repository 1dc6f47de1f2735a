"""Reading the source map that synthesis records (cdk_app/source_map.py): construct path below the stack ->
"cdk_app/....py:LINE", and from it the Python line that declares each resource of a template. Here, on the
ground floor (platform_utils), because the gate and opscli read it too (opscli without importing the CDK)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from platform_utils import files

FILE_NAME = "source-map.json"  # in the cloud assembly
COMMITTED_PATH = "cdk_app/source_map.json"  # relative to the repository's root
SCHEMA = "streamtech.source-map/v1"
APP_FILE = "cdk.json"  # beside the committed map at the root of the app's checkout
MAX_LINE = 1_000_000  # no Python file of the app is longer: a larger "line" is not one of ours (SARIF would carry it)


class Site(NamedTuple):
    """A line of the app's Python (relative to the repository's root): where a construct is declared."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line}

    @classmethod
    def parse(cls, text: str) -> Site | None:
        """'cdk_app/x.py:12' -> Site; None for anything else: a line that is not a positive number, or a file
        that is not a plain path inside the repository (absolute, with '..', a control character), which a map
        from elsewhere could hold and no report may then point at."""
        file, _, line = text.rpartition(":")
        parts = file.split("/")
        if not (line.isascii() and line.isdigit() and len(line) <= 7 and 1 <= int(line) <= MAX_LINE
                and file.isprintable() and "\\" not in file):
            return None
        if file.startswith("/") or any(part in ("", ".", "..") for part in parts) or ":" in parts[0]:
            return None
        return cls(file, int(line))


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


def site_of(cdk_path: str | None, sites: Mapping[str, str]) -> Site | None:
    """(file, line) of the construct that declares the resource at `cdk_path` (aws:cdk:path, with the stack's
    name first): its longest recorded prefix below the stack."""
    if not cdk_path or not sites:
        return None
    parts = cdk_path.split("/")[1:]
    for end in range(len(parts), -1, -1):
        site = sites.get("/".join(parts[:end]))
        if site:
            return Site.parse(site)
    return None


def cdk_paths(template: Any) -> dict[str, str]:
    """Logical id -> aws:cdk:path for every resource of a template that carries one (CDK writes it unless the
    app was deployed with --no-path-metadata)."""
    resources = template.get("Resources") if isinstance(template, Mapping) else None
    out: dict[str, str] = {}
    for lid, resource in (resources if isinstance(resources, Mapping) else {}).items():
        metadata = resource.get("Metadata") if isinstance(resource, Mapping) else None
        path = metadata.get("aws:cdk:path") if isinstance(metadata, Mapping) else None
        if isinstance(lid, str) and isinstance(path, str):
            out[lid] = path
    return out


def resource_sites(template: Any, sites: Mapping[str, str]) -> dict[str, Site]:
    """Logical id -> (file, line) for every resource of a template that carries its aws:cdk:path."""
    return {lid: found for lid, path in cdk_paths(template).items() if (found := site_of(path, sites))}


def find(start: str | Path) -> Path | None:
    """The committed source map of the CDK app's checkout that `start` is in (or below): the nearest directory
    from `start` upwards holding cdk.json and cdk_app/source_map.json."""
    here = Path(start).resolve()
    for directory in (here, *here.parents):
        candidate = directory / COMMITTED_PATH
        if (directory / APP_FILE).is_file() and candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class SourceMap:
    """The source map a run locates its findings with, and where it was read from; without one (`sites`
    empty), `missing` says why, for the warning that replaces a made-up location."""

    sites: Mapping[str, str] = field(default_factory=dict)
    origin: str | None = None  # the file it was read from
    missing: str = ""

    @classmethod
    def discover(cls, start: str | Path) -> SourceMap:
        """The checkout's committed map (see `find`), or none with why."""
        try:
            path = find(start)
        except OSError as exc:  # a working directory that was removed, a folder above it that cannot be read
            where = "the working directory" if str(start) == "." else str(start)
            return cls(missing=f"no source map: {where} cannot be searched ({exc.strerror or exc})")
        if path is None:
            return cls(missing=f"no source map: {Path(start).resolve()} is not in the CDK app's checkout (no "
                               f"{APP_FILE} with {COMMITTED_PATH} here or above); run from the checkout or pass "
                               "--source-map")
        sites = load(path)
        return cls(sites, str(path)) if sites else cls(missing=f"{path} is not a readable {SCHEMA} document")


@dataclass(frozen=True)
class Located:
    """Where in the app's Python each resource of one template is declared (logical id -> Site), the stack's own
    line, and why nothing could be located when that is so ("" when the map applies)."""

    sites: Mapping[str, Site]
    stack: Site | None
    why_not: str
    origin: str | None = None

    def missing(self, logical_ids: Iterable[str]) -> list[str]:
        """The logical ids of declared resources this cannot place, sorted."""
        return sorted({lid for lid in logical_ids if lid not in self.sites})

    def warning(self, logical_ids: Iterable[str], count: int | None = None) -> str | None:
        """One sentence for stderr when a declared resource among `logical_ids` has no line (None otherwise):
        `count` findings are about them."""
        missing = self.missing(logical_ids)
        if not missing:
            return None
        about = f"{count} finding(s) on " if count is not None else ""
        if self.why_not:
            return f"no file:line for {about}{len(missing)} declared resource(s): {self.why_not}"
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        origin = f" {self.origin}" if self.origin else ""
        return (f"no file:line for {about}{len(missing)} declared resource(s) not in the source map{origin} "
                f"({shown}): the map and the deployed template come from different versions of the app")


def locate(template: Any, source: SourceMap | None, stack_name: str | None = None) -> Located:
    """Logical id -> Site for `template` (a deployed or synthesized one, with CDK's aws:cdk:path metadata)."""
    source = source or SourceMap(missing="no source map was given")
    if not source.sites:
        return Located({}, None, source.missing or "the source map is empty", source.origin)
    stack = site_of(stack_name, source.sites) if stack_name else None
    if not isinstance(template, Mapping) or not isinstance(template.get("Resources"), Mapping):
        return Located({}, stack, "no template was read, so no logical id can be traced to its construct",
                       source.origin)
    paths = cdk_paths(template)
    if not paths:
        return Located({}, stack, "the template carries no aws:cdk:path metadata (deployed with "
                                  "--no-path-metadata?), so no logical id can be traced to its construct",
                       source.origin)
    return Located({lid: found for lid, path in paths.items() if (found := site_of(path, source.sites))}, stack,
                   "", source.origin)
