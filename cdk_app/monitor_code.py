"""The posture monitor's code, built offline and cached: its sources (opscli/, platform_spec/ and platform_utils/)
as the function's asset, its runtime dependencies as a layer made from the installed distributions that
requirements.lock pins, and the read policy its own `opscli iam-policy` prints for the stack it watches.

Nothing here downloads or installs: synthesis stays offline. The sources are staged once per change of their
content, the layer once per change of the lock, the policy once per change of the sources and suffix (under
.cache/monitor/), so a synthesis of unchanged inputs only hashes the sources (a few milliseconds).

The function's asset is identified by our digest of the staged files (`sources_hash`, given to CDK as a custom
asset hash), not by CDK's own fingerprint: the assembly cache can then name the asset of any sources without a
synthesis, and swap the staged code of a cached assembly for other code (cdk_app/assembly_cache.py) when only the
code changed, not what it declares.

The layer is made from the installed distributions rather than by `pip install` at synthesis: that needs a network
and costs tens of seconds per synthesis. Every dependency is pure Python, so the files installed for this
interpreter run unchanged on Lambda's Python runtime; their versions are checked against requirements.lock, and a
difference stops synthesis with what to run.

Standard library, platform_spec and cdk_app.source_tree only: cdk_app may not import opscli
(tests/unit/test_architecture.py), so the policy comes from the staged code's own command, run as a process, as a
build step reads what the package it packs declares.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

from cdk_app import source_tree
from platform_spec.exit_codes import EXIT_OK

ROOT = Path(__file__).resolve().parents[1]
SOURCE_PACKAGES = ("opscli", "platform_spec", "platform_utils")
LOCK_FILE = "requirements.lock"
# What `opscli` needs at run time (pyproject's dependencies click, rich and boto3) and what they need, in the
# lock's names. tests/unit/test_monitor_code.py proves the set closed under the installed distributions' requirements.
RUNTIME_DISTRIBUTIONS = ("boto3", "botocore", "click", "jmespath", "markdown-it-py", "mdurl", "pygments",
                         "python-dateutil", "rich", "s3transfer", "six", "urllib3")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same files make the same archive, so the asset hash is stable
POLICY_TIMEOUT = 120
# What the function's asset leaves out of the staged directory: what `_source_files` leaves out (one definition,
# cdk_app/source_tree.py), so the asset holds exactly the files its hash covers (a staged directory made before
# byte code was kept out of it may hold some).
ASSET_EXCLUDE = source_tree.exclude_globs()


class MonitorCodeError(RuntimeError):
    """The monitor's code, layer or policy could not be built; the message says what to do."""


def cache_dir(root: Path = ROOT) -> Path:
    return root / ".cache" / "monitor"


def _source_files(root: Path) -> Iterator[Path]:
    for package in SOURCE_PACKAGES:
        # A link is not staged: the asset would hold what it points at, wherever that is.
        yield from (path for path in source_tree.walk(root / package) if not path.is_symlink())


def staged_files(root: Path) -> list[Path]:
    """The files of the monitor's sources below `root` (a checkout, or a staged directory), in a fixed order."""
    return list(_source_files(root))


def holds_only_sources(directory: Path) -> bool:
    """True when `directory` holds the monitor's sources and nothing else (no other file, no link)."""
    every = sorted(p for p in directory.rglob("*") if p.is_symlink() or not p.is_dir())
    return every == sorted(staged_files(directory))


