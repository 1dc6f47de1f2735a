"""Where a local deployment's outputs go (one directory per suffix), written so that they replace only what
localenv itself wrote there.

`cfn-outputs/<suffix>/flat-outputs.json` and the stack record beside it: a second suffix does not overwrite the
first's outputs. Beside them, `.localenv-written.json` keeps the SHA-256 of each file as localenv last wrote it;
an existing file is replaced only when it is still exactly that, and is this user's. Anything else there — the
outputs of a real `cdk deploy --outputs-file`, another user's file, a file edited since, a symbolic link, a FIFO —
is refused (a usage error) before the deployment starts, and left as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

from localenv.inputs import ROOT
from platform_utils import files

DIRECTORY = ROOT / "cfn-outputs"
OUTPUTS = "flat-outputs.json"
NOTE = ".localenv-written.json"  # beside the files: name -> SHA-256 of what localenv last wrote there
NOTE_WHAT = "localenv's note of the files it wrote"


def default_path(suffix: str) -> Path:
    """The outputs file of the local deployment of `suffix` (a validated suffix: [a-z0-9-] only)."""
    return DIRECTORY / suffix / OUTPUTS


def stack_record_path(outputs_path: Path) -> Path:
    """Where the deployment's stack record (logical -> physical ids and the template) goes: beside the outputs."""
    return outputs_path.with_name("stack-resources.json")


def is_default(path: Path, suffix: str) -> bool:
    """Whether `path` is the default outputs file of `suffix`: the one path whose directories localenv makes (a
    directory missing on a path a user named is more often a typo than a wish)."""
    return Path(os.path.abspath(path)) == default_path(suffix)


def preflight(path: Path, suffix: str) -> None:
    """Raise FileRefused, before anything is deployed, when the outputs or the stack record beside them could not
    be written or would replace a file localenv did not write."""
    if not is_default(path, suffix) or path.parent.exists():
        files.writable_target(path, "outputs file")
        files.writable_target(path.parent / NOTE, NOTE_WHAT)
    check_replaceable(path, "outputs file")
    check_replaceable(stack_record_path(path), "stack record")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _written(directory: Path) -> dict[str, str]:
    """What localenv last wrote in `directory` (file name -> SHA-256); empty when it wrote nothing there, or
    when its note is unreadable (then nothing there is taken for its own)."""
    try:  # a FIFO, a directory, a device where the note belongs is refused (FileRefused), not read around
        note = json.loads(files.read_regular(directory / NOTE, NOTE_WHAT))
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError:
        return {}
    if not isinstance(note, dict):
        return {}
    return {k: v for k, v in note.items() if isinstance(k, str) and isinstance(v, str)}


def written_by_localenv(path: Path) -> bool:
    """Whether `path` holds exactly what localenv last wrote there (a local deployment's outputs, not a real
    deployment's)."""
    try:
        return _written(path.parent).get(path.name) == _digest(files.read_regular(path, "outputs file"))
    except (FileNotFoundError, files.FileRefused):
        return False


def check_replaceable(path: Path, what: str) -> None:
    """Raise FileRefused unless writing `path` would replace nothing, or only a regular file of this user that
    still holds exactly what localenv last wrote there."""
    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise files.FileRefused(f"{what} {path} cannot be looked at: {exc.strerror or exc}") from None
    if stat.S_ISLNK(existing.st_mode):
        raise files.FileRefused(f"{what} {path} is a symbolic link: not written through (localenv did not make it)")
    if not stat.S_ISREG(existing.st_mode):
        raise files.FileRefused(f"{what} {path} is {files.kind(existing.st_mode)}, not a regular file: not replaced")
    if existing.st_uid != os.geteuid():
        raise files.FileRefused(f"{what} {path} belongs to another user (uid {existing.st_uid}): not replaced")
    recorded = _written(path.parent).get(path.name)
    try:
        current = files.read_regular(path, what)
    except (FileNotFoundError, files.FileRefused):
        current = None
    if recorded is None or current is None or _digest(current) != recorded:
        raise files.FileRefused(
            f"{what} {path} was not written by localenv, or was changed since: not replaced (move it away, or "
            "name another file with --outputs)")


def write(path: Path, text: str, what: str, *, make_parents: bool = False) -> Path:
    """Write `text` to `path` whole (files.write_whole), after `check_replaceable`, and note what was written."""
    if make_parents:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise files.FileRefused(f"{what} {path} cannot be written: {exc.strerror or exc}") from None
    check_replaceable(path, what)
    written = files.write_whole(path, text, what)
    note = {**_written(path.parent), path.name: _digest(text)}
    files.write_whole(path.parent / NOTE, json.dumps(note, indent=1, sort_keys=True) + "\n", NOTE_WHAT)
    return written
