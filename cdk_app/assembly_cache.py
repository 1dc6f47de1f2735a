"""A content-addressed cache of synthesized cloud assemblies: synthesize once per change of the inputs.

The key is a hash of everything that can change the assembly: the sources synthesis runs (cdk_app/ and every
module of ours it imports, found by reading the import statements, with the data files beside them), the
sources it stages (services/ and platform_spec/, the image assets' build context, and .dockerignore), cdk.json,
cdk.context.json, the context given on the command line, the versions of the installed CDK libraries and Python,
and the pinned CDK CLI (package-lock.json). A change to code synthesis never imports (the gate, opscli) keeps the
cache. A miss runs the real `cdk synth` (the CDK CLI, as a user would) into a temporary directory, and only a
clean synthesis is stored: a synthesis with guardrail or cdk-nag findings raises SynthesisFailed with the CLI's
output, every time. It runs with `--no-validation`, without CDK's built-in template check (its CloudFormation
Validate plugin): that check runs cfn-lint's schema rules, which the policy gate's cfn-lint runs over the same
templates, so they run once. A plain `cdk synth` or `cdk deploy` keeps it. Concurrent callers (pytest-xdist
workers, the gate and a benchmark) wait on a per-key lock, so one synthesizes and the others read its result.

    python -m cdk_app.assembly_cache --suffix dev [--cdk-out cdk.out]      # prints the assembly directory

Standard library (and platform_spec) only: importable (and fast) without aws-cdk-lib.
"""

from __future__ import annotations

import argparse
import ast
import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE

ROOT = Path(__file__).resolve().parents[1]
# What synthesis runs (with what it imports) and stages, relative to the repository root.
APP_PACKAGE = "cdk_app"
# The image assets stage services/ and platform_spec/ (the build context .dockerignore leaves); the posture
# monitor's function stages opscli/ (and its role holds the reads opscli declares), its layer what the lock pins.
STAGED_DIRS = ("services", "platform_spec", "opscli")
SOURCE_FILES = ("cdk.json", "cdk.context.json", "package-lock.json", ".dockerignore", "requirements.lock")
LIBRARIES = ("aws-cdk-lib", "constructs", "cdk-nag", "jsii", "aws-cdk.asset-awscli-v1",
             "aws-cdk.asset-node-proxy-agent-v6", "aws-cdk.cloud-assembly-schema")
_IGNORED_DIRS = {"__pycache__", ".pytest_cache", ".hypothesis"}
_IGNORED_SUFFIXES = (".pyc", ".pyo")
# Files beside the app that are made from a synthesis and never read by one (refreshing one keeps the key).
OUTPUTS = frozenset({"cdk_app/source_map.json"})
KEEP = 12  # assemblies kept; older ones are pruned after each store
ENV_CACHE_DIR = "STREAMTECH_ASSEMBLY_CACHE"


class SynthesisFailed(RuntimeError):
    """`cdk synth` exited non-zero; `output` holds its stderr (guardrail and cdk-nag lines)."""

    def __init__(self, message: str, *, exit_code: int, output: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.output = output


@dataclass(frozen=True)
class Assembly:
    directory: Path
    key: str
    hit: bool  # True: read from the cache; False: synthesized by this call
    seconds: float

    def template_path(self, stack_name: str) -> Path:
        return self.directory / f"{stack_name}.template.json"

    def template(self, stack_name: str) -> dict:
        return json.loads(self.template_path(stack_name).read_text())

    def manifest(self) -> dict:
        return json.loads((self.directory / "manifest.json").read_text())


def default_cache_dir(root: Path = ROOT) -> Path:
    return Path(os.environ.get(ENV_CACHE_DIR) or root / ".cache" / "assemblies")


def _walk(directory: Path) -> Iterator[Path]:
    for current, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED_DIRS and not d.endswith(".egg-info"))
        for file in sorted(files):
            if not file.endswith(_IGNORED_SUFFIXES):
                yield Path(current) / file


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
    expanded = set()
    for name in names:
        parts_of = name.split(".")
        expanded.update(".".join(parts_of[:i]) for i in range(1, len(parts_of) + 1))
    return frozenset(expanded)


