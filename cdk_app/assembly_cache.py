"""A content-addressed cache of synthesized cloud assemblies: synthesize once per change of the inputs.

The key is a hash of everything that can change the assembly: the sources synthesis runs (cdk_app/ and every
module of ours it imports, found by reading the import statements, with the data files beside them), the
sources it stages as images (services/, platform_spec/ and platform_utils/, the image assets' build context, and
.dockerignore), what the posture monitor's code declares (the read policy its `opscli iam-policy` prints for the
suffix, which its role holds), cdk.json, cdk.context.json, the context given on the command line, the versions of
the installed CDK libraries and Python, the pinned CDK CLI (package-lock.json) and the lock the monitor's layer is
made from. A change to code synthesis never imports (the gate) keeps the cache.

The monitor's code itself (opscli/, platform_spec/ and platform_utils/, staged as its function's asset) is not in
the key: an entry is stored as <key>-<digest of that code>. The asset is named by that digest (a custom asset hash:
cdk_app/monitor_code.py), so when only the code changed, not what it declares, the assembly of another digest
under the same key is restaged instead of synthesized: copied, with the new code as the asset's directory and the
old asset hash, and the hash of every template that named it, replaced by the new ones wherever they occur. A
restage that cannot be checked at every step (the old asset directory is the old code, the old hash occurs in
the JSON files only and nowhere after, each template's asset entry is the hash of its new text) is not used: the
cache synthesizes. tests/unit/test_assembly_cache.py proves a restage equal, byte for byte, to a synthesis.

A miss runs the real `cdk synth` (the CDK CLI, as a user would) into a temporary directory, and only a
clean synthesis is stored: a synthesis with guardrail or cdk-nag findings raises SynthesisFailed with the CLI's
output, every time. It runs with `--no-validation`, without CDK's built-in template check (its CloudFormation
Validate plugin): that check runs cfn-lint's schema rules, which the policy gate's cfn-lint runs over the same
templates, so they run once. A plain `cdk synth` or `cdk deploy` keeps it. Concurrent callers (pytest-xdist
workers, the gate and a benchmark) wait on a per-key lock, so one synthesizes and the others read its result.
Beyond the KEEP most recently used entries, and of those unused for IN_USE (an hour: a test session of another
checkout may be reading one), a prune deletes an entry only under its key's lock, taken without
waiting: an entry being served, restaged from or stored (the lock held), or served since the prune looked, stays.
A key's lock file (<key>.lock) goes with the key's last entry, deleted under the lock: a caller that locked the
deleted file sees that the name is not its file any more and locks the one there now. Anything but a regular file
at a lock's name (a FIFO, a directory, a link) is refused with an error that says so (exit 3), never waited on.

An entry is served (or restaged from) only when it is what the cache stored: beside each entry, <name>.seal
records every file, directory and link the cache put there, with each file's size and modification time. An entry
edited after the fact (by a tool, a test handed the entry, a hard link written elsewhere), one made by hand, a
link in place of the entry or of one of its files, or one stored before seals: not whole, synthesized again. The
seal tells an accident from the stored entry; it is no defence against someone who forges the seal too, and needs
none: the cache lies in the user's own directories, as their checkouts do, whose code such a person could edit.

    python -m cdk_app.assembly_cache --suffix dev [--cdk-out cdk.out]      # prints the assembly directory

--cdk-out copies the assembly over what is there, replacing files and links; anything else in the way (a directory
where the assembly has a file, a file or a FIFO where it has a directory) is not its to delete. Exit codes (see
platform_spec/exit_codes.py): 0 done; 1 the app's (a guardrail or cdk-nag finding); 2 the app's (a bad context
value), or --cdk-out empty or in the way (nothing copied); 3 synthesis could not run (the CLI missing, a lock
that is not a file), or the copy into --cdk-out failed once begun.

Standard library (and platform_spec, platform_utils) only: importable (and fast) without aws-cdk-lib.
"""

from __future__ import annotations

import argparse
import ast
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from cdk_app import monitor_code, source_tree
from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE
from platform_utils import files as platform_files

ROOT = Path(__file__).resolve().parents[1]
# What synthesis runs (with what it imports) and stages, relative to the repository root.
APP_PACKAGE = "cdk_app"
# The image assets stage services/, platform_spec/ and platform_utils/ (the build context .dockerignore leaves). The
# posture monitor's function stages opscli/ too: that code is the entry's digest, what it declares is in the key
# (`declared`), its layer is what the lock pins.
STAGED_DIRS = ("services", "platform_spec", "platform_utils")
SOURCE_FILES = ("cdk.json", "cdk.context.json", "package-lock.json", ".dockerignore", "requirements.lock")
LIBRARIES = ("aws-cdk-lib", "constructs", "cdk-nag", "jsii", "aws-cdk.asset-awscli-v1",
             "aws-cdk.asset-node-proxy-agent-v6", "aws-cdk.cloud-assembly-schema")
