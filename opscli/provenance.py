"""The commit of the checkout opscli runs from, read from its .git files (HEAD, the ref it names, packed-refs;
a worktree's gitdir and commondir) without running git: a report names the source it was run beside, and a
directory that is not a checkout, or a .git that cannot be read, gives no commit and never an error."""

from __future__ import annotations

import os
import re
from pathlib import Path

from platform_utils import files

_OBJECT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 object names
_REF = re.compile(r"refs/[A-Za-z0-9._/+-]+")
_SMALL = 4096  # HEAD, a ref, gitdir and commondir files are one line
_PACKED = 16 * 1024 * 1024


def checkout_commit(root: Path | None = None) -> str | None:
    """HEAD's commit of the git checkout whose root is `root` (default: the working directory), when it is the
    CDK app's (cdk.json beside .git); None when it is not one, or its .git files cannot be read as git writes
    them."""
    root = Path.cwd() if root is None else root
    try:
        if not (root / "cdk.json").is_file():
            return None
        gitdir = _gitdir(root / ".git")
        if gitdir is None:
            return None
        head = _line(gitdir / "HEAD")
        if head is not None and _OBJECT.fullmatch(head):
            return head  # a detached HEAD
        if head is None or not head.startswith("ref: "):
            return None
        ref = head[5:].strip()
        if not _REF.fullmatch(ref) or ".." in ref.split("/"):
            return None
        common = gitdir
        shared = _line(gitdir / "commondir")
        if shared:
            common = Path(os.path.normpath(gitdir / shared))
        for base in dict.fromkeys((gitdir, common)):
            value = _line(base / ref)
            if value is not None:
                return value if _OBJECT.fullmatch(value) else None
        return _packed(common / "packed-refs", ref)
    except OSError:
        return None


def _gitdir(dot_git: Path) -> Path | None:
    """.git itself, or where a worktree's or submodule's .git file ("gitdir: PATH") points."""
    if dot_git.is_dir():
        return dot_git
    line = _line(dot_git)
    if line is None or not line.startswith("gitdir: "):
        return None
    target = Path(line[len("gitdir: "):].strip())
    return Path(os.path.normpath(dot_git.parent / target))


def _line(path: Path) -> str | None:
    """The first line of a small regular file, or None (missing, not a regular file, too large, not text)."""
    try:
        text = files.read_regular(path, "git file", limit=_SMALL)
    except (OSError, ValueError):
        return None
    lines = text.splitlines()
    return lines[0].strip() if lines else None


def _packed(path: Path, ref: str) -> str | None:
    try:
        text = files.read_regular(path, "git file", limit=_PACKED)
    except (OSError, ValueError):
        return None
    for line in text.splitlines():
        value, _, name = line.partition(" ")
        if name.strip() == ref:
            return value if _OBJECT.fullmatch(value) else None
    return None
