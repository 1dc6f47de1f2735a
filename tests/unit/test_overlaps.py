"""scripts/overlaps.py: a file two installed distributions both list is found when its content is not the named
distribution's (the other's written last, as uv's parallel installs may leave aws-cdk-lib's
aws_cdk/cloud_assembly_schema/__init__.py), and set-up installs the named one again then."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "overlaps.py"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _dist(site: Path, name: str, files: dict[str, bytes]) -> None:
    """An installed distribution `name` 1.0 in `site`: its RECORD lists `files` with their hashes."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    rows = [f"{path},{_record_hash(data)},{len(data)}" for path, data in files.items()]
    (info / "RECORD").write_text("\n".join([*rows, f"{info.name}/RECORD,,"]) + "\n")


def _run(site: Path, *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-S", str(SCRIPT), *names], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(site)})  # -S: only `site`'s distributions (the checkout's own path
    # is the script's to add)


@pytest.mark.parametrize("last", ["lib", "schema"])
def test_a_shared_file_written_last_by_the_other_distribution_is_found(last, tmp_path):
    site = tmp_path / "site"
    ours, theirs = b"from .._jsii import *\n", b"from ._jsii import *\n"
    shared = "pkg/schema/__init__.py"
    _dist(site, "lib", {shared: ours, "pkg/lib.py": b"x = 1\n"})
    _dist(site, "schema", {shared: theirs, "pkg/schema/_jsii/__init__.py": b""})
    (site / "pkg" / "schema").mkdir(parents=True)
    (site / "pkg" / "schema" / "__init__.py").write_bytes(ours if last == "lib" else theirs)
    (site / "pkg" / "lib.py").write_bytes(b"edited: not shared, not judged\n")
    done = _run(site, "lib", "schema")
    if last == "lib":
        assert done.returncode == 0 and done.stderr == "", done.stderr
    else:
        assert done.returncode == 1 and f"overlaps: {shared} is not lib's" in done.stderr, done.stderr


def test_a_distribution_not_installed_is_exit_2(tmp_path):
    _dist(tmp_path / "site", "lib", {})
    done = _run(tmp_path / "site", "lib", "nowhere")
    assert done.returncode == 2 and "nowhere is not installed" in done.stderr


def test_this_environment_has_aws_cdk_libs_own_file():
    """The suite's own environment, as set-up leaves it: the shared file is aws-cdk-lib's."""
    done = subprocess.run([sys.executable, str(SCRIPT), "aws-cdk-lib", "aws-cdk-cloud-assembly-schema"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