# Files beside the app that are made from a synthesis and never read by one (refreshing one keeps the key).
OUTPUTS = frozenset({"cdk_app/source_map.json"})
KEEP = 12  # assemblies kept; older ones are pruned after each store
# An entry used within this many seconds is kept beyond KEEP: the cache is every checkout's, and a test session of
# one reads the directory it was handed for minutes, without the key's lock, while others store entries of theirs.
IN_USE = 3600
ENV_CACHE_DIR = "STREAMTECH_ASSEMBLY_CACHE"


class SynthesisFailed(RuntimeError):
    """`cdk synth` exited non-zero; `output` holds its stderr (guardrail and cdk-nag lines)."""

    def __init__(self, message: str, *, exit_code: int, output: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.output = output

    @property
    def command_exit(self) -> int:
        """What a command that needed the synthesis exits with: the app's own codes say what was wrong (findings,
        a usage error); anything else (node killed by a signal, the CLI missing, the cache unusable) could not
        run."""
        return self.exit_code if self.exit_code in (EXIT_FINDINGS, EXIT_USAGE) else EXIT_INCOMPLETE

    def report(self) -> int:
        """The CLI's output and the failure's one line on stderr, as a command that needed the synthesis says it;
        the command's exit (`command_exit`)."""
        sys.stderr.write(self.output)
        print(f"error: {self}", file=sys.stderr)
        return self.command_exit


@dataclass(frozen=True)
class Assembly:
    directory: Path
    key: str
    hit: bool  # True: read from the cache (or restaged from it); False: synthesized by this call
    seconds: float
    restaged: bool = False  # True: another code's assembly of the same key, with this code staged in it

    def template_path(self, stack_name: str) -> Path:
        return self.directory / f"{stack_name}.template.json"

    def template(self, stack_name: str) -> dict:
        return json.loads(self.template_path(stack_name).read_text())

    def manifest(self) -> dict:
        return json.loads((self.directory / "manifest.json").read_text())


def default_cache_dir(root: Path = ROOT) -> Path:
    """Where assemblies are kept: the directory STREAMTECH_ASSEMBLY_CACHE names; else the user's cache directory
    ($XDG_CACHE_HOME, else ~/.cache), streamtech-platform/assemblies, shared by every checkout of the user, as uv's
    and npm's caches are: an entry is named by the hash of every input of its synthesis, and holds nothing of the
    checkout's place that the key does not (`checkout_name`), so a fresh clone of code another checkout
    synthesized reads it instead of synthesizing; else, with no absolute home to keep it in, the checkout's
    .cache/assemblies. A relative STREAMTECH_ASSEMBLY_CACHE is refused (SynthesisFailed): it would name a
    different directory from each working directory, as XDG's rule says of a relative XDG_CACHE_HOME; an empty one
    names none, as an empty XDG_CACHE_HOME."""
    named = os.environ.get(ENV_CACHE_DIR)
    if named and not os.path.isabs(named):
        tilde = " (~ is not expanded)" if named.startswith("~") else ""
        raise SynthesisFailed(f"{ENV_CACHE_DIR} names a relative path{tilde}, a different directory from each "
                              "working directory: name the cache's directory by its absolute path",
                              exit_code=EXIT_INCOMPLETE, output="")
    if named:
        return Path(named)
    return platform_files.user_cache("assemblies") or root / ".cache" / "assemblies"


def _module_file(root: Path, dotted: str) -> Path | None:
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


# CPython 3.11 before 3.11.8 keeps the AST builder's recursion depth in shared state: two threads parsing at
# once fail with "SystemError: AST constructor recursion depth mismatch" (gh-106905). Parse one at a time.
_PARSE_LOCK = threading.Lock()


def _imported_modules(path: Path, root: Path) -> frozenset[str]:
    """Dotted names of the modules `path` imports (absolute and relative), with their parent packages."""
    return _imports_in(path.relative_to(root).parts, path.read_bytes())


@functools.lru_cache(maxsize=4096)
def _imports_in(parts: tuple[str, ...], source: bytes) -> frozenset[str]:
    """The imports of the module at `parts` (its path below the root) whose text is `source`: remembered per
    path and text, so a process that computes the key again parses only what changed."""
    package = ".".join(Path(*parts).with_suffix("").parts)
    if parts[-1] != "__init__.py":
        package = package.rpartition(".")[0]
    with _PARSE_LOCK:
        tree = ast.parse(source, filename="/".join(parts))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    expanded: set[str] = set()
    for name in names:
        parts_of = name.split(".")
        expanded.update(".".join(parts_of[:i]) for i in range(1, len(parts_of) + 1))
    return frozenset(expanded)


def _import_closure(root: Path, package: str) -> set[Path]:
    """Every source file of `package` and of the repository's modules it imports, transitively."""
    todo = [p for p in source_tree.walk(root / package) if p.suffix == ".py"]
    seen: set[Path] = set()
    located: dict[str, Path | None] = {}  # a name many modules import (typing, aws_cdk) is looked up once
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imported_modules(path, root):
            if name not in located:
                located[name] = _module_file(root, name)
            found = located[name]
            if found is not None and found not in seen:
                todo.append(found)
    return seen


def _source_files(root: Path) -> list[Path]:
    modules = _import_closure(root, APP_PACKAGE)
    # Data files beside the modules (JSON, SQL, …): code may read them at synthesis.
    data = {p for d in {m.parent for m in modules} for p in d.iterdir() if p.is_file() and p.suffix != ".py"
            and not source_tree.ignored(p.name) and p.relative_to(root).as_posix() not in OUTPUTS}
    staged = {p for name in STAGED_DIRS for p in source_tree.walk(root / name)}
    files = {root / name for name in SOURCE_FILES if (root / name).is_file()}
    return sorted(modules | data | staged | files)


def library_versions() -> dict[str, str]:
    versions = {"python": ".".join(map(str, sys.version_info[:3]))}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def declared(context: Mapping[str, str], root: Path) -> bytes:
    """What the monitor's code declares that synthesis puts into the templates: the read policy documents its
    `opscli iam-policy --suffix <suffix>` prints (its role holds them). When they cannot be had (no suffix on the
    command line, code that cannot print them), the code's own digest: every change of it then synthesizes, and
    the synthesis says what is wrong."""
    suffix = context.get("environmentSuffix")
    if suffix:
        try:
            policy = monitor_code.read_policy(monitor_code.staged_code(root), suffix)
        except (monitor_code.MonitorCodeError, OSError, ValueError):
            pass
        else:
            return b"policy\0" + json.dumps(policy, sort_keys=True).encode()
    return b"code\0" + monitor_code.sources_hash(root).encode()


def checkout_name(root: Path) -> str:
    """What of the checkout's place a synthesis writes: the images' build context is the checkout, and CDK names a
    staged asset's directory `asset.<hash><the source's extension>` (Node's path.extname: a checkout named
    "tmp.Ab12" stages "asset.<hash>.Ab12"). A name with a dot anywhere, whole (a superset of Node's rule); else
    nothing, so checkouts named without one share the user's cache."""
    name = root.resolve().name
    return name if "." in name else ""


def cache_key(context: Mapping[str, str], *, root: Path = ROOT, versions: Mapping[str, str] | None = None,
              declarations: Callable[[Mapping[str, str], Path], bytes] | None = None) -> str:
    """The hash of every input of a synthesis with the command-line `context` (e.g. environmentSuffix), the
    monitor's code counted by what it declares (`declarations`), and the checkout's directory name when it holds a
    dot (`checkout_name`)."""
    digest = hashlib.sha256()

    def feed(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    feed("checkout", checkout_name(root).encode())

    for path in _source_files(root):
        feed(path.relative_to(root).as_posix(), path.read_bytes())
    feed("context", json.dumps(dict(context), sort_keys=True).encode())
    feed("declared", (declarations or declared)(context, root))
    feed("versions", json.dumps(dict(versions if versions is not None else library_versions()),
                                 sort_keys=True).encode())
    return digest.hexdigest()[:32]


def cdk_synth(context: Mapping[str, str], outdir: Path, *, root: Path = ROOT) -> None:
    """The real `cdk synth` (the pinned CLI from node_modules, else `cdk` on PATH) into `outdir`, without CDK's
    built-in template check (the gate's cfn-lint runs those rules: see the module's docstring)."""
    local = root / "node_modules" / ".bin" / "cdk"
    cdk = str(local) if local.exists() else shutil.which("cdk")
    if cdk is None:
        raise SynthesisFailed("the CDK CLI was not found: run scripts/setup.sh", exit_code=EXIT_INCOMPLETE,
                              output="")
    args = [cdk, "synth", "--quiet", "--no-notices", "--no-validation", "--output", str(outdir)]
    for key, value in sorted(context.items()):
        args += ["-c", f"{key}={value}"]
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "CDK_DISABLE_CLI_TELEMETRY": "true"}
    proc = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=900, env=env)
    if proc.returncode != 0:
        raise SynthesisFailed(f"cdk synth exited {proc.returncode}", exit_code=proc.returncode, output=proc.stderr)