def sources_hash(root: Path = ROOT) -> str:
    """The digest of the monitor's sources below `root`: their paths (relative to `root`) and contents. The same
    for a checkout and for the directory staged from it; the function's asset hash is made from it."""
    digest = hashlib.sha256()
    for path in _source_files(root):
        data = path.read_bytes()
        digest.update(f"{path.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:32]


def asset_hash(digest: str) -> str:
    """The asset hash CDK gives an asset whose custom hash is `digest` (AssetOptions.assetHash: "this custom
    hash will be SHA256 hashed and encoded as hex"): the name of its directory in the assembly (asset.<hash>) and
    of its object in the asset bucket."""
    return hashlib.sha256(digest.encode()).hexdigest()


def copy_sources(root: Path, target: Path) -> None:
    """Copy the monitor's sources below `root` to `target` (created), as `staged_code` stages them."""
    for path in _source_files(root):
        destination = target / path.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        # a new file: whatever is at `destination` already (a link out of `target`) is an error, not written
        with path.open("rb") as reader, destination.open("xb") as writer:
            shutil.copyfileobj(reader, writer)


def _publish(work: Path, final: Path) -> Path:
    """Move the finished `work` into place; a concurrent build that got there first wins (same content)."""
    try:
        work.rename(final)
    except OSError:
        if not final.exists():
            raise
        shutil.rmtree(work, ignore_errors=True) if work.is_dir() else work.unlink(missing_ok=True)
    return final


def staged_code(root: Path = ROOT) -> Path:
    """A directory holding only the monitor's sources (SOURCE_PACKAGES), made once per content."""
    base = cache_dir(root) / "code"
    final = base / sources_hash(root)
    if (final / SOURCE_PACKAGES[0]).is_dir():
        if holds_only_sources(final):
            return final
        # Something wrote beside the sources (byte code of an older stager, or of a Python run from it): the asset
        # and a restage take the sources alone, so this directory is moved out of its name and staged again.
        stale = base / f"tmp-stale-{final.name}-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):  # another process moved it first
            final.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tmp-", dir=base))
    copy_sources(root, work)
    return _publish(work, final)


def read_policy(code: Path, suffix: str) -> list[dict]:
    """The managed policy documents `opscli iam-policy --suffix <suffix>` of the staged `code` prints: the reads
    its readers declare, scoped to TapStack<suffix>. Kept beside the code, so it runs once per code and suffix."""
    if not re.fullmatch(r"[a-z0-9-]+", suffix):
        raise MonitorCodeError(f"suffix {suffix!r} is not an environment suffix")
    kept = code.parent.parent / "policies" / code.name / f"{suffix}.json"
    if kept.is_file():
        return json.loads(kept.read_text())
    kept.parent.mkdir(parents=True, exist_ok=True)
    # One run per code and suffix when several processes ask at once (the test workers' assembly cache keys).
    with open(kept.with_name(f".{kept.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if kept.is_file():
            return json.loads(kept.read_text())
        return _run_policy(code, suffix, kept)


def _run_policy(code: Path, suffix: str, kept: Path) -> list[dict]:
    """Run `opscli iam-policy` of the staged `code`, check its answer and keep it at `kept`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OPSCLI_", "COVERAGE_"))}
    # No byte code in the staged directory: it is the function's asset, and Lambda compiles for its own Python.
    env.update(PYTHONPATH=str(code), PYTHONDONTWRITEBYTECODE="1")
    try:
        done = subprocess.run([sys.executable, "-m", "opscli", "iam-policy", "--suffix", suffix,
                               "--format", "managed"], cwd=code, env=env, capture_output=True, text=True,
                              timeout=POLICY_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MonitorCodeError(f"opscli iam-policy could not run: {exc}") from None
    try:
        documents = json.loads(done.stdout) if done.returncode == EXIT_OK else None
    except json.JSONDecodeError:
        documents = None
    if not (isinstance(documents, list) and documents and all(isinstance(d, dict) and d.get("Statement")
                                                              for d in documents)):
        raise MonitorCodeError(f"opscli iam-policy exited {done.returncode} without a policy: "
                               f"{done.stderr.strip()[-1000:]}")
    # Returned as kept (keys sorted): the documents go into TapMonitor's template as they are, so the synthesis
    # that ran the command writes what one that read them kept writes.
    text = json.dumps(documents, indent=1, sort_keys=True) + "\n"
    work = kept.with_name(f".{kept.name}.{os.getpid()}")
    work.write_text(text)
    os.replace(work, kept)
    return json.loads(text)


def locked_versions(lock: Path) -> dict[str, str]:
    """name -> version for every `name==version` line of a pip-compile style lock (names normalized)."""
    found = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", line)
        if match:
            found[normalize(match.group(1))] = match.group(2)
    return found


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _distribution_files(name: str) -> Iterable[tuple[str, Path]]:
    """(path inside the layer's python/, file on disk) for every installed file of distribution `name` that
    lives in site-packages (scripts in bin/ and byte code left out)."""
    dist = metadata.distribution(name)
    for entry in dist.files or ():
        relative = entry.as_posix()
        byte_code = "__pycache__" in entry.parts or relative.endswith(source_tree.BYTE_CODE_SUFFIXES)
        about_the_install = entry.parent.name.endswith(".dist-info") and entry.name in _INSTALLERS_FILES
        if relative.startswith("..") or byte_code or about_the_install:
            continue
        path = Path(str(dist.locate_file(entry)))
        if path.is_file():
            yield relative, path


#: What a layer holds beside the pinned versions, in its cache name: a change of it builds every layer again.
#: 2: each RECORD lists the layer's files only. 3: without what the installer wrote of itself (_INSTALLERS_FILES).
_LAYER_LAYOUT = 3
#: A distribution's files that say how it was installed, not what it is (uv or pip, asked for or pulled in, from
#: where): the same lock would make another layer in an environment another tool installed.
_INSTALLERS_FILES = frozenset({"INSTALLER", "REQUESTED", "direct_url.json"})


def _record_of(data: bytes, files: Iterable[str]) -> bytes:
    """A distribution's RECORD as the layer holds it: the rows of the files the layer has. The installed one also
    lists its scripts in the environment's bin/, whose hashes are of their first line, the environment's own
    interpreter: the same lock made another layer (and another asset hash) in every checkout."""
    kept = set(files)
    rows = [row for row in csv.reader(data.decode("utf-8").splitlines()) if row and row[0] in kept]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def layer_zip(root: Path = ROOT, distributions: Iterable[str] = RUNTIME_DISTRIBUTIONS) -> Path:
    """The dependencies' layer (python/<package files>), made once per lock from the installed distributions,
    each checked to be the version the lock pins."""
    lock = root / LOCK_FILE
    if not lock.is_file():
        raise MonitorCodeError(f"{lock} is missing: the monitor's layer is built from the lock")
    pins = locked_versions(lock)
    wanted = sorted(normalize(d) for d in distributions)
    digest = hashlib.sha256(json.dumps({"layout": _LAYER_LAYOUT, **{d: pins.get(d) for d in wanted}},
                                       sort_keys=True).encode())
    final = cache_dir(root) / "layers" / f"{digest.hexdigest()[:32]}.zip"
    if final.is_file():
        return final
    wrong = []
    for name in wanted:
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if pins.get(name) is None or installed != pins[name]:
            wrong.append(f"{name} {installed or 'not installed'} (lock: {pins.get(name) or 'not pinned'})")
    if wrong:
        raise MonitorCodeError("the monitor's layer needs the locked runtime dependencies installed: "
                               f"{', '.join(wrong)}; run scripts/setup.sh")
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="tmp-", suffix=".zip", dir=final.parent)
    os.close(handle)
    work = Path(name)
    held = {d: dict(_distribution_files(d)) for d in wanted}
    entries = sorted((f"python/{relative}", path, d) for d, files in held.items() for relative, path in files.items())
    with zipfile.ZipFile(work, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for arcname, path, d in entries:
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            if arcname.endswith(".dist-info/RECORD"):
                data = _record_of(data, held[d])
            archive.writestr(info, data)
    return _publish(work, final)
