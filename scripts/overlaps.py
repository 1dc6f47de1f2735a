"""Which files of an installed distribution another installed distribution overwrote.

Two locked distributions install `aws_cdk/cloud_assembly_schema/__init__.py`: aws-cdk-lib and its dependency
aws-cdk-cloud-assembly-schema. pip installs a dependency before what depends on it, so aws-cdk-lib's file stays;
uv installs wheels in parallel, and either may be written last. With the dependency's file, every in-process
synthesis fails ("Unknown interface: aws-cdk-lib.cloud_assembly_schema.MetadataEntry"): a fresh clone's suite
failed so once. scripts/setup.sh installs aws-cdk-lib again, alone, when this says its file lost.

    python scripts/overlaps.py DISTRIBUTION OTHER...   exit 0: each file of DISTRIBUTION that an OTHER also
                                                       installs is DISTRIBUTION's (its RECORD's hash); 1: some
                                                       are not (listed); 2: one of them is not installed
"""

from __future__ import annotations

import base64
import csv
import hashlib
import sys
from importlib import metadata
from pathlib import Path

# The checkout's exit codes: set-up runs this before the checkout is installed into the environment.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE


def _hashes(dist: metadata.Distribution) -> dict[str, str]:
    """path -> RECORD hash ("sha256=<urlsafe base64>") of the files `dist` lists with a hash."""
    text = dist.read_text("RECORD") or ""
    return {row[0]: row[1] for row in csv.reader(text.splitlines()) if len(row) >= 2 and row[1]}


def lost(name: str, others: list[str]) -> list[str]:
    """The files of distribution `name` that one of `others` also lists and whose content on disk is not `name`'s
    (by its RECORD's sha256). Raises PackageNotFoundError when one of them is not installed."""
    dist = metadata.distribution(name)
    own = _hashes(dist)
    shared: set[str] = set()
    for other in others:
        shared |= own.keys() & {str(entry) for entry in metadata.distribution(other).files or ()}
    found = []
    for path in sorted(shared):
        algorithm, _, expected = own[path].partition("=")
        if algorithm != "sha256":
            continue
        try:
            data = Path(str(dist.locate_file(path))).read_bytes()
        except OSError:
            found.append(path)
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        if digest != expected:
            found.append(path)
    return found


def main(argv: list[str] | None = None) -> int:
    name, *others = sys.argv[1:] if argv is None else argv
    try:
        found = lost(name, others)
    except metadata.PackageNotFoundError as exc:
        print(f"overlaps: {exc.args[0] if exc.args else exc} is not installed", file=sys.stderr)
        return EXIT_USAGE
    for path in found:
        print(f"overlaps: {path} is not {name}'s (another distribution wrote it last)", file=sys.stderr)
    return EXIT_FINDINGS if found else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