def _kind(mode: int) -> str:
    """What is at a path, in words (from lstat): a regular file is "a file" beside the assembly's directories."""
    return "a file" if stat.S_ISREG(mode) else platform_files.kind(mode)


def _open_lock(path: Path) -> int:
    """A descriptor of the lock file at `path` (made when missing). Opened read-only, without following a link
    and without waiting (a FIFO opened to write waits for a reader forever); anything there but a regular file is
    refused (SynthesisFailed, saying what is there) and left as it is: the cache did not make it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SynthesisFailed(f"the assembly cache's directory {path.parent} cannot be made ({exc.strerror}): "
                              f"name a directory ({ENV_CACHE_DIR})", exit_code=EXIT_INCOMPLETE, output="") from None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        try:
            found = path.lstat().st_mode
        except OSError:
            found = stat.S_IFREG  # gone meanwhile: the open's own reason says it
        why = (f"cannot be opened ({exc.strerror})" if stat.S_ISREG(found)
               else f"is {_kind(found)}, not a regular file: move it away and run again")
        raise SynthesisFailed(f"the assembly cache's lock {path} {why}", exit_code=EXIT_INCOMPLETE,
                              output="") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise SynthesisFailed(f"the assembly cache's lock {path} is {_kind(mode)}, not a regular file: move it away "
                              "and run again", exit_code=EXIT_INCOMPLETE, output="")
    return fd


def _names(path: Path, fd: int) -> bool:
    """True when `path` names the file open as `fd`."""
    try:
        found, opened = path.lstat(), os.fstat(fd)
    except OSError:
        return False
    return (found.st_dev, found.st_ino) == (opened.st_dev, opened.st_ino)


@contextmanager
def _locked(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold the lock file at `path` (a key's: whoever serves, restages or stores an entry of the key holds it);
    True when held. With `wait=False` a lock another caller holds is not waited for: False.

    A prune deletes a key's lock file while it holds it: a caller that opened the file before and locked it after
    would hold a lock no one else sees, so the lock is held only once the path still names the locked file."""
    while True:
        fd = _open_lock(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            held = False
        except BaseException:
            os.close(fd)
            raise
        if not held or _names(path, fd):
            break
        os.close(fd)  # deleted meanwhile: lock the file now at its name
    try:
        yield held
    finally:
        if held:
            fcntl.flock(fd, fcntl.LOCK_UN)  # for a forked child that shares the descriptor too
        os.close(fd)


@contextmanager
def _taken(path: Path) -> Iterator[bool]:
    """The lock at `path` for a prune: True when taken at once; False when another caller holds it or when it is no
    lock file of the cache's (left as it is: whoever serves its key is told)."""
    with ExitStack() as stack:
        try:
            held = stack.enter_context(_locked(path, wait=False))
        except SynthesisFailed:
            held = False
        yield held


def _without_entry(cache_dir: Path, key: str) -> bool:
    return not any(_ENTRY.fullmatch(p.name) for p in cache_dir.glob(f"{key}-*"))


# What the cache makes in its directory: entries (<key>-<digest of the monitor's code>), their seals, the keys'
# lock files (<key>.lock), and work directories (tempfile.mkdtemp's under WORK_PREFIX, entries moved out of their
# names). A prune deletes those alone: the directory may hold anything else (it may be one
# STREAMTECH_ASSEMBLY_CACHE names), so a work directory's name carries the cache's own prefix, never one a person
# would give a directory ("tmp-projects").
WORK_PREFIX = "streamtech-assembly-tmp-"
_ENTRY = re.compile(r"[0-9a-f]{32}-[0-9a-f]{32}")
_LOCK = re.compile(r"[0-9a-f]{32}\.lock")
_WORK = re.compile(re.escape(WORK_PREFIX)
                   + r"(?:(?:unsealed-)?[a-z0-9_]{8}|pruned-[0-9a-f]{32}-[0-9a-f]{32}-[0-9]+)")
_STALE = 3600  # seconds after which a work directory is a killed one's


def _is_directory(path: Path) -> bool:
    """A directory of its own (not a link to one); False when gone."""
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


def _used(entry: Path) -> int | None:
    """When `entry` was last stored or served (its modification time, in ns); None when it is no directory of
    its own (a link, gone)."""
    try:
        info = entry.lstat()
    except OSError:
        return None
    return info.st_mtime_ns if stat.S_ISDIR(info.st_mode) else None


def _age(path: Path) -> float:
    try:
        return time.time() - path.lstat().st_mtime
    except OSError:
        return 0.0  # gone meanwhile


def _prune(cache_dir: Path, keep: int, *, in_use: float = IN_USE) -> None:
    """Keep the `keep` most recently used assemblies and every one used in the last `in_use` seconds; drop work
    directories of killed syntheses (> 1 h old), the seals they left and the lock files of keys left without an
    entry. Only what the cache makes, and no link is followed."""
    names = sorted(p.name for p in cache_dir.iterdir())
    used = {name: _used(cache_dir / name) for name in names if _ENTRY.fullmatch(name)}
    entries = sorted(((cache_dir / n, t) for n, t in used.items() if t is not None), key=lambda e: e[1],
                     reverse=True)
    recent = time.time_ns() - int(in_use * 1e9)
    for stale, seen in entries[keep:]:
        if seen > recent:
            continue
        # Under the key's lock, not waited for: a caller serving the entry holds it while it checks the entry and
        # refreshes its time. Held: in use, kept. Its time changed since the sort: served meanwhile, kept (its
        # caller was handed this directory).
        key = stale.name.partition("-")[0]
        lock = cache_dir / f"{key}.lock"
        with _taken(lock) as held:
            if not held or _used(stale) != seen:
                continue
            # Out of the entries' names first (one rename), then deleted: an entry is whole or gone, never half
            # deleted (a prune killed midway, or one racing a restage that copies the entry, would otherwise leave
            # an entry with its manifest and without some of its files, served or restaged as if whole).
            doomed = cache_dir / f"{WORK_PREFIX}pruned-{stale.name}-{os.getpid()}"
            try:
                stale.rename(doomed)
            except OSError:
                continue  # pruned meanwhile by another process
            _seal_of(stale).unlink(missing_ok=True)
            if _without_entry(cache_dir, key):
                lock.unlink(missing_ok=True)  # held: a caller that waits on it locks the file made anew
        shutil.rmtree(doomed, ignore_errors=True)
    for name in names:
        path = cache_dir / name
        if _LOCK.fullmatch(name) and _without_entry(cache_dir, name.removesuffix(".lock")):
            # a key with no entry (its synthesis failed, or its entry was pruned before lock files were): under
            # the lock, so never one a synthesis under way holds
            with _taken(path) as held:
                if held and _without_entry(cache_dir, name.removesuffix(".lock")):
                    path.unlink(missing_ok=True)
        elif _WORK.fullmatch(name) and _is_directory(path) and _age(path) > _STALE:
            shutil.rmtree(path, ignore_errors=True)
        elif (name.endswith(".seal") and _ENTRY.fullmatch(name.removesuffix(".seal"))
              and not os.path.lexists(cache_dir / name.removesuffix(".seal")) and _age(path) > _STALE):
            path.unlink(missing_ok=True)  # its entry pruned by a prune killed before it deleted the seal


class NotRestageable(Exception):
    """A cached assembly that cannot be proved to restage into the assembly of other code (the message says
    which check failed): the cache synthesizes instead."""


_DIGEST = re.compile(r"[0-9a-f]{32}")


def _link_or_copy(source: str, target: str) -> None:
    """Hard-link an unchanged file of a cached assembly into the restaged one (the layer alone is ~20 MB); an
    entry is never written in place (a restage writes a file it changes anew), so sharing the inode is safe."""
    try:
        os.link(source, target)
    except OSError:
        _copy_new(Path(source), Path(target))


def _copy_new(source: Path, target: Path) -> None:
    """Copy `source` to `target` as a new file (with its times and mode, as shutil.copy2): if anything is at
    `target` already, a file, a hard link or a symbolic link, FileExistsError, never a write through it."""
    with source.open("rb") as reader, target.open("xb") as writer:
        shutil.copyfileobj(reader, writer)
    shutil.copystat(source, target)


def _write_new(path: Path, data: bytes) -> None:
    """Write `path` as a new file: never through a link a restage shares with the assembly it came from."""
    path.unlink(missing_ok=True)
    with path.open("xb") as writer:  # a link made there meanwhile: FileExistsError, not a write through it
        writer.write(data)


def _same_sources(directory: Path, digest: str) -> None:
    """`directory` holds exactly the monitor's sources whose digest is `digest` (nothing more, no link)."""
    if directory.is_symlink() or not directory.is_dir():
        raise NotRestageable(f"{directory.name} is not a directory")
    if not monitor_code.holds_only_sources(directory):
        raise NotRestageable(f"{directory.name} holds files that are not the monitor's sources")
    if monitor_code.sources_hash(directory) != digest:
        raise NotRestageable(f"{directory.name} is not the code of digest {digest}")


def restage(source: Path, work: Path, *, code: Path, digest: str) -> None:
    """Write into `work` the assembly `source` (an entry <key>-<its digest>) with the monitor's `code` (whose
    digest is `digest`) staged in place of its own, checking every step; NotRestageable when one fails."""
    old_digest = source.name.rpartition("-")[2]
    if not _DIGEST.fullmatch(old_digest) or not _DIGEST.fullmatch(digest) or old_digest == digest:
        raise NotRestageable(f"{source.name} has no digest to restage from")
    old_asset, new_asset = monitor_code.asset_hash(old_digest), monitor_code.asset_hash(digest)
    old_dir = f"asset.{old_asset}"
    _same_sources(source / old_dir, old_digest)
    if os.path.lexists(source / f"asset.{new_asset}"):
        # no synthesis of the old code writes it; copied along, the new code would be written into its files
        raise NotRestageable(f"{source.name} already holds a directory of the new code's asset")
    _same_sources(code, digest)
    # Where the old asset hash occurs: in the assembly's JSON files (templates, asset manifests, tree.json) and
    # nowhere else, not inside another asset and not in a file that is not JSON.
    texts: dict[str, bytes] = {}
    for path in sorted(source.rglob("*")):
        if path.is_symlink():
            raise NotRestageable(f"{path.relative_to(source)} is a symbolic link")
        if path.is_dir() or path.is_relative_to(source / old_dir):
            continue
        data = path.read_bytes()
        if path.parent == source and path.suffix == ".json":
            texts[path.name] = data
        elif old_asset.encode() in data:
            raise NotRestageable(f"the old asset hash occurs in {path.relative_to(source)}")
    changed = {name: data.replace(old_asset.encode(), new_asset.encode())
               for name, data in texts.items() if old_asset.encode() in data}
    try:
        manifest = json.loads(texts["manifest.json"])
        stacks = [artifact["properties"]["templateFile"] for artifact in manifest["artifacts"].values()
                  if artifact.get("type") == "aws:cloudformation:stack"]
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise NotRestageable(f"manifest.json names no templates: {exc!r}") from None
    # A template whose text changed has a new hash too: its asset entry and its object URL name it.
    renamed = {}
    for template in stacks:
        if template in changed:
            renamed[hashlib.sha256(texts[template]).hexdigest()] = hashlib.sha256(changed[template]).hexdigest()
    for old, new in renamed.items():
        for name, data in texts.items():
            current = changed.get(name, data)
            if old.encode() in current:
                changed[name] = current.replace(old.encode(), new.encode())
    for name in [n for n in changed if n.endswith(".assets.json")]:
        changed[name] = _renamed_destinations(name, texts[name], changed[name])
    _check_restaged(texts, changed, stacks, old_asset=old_asset, new_asset=new_asset, renamed=renamed)
    shutil.copytree(source, work, dirs_exist_ok=True, copy_function=_link_or_copy,
                    ignore=lambda directory, names: [old_dir] if Path(directory) == source else [])
    for name, data in changed.items():
        _write_new(work / name, data)
    monitor_code.copy_sources(code, work / f"asset.{new_asset}")


def _destinations(document: Any) -> Iterator[tuple[str, Any]]:
    """(key, destination) of every destination of every asset of an asset manifest."""
    for kind in ("files", "dockerImages"):
        for entry in (document.get(kind) or {}).values():
            yield from entry["destinations"].items()


def _destination_key(key: str, destination: Any) -> str:
    """The key CDK gives `destination` (AssetManifestBuilder): its environment, a dash and the first 8 hex digits
    of the SHA-256 of its JSON.stringify (no spaces, in the manifest's key order, non-ASCII as is)."""
    text = json.dumps(destination, separators=(",", ":"), ensure_ascii=False)
    return f"{key.rpartition('-')[0]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _renamed_destinations(name: str, before: bytes, after: bytes) -> bytes:
    """`after` (an asset manifest whose objects were renamed) with each destination's key made again from its
    content, as CDK makes it; the scheme is first proved on every destination of `before`."""
    try:
        old, new = json.loads(before), json.loads(after)
        pairs = list(zip(_destinations(old), _destinations(new), strict=True))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise NotRestageable(f"{name} is not an asset manifest: {exc!r}") from None
    for (old_key, old_destination), (key, destination) in pairs:
        if _destination_key(old_key, old_destination) != old_key or key != old_key:
            raise NotRestageable(f"{name}: the destination {old_key} is not named as CDK names it")
        renamed = _destination_key(key, destination)
        if renamed != key:
            quoted = json.dumps(key).encode() + b":"
            if after.count(quoted) != 1:
                raise NotRestageable(f"{name}: the destination {key} is not named once")
            after = after.replace(quoted, json.dumps(renamed).encode() + b":")
    return after


def _check_restaged(texts: Mapping[str, bytes], changed: Mapping[str, bytes], stacks: Sequence[str], *,
                    old_asset: str, new_asset: str, renamed: Mapping[str, str]) -> None:
    """The rewritten JSON files name the new asset and no old hash, parse, and every changed template's asset
    entry (where its stack has one) is the hash of its new text."""
    if not any(name in changed for name in stacks):
        raise NotRestageable("no template names the monitor's code asset")
    entries: dict[str, Any] = {}
    for name, data in {**texts, **changed}.items():
        if old_asset.encode() in data or any(old.encode() in data for old in renamed):
            raise NotRestageable(f"an old hash is left in {name}")
        if name in changed:
            try:
                document = json.loads(data)
            except ValueError:
                raise NotRestageable(f"{name} is not JSON once restaged") from None
            if name.endswith(".assets.json") and isinstance(document, dict):
                entries.update(document.get("files") or {})
                if any(_destination_key(key, d) != key for key, d in _destinations(document)):
                    raise NotRestageable(f"a destination of {name} is not named as CDK names it")
    if (entries.get(new_asset) or {}).get("source", {}).get("path") != f"asset.{new_asset}":
        raise NotRestageable("no asset manifest names the new code's directory")
    for template in stacks:
        listed = [key for key, entry in entries.items() if entry.get("source", {}).get("path") == template]
        if template in changed and listed != [] and listed != [hashlib.sha256(changed[template]).hexdigest()]:
            raise NotRestageable(f"the asset entry of {template} is not the hash of its restaged text")


def _seal_of(entry: Path) -> Path:
    """Where the cache records what it stored as `entry`: beside it, so the entry holds what synthesis wrote."""
    return entry.with_name(f"{entry.name}.seal")


def _inventory(directory: Path) -> dict[str, Any] | None:
    """Every path below `directory` with what a write to it changes: a file's size and modification time, a
    link's text, a directory's kind. None when `directory` is not a directory of its own (a link, gone) or holds
    anything else (a FIFO, a device), or cannot be read whole."""
    found: dict[str, Any] = {}
    failed: list[OSError] = []
    try:
        if not stat.S_ISDIR(directory.lstat().st_mode):
            return None
        for current, dirs, files in os.walk(directory, onerror=failed.append):  # links are listed, not entered
            for name in (*dirs, *files):
                path = Path(current, name)
                info = path.lstat()
                relative = path.relative_to(directory).as_posix()
                if stat.S_ISREG(info.st_mode):
                    found[relative] = [info.st_size, info.st_mtime_ns]
                elif stat.S_ISDIR(info.st_mode):
                    found[relative] = "directory"
                elif stat.S_ISLNK(info.st_mode):
                    found[relative] = ["link", os.readlink(path)]
                else:
                    return None
    except OSError:
        return None
    return None if failed else found


def _seal(work: Path, final: Path) -> None:
    """Record what `work` holds, about to be stored as `final`."""
    inventory = _inventory(work)
    if inventory is None:
        raise SynthesisFailed("synthesis wrote something other than files, directories and links",
                              exit_code=EXIT_INCOMPLETE, output="")
    seal = _seal_of(final)
    partial = seal.with_name(f".{seal.name}.{os.getpid()}")
    _write_new(partial, json.dumps(inventory, sort_keys=True).encode())
    if _is_directory(seal):
        _move_aside(final.parent, seal)  # no seal the cache wrote: a rename cannot replace it
    os.replace(partial, seal)  # replaces whatever else is at the seal's name (a link too), never writes through it


def _whole(entry: Path) -> bool:
    """True when `entry` is what the cache stored there: a directory of its own holding what its seal records,
    each file unchanged since."""
    seal = _seal_of(entry)
    try:
        if not stat.S_ISREG(seal.lstat().st_mode):
            return False
        sealed = json.loads(seal.read_bytes())
    except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser goes
        return False
    inventory = _inventory(entry)
    return inventory is not None and "manifest.json" in inventory and sealed == inventory


def _siblings(cache_dir: Path, key: str) -> list[Path]:
    """The stored assemblies of `key` (other code) that are whole, most recently used first."""
    found = [p for p in cache_dir.glob(f"{key}-*") if _DIGEST.fullmatch(p.name.rpartition("-")[2]) and _whole(p)]
    return sorted(found, key=lambda p: p.lstat().st_mtime, reverse=True)


def _move_aside(cache_dir: Path, path: Path) -> None:
    """Take whatever is at `path` (an entry that is not whole, a link) out of the entries' names, then delete it
    there: a link is deleted, never followed, and a hard-linked file loses only this name."""
    aside = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}unsealed-", dir=cache_dir))
    path.rename(aside / path.name)
    shutil.rmtree(aside, ignore_errors=True)


