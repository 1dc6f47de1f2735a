"""Benchmark: installing opscli alone (dist/streamtech-opscli) into a fresh virtual environment as the README
says — its dependencies from requirements-opscli.lock (hashes required), then opscli itself without resolving
anything — time, size (as `du` counts it: blocks on disk, and the files' own bytes), what lands in site-packages,
and that the installed command runs.

    python bench/opscli_install.py [--runs 3]

Needs the package registry (pip downloads the dependencies and the build backend, hatchling).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # our packages, for a script run by path

from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_OK

ROOT = Path(__file__).resolve().parents[1]


def size_mb(path: Path) -> float:
    """The bytes of the files under `path`, in MB."""
    return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def du_mib(path: Path) -> float:
    """What `du -sh` counts under `path` (blocks on disk, each file and directory once), in MiB as it prints."""
    return sum(f.lstat().st_blocks * 512 for f in (path, *path.rglob("*"))) / 2**20


def one_run(work: Path) -> dict:
    venv = work / "venv"
    # A plain venv of the machine's Python with its own pip: what a user without this repository's set-up has.
    python = shutil.which("python3") or sys.executable
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    before, venv_before = size_mb(site), du_mib(venv)
    pip = [str(venv / "bin" / "pip"), "install", "-q", "--no-cache-dir", "--disable-pip-version-check"]
    start = time.perf_counter()
    subprocess.run([*pip, "--require-hashes", "-r", str(ROOT / "requirements-opscli.lock")], check=True,
                   capture_output=True)
    subprocess.run([*pip, "--no-deps", str(ROOT / "dist" / "streamtech-opscli")], check=True, capture_output=True)
    seconds = time.perf_counter() - start
    version = subprocess.run([str(venv / "bin" / "opscli"), "--version"], check=True, capture_output=True,
                             text=True).stdout.strip()
    ignore = {"__pycache__", "pip", "setuptools", "pkg_resources", "_distutils_hack"}
    top = sorted(p.name for p in site.iterdir() if not p.name.endswith((".dist-info", ".pth")) and p.name not in ignore)
    return {"seconds": round(seconds, 1), "installed_mb": round(size_mb(site) - before, 1),
            "installed_du_mib": round(du_mib(venv) - venv_before, 1), "empty_venv_du_mib": round(venv_before, 1),
            "venv_du_mib": round(du_mib(venv), 1), "top_level": top,
            "cdk": any(name.startswith(("aws_cdk", "jsii")) for name in top), "version": version}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        work = Path(tempfile.mkdtemp(prefix="opscli-install-"))
        try:
            runs.append(one_run(work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    last = runs[-1]
    times = ", ".join(str(r["seconds"]) for r in runs)
    print(f"locked install of opscli alone into a fresh venv (no pip cache): "
          f"{statistics.median(r['seconds'] for r in runs):.1f} s median ({times}); "
          f"du -sh of the venv {last['venv_du_mib']} MiB (empty: {last['empty_venv_du_mib']}), of which the install "
          f"{last['installed_du_mib']} MiB ({last['installed_mb']} MB of file contents); "
          f"aws-cdk-lib/jsii: {'yes' if last['cdk'] else 'no'}")
    print(f"top-level in site-packages: {', '.join(last['top_level'])}")
    print(f"installed command: {last['version']}")
    print(json.dumps({"benchmark": "opscli_install", "runs": runs}))
    return EXIT_FINDINGS if last["cdk"] else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