def _import_closure(root: Path, package: str) -> set[Path]:
    """Every source file of `package` and of the repository's modules it imports, transitively."""
    todo = [p for p in _walk(root / package) if p.suffix == ".py"]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imported_modules(path, root):
            found = _module_file(root, name)
            if found is not None and found not in seen:
                todo.append(found)
    return seen


def _source_files(root: Path) -> list[Path]:
    modules = _import_closure(root, APP_PACKAGE)
    # Data files beside the modules (JSON, SQL, …): code may read them at synthesis.
    data = {p for d in {m.parent for m in modules} for p in d.iterdir() if p.is_file() and p.suffix != ".py"
            and not p.name.endswith(_IGNORED_SUFFIXES) and p.relative_to(root).as_posix() not in OUTPUTS}
    staged = {p for name in STAGED_DIRS for p in _walk(root / name)}
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


def cache_key(context: Mapping[str, str], *, root: Path = ROOT,
              versions: Mapping[str, str] | None = None) -> str:
    """The hash of every input of a synthesis with the command-line `context` (e.g. environmentSuffix)."""
    digest = hashlib.sha256()

    def feed(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    for path in _source_files(root):
        feed(path.relative_to(root).as_posix(), path.read_bytes())
    feed("context", json.dumps(dict(context), sort_keys=True).encode())
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


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _prune(cache_dir: Path, keep: int) -> None:
    """Keep the `keep` most recently used assemblies; drop work directories of killed syntheses (> 1 h old)."""
    entries = sorted((p for p in cache_dir.iterdir() if p.is_dir() and not p.name.startswith("tmp-")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[keep:]:
        shutil.rmtree(stale, ignore_errors=True)
    for work in cache_dir.glob("tmp-*"):
        if time.time() - work.stat().st_mtime > 3600:
            shutil.rmtree(work, ignore_errors=True)


def synthesized(context: Mapping[str, str], *, root: Path = ROOT, cache_dir: Path | None = None,
                synth: Callable[[Mapping[str, str], Path], None] | None = None, keep: int = KEEP) -> Assembly:
    """The assembly for `context`: from the cache, or synthesized now (and stored when clean)."""
    start = time.perf_counter()
    cache_dir = cache_dir or default_cache_dir(root)
    key = cache_key(context, root=root)
    final = cache_dir / key
    with _locked(cache_dir / f"{key}.lock"):
        if (final / "manifest.json").exists():
            os.utime(final)  # most recently used: pruned last
            return Assembly(final, key, True, time.perf_counter() - start)
        work = Path(tempfile.mkdtemp(prefix="tmp-", dir=cache_dir))
        try:
            (synth or (lambda c, o: cdk_synth(c, o, root=root)))(context, work)
            if not (work / "manifest.json").exists():
                raise SynthesisFailed("synthesis wrote no manifest.json", exit_code=EXIT_INCOMPLETE, output="")
            shutil.rmtree(final, ignore_errors=True)
            work.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    _prune(cache_dir, keep)
    return Assembly(final, key, False, time.perf_counter() - start)


def export(assembly: Assembly, cdk_out: Path) -> Path:
    """Copy the assembly into `cdk_out` (what `cdk deploy --app cdk.out` and the local commands read)."""
    shutil.copytree(assembly.directory, cdk_out, dirs_exist_ok=True)
    return cdk_out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cdk_app.assembly_cache", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suffix", default="dev", help="environmentSuffix (default: dev)")
    parser.add_argument("--cdk-out", type=Path, help="also copy the assembly here (e.g. cdk.out)")
    args = parser.parse_args(argv)
    try:
        assembly = synthesized({"environmentSuffix": args.suffix})
    except SynthesisFailed as exc:
        sys.stderr.write(exc.output)
        print(f"error: {exc}", file=sys.stderr)
        # the app's own codes say what was wrong; anything else (node killed, the CLI missing) could not run
        return exc.exit_code if exc.exit_code in (EXIT_FINDINGS, EXIT_USAGE) else EXIT_INCOMPLETE
    how = "cached" if assembly.hit else f"synthesized in {assembly.seconds:.1f}s"
    print(f"assembly {assembly.key} ({how}): {assembly.directory}", file=sys.stderr)
    if args.cdk_out:
        export(assembly, args.cdk_out)
    print(args.cdk_out or assembly.directory)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