def synthesized(context: Mapping[str, str], *, root: Path = ROOT, cache_dir: Path | None = None,
                synth: Callable[[Mapping[str, str], Path], None] | None = None, keep: int = KEEP,
                declarations: Callable[[Mapping[str, str], Path], bytes] | None = None,
                in_use: float = IN_USE) -> Assembly:
    """The assembly for `context`: from the cache, restaged from the cache for other code of the monitor, or
    synthesized now (and stored when clean)."""
    start = time.perf_counter()
    cache_dir = cache_dir or default_cache_dir(root)
    key = cache_key(context, root=root, declarations=declarations)
    digest = monitor_code.sources_hash(root)
    final = cache_dir / f"{key}-{digest}"
    restaged = False
    with _locked(cache_dir / f"{key}.lock"):
        if _whole(final):
            # most recently used: pruned last. Under the key's lock, so that a prune that sorted the entries
            # before this sees the new time when it takes the lock, and keeps the entry handed out here.
            os.utime(final, follow_symlinks=False)
            return Assembly(final, final.name, True, time.perf_counter() - start)
        work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=cache_dir))
        try:
            for source in _siblings(cache_dir, key)[:1]:
                try:
                    restage(source, work, code=monitor_code.staged_code(root), digest=digest)
                    restaged = True
                except (NotRestageable, OSError, ValueError, LookupError, TypeError, AttributeError) as exc:
                    # anything a restage meets that it did not foresee (an entry pruned meanwhile, a file CDK
                    # shapes otherwise) costs a synthesis, never a wrong assembly
                    print(f"assembly cache: not restaged from {source.name} ({exc}); synthesizing",
                          file=sys.stderr)
                    shutil.rmtree(work, ignore_errors=True)
                    work.mkdir(mode=0o700)
            if not restaged:
                (synth or (lambda c, o: cdk_synth(c, o, root=root)))(context, work)
            if not (work / "manifest.json").exists():
                raise SynthesisFailed("synthesis wrote no manifest.json", exit_code=EXIT_INCOMPLETE, output="")
            _seal(work, final)
            if os.path.lexists(final):
                _move_aside(cache_dir, final)  # not whole: never served, and not kept under its name
            work.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    _prune(cache_dir, keep, in_use=in_use)
    return Assembly(final, final.name, restaged, time.perf_counter() - start, restaged)


class ExportFailed(Exception):
    """The assembly could not be copied into `cdk_out`: EXIT_USAGE when something there is in the way (nothing was
    copied), EXIT_INCOMPLETE when the copy failed once begun."""

    def __init__(self, message: str, *, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _lmode(path: Path) -> int | None:
    """The kind of what is at `path` (not following a link); None when nothing is."""
    try:
        return path.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None


def _in_the_way(source: Path, cdk_out: Path) -> str | None:
    """What of `cdk_out` a copy of `source` would have to delete, not being a file or a link it replaces (a
    directory where the assembly has a file, a file or a FIFO where it has a directory, `cdk_out` itself or a
    folder above it not a directory, the assembly itself), said; None when nothing is."""
    try:
        inside = cdk_out.resolve().is_relative_to(source.resolve())
    except (OSError, RuntimeError):  # RuntimeError: a loop of links (Python before 3.13)
        inside = False
    if inside:  # a copy over itself deletes each file before it reads it
        return f"{cdk_out} is the cached assembly itself"
    for path in (cdk_out, *cdk_out.parents):
        if path.is_dir():  # `cdk_out` may be a link to a directory: the user's choice, followed
            break
        mode = _lmode(path)
        if mode is not None:
            return f"{path} is {_kind(mode)}, not a directory"
    made = set() if cdk_out.is_dir() else {Path(".")}  # directories the copy makes: nothing below them is there
    for current, _dirs, files in os.walk(source, followlinks=True):  # top-down: a directory before what it holds
        relative = Path(current).relative_to(source)
        here = cdk_out / relative
        if relative != Path("."):
            mode = None if relative.parent in made else _lmode(here)
            if mode is None or stat.S_ISLNK(mode):
                made.add(relative)
            elif not stat.S_ISDIR(mode):
                return f"{here} is {_kind(mode)} where the assembly has a directory"
        if relative in made:
            continue
        for name in files:
            mode = _lmode(here / name)
            if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                return f"{here / name} is {_kind(mode)} where the assembly has a file"
    return None


def export(assembly: Assembly, cdk_out: Path) -> Path:
    """Copy the assembly into `cdk_out` (what `cdk deploy --app cdk.out` and the local commands read), over what
    is there. Each file is written anew: a file of `cdk_out` at a path of the assembly that is a link (symbolic,
    or hard to a file elsewhere), or a directory there that is a symbolic link, is replaced, never written
    through. Anything else in the way (a directory where the assembly has a file, a file or a FIFO where it has a
    directory) is not the export's to delete: ExportFailed before anything is copied."""
    source = assembly.directory
    blocked = _in_the_way(source, cdk_out)
    if blocked:
        raise ExportFailed(f"cannot copy the assembly into {cdk_out}: {blocked}; move it away and run again",
                           exit_code=EXIT_USAGE)
    try:
        for current, _dirs, files in os.walk(source, followlinks=True):  # as copytree: a link's content is copied
            here = cdk_out / Path(current).relative_to(source)
            if here != cdk_out and here.is_symlink():
                here.unlink()
            here.mkdir(parents=True, exist_ok=True)
            for name in files:
                target = here / name
                if target.is_symlink() or target.is_file():
                    target.unlink()
                _copy_new(Path(current, name), target)
    except OSError as exc:  # a full disk; something made in the way meanwhile
        raise ExportFailed(f"the assembly was copied into {cdk_out} in part: {exc}",
                           exit_code=EXIT_INCOMPLETE) from None
    return cdk_out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cdk_app.assembly_cache", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suffix", default="dev", help="environmentSuffix (default: dev)")
    parser.add_argument("--cdk-out", type=Path, help="also copy the assembly here (e.g. cdk.out)")
    args = parser.parse_args(argv)
    if args.cdk_out == Path():  # an empty value, which Path reads as the current directory: a mistake
        parser.error("--cdk-out is empty or '.': name the directory (e.g. cdk.out)")
    try:
        assembly = synthesized({"environmentSuffix": args.suffix})
    except SynthesisFailed as exc:
        return exc.report()
    how = (f"restaged in {assembly.seconds:.1f}s" if assembly.restaged else "cached" if assembly.hit
           else f"synthesized in {assembly.seconds:.1f}s")
    print(f"assembly {assembly.key} ({how}): {assembly.directory}", file=sys.stderr)
    if args.cdk_out:
        try:
            export(assembly, args.cdk_out)
        except ExportFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
    print(args.cdk_out or assembly.directory)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
