"""Files a tool reads or writes on a user's behalf: read only a regular file of bounded size, and write a file
whole or not at all, never in place of something that is not a regular file nor through a symbolic link.

Every tool that takes paths from a user or writes files for one (opscli, localenv, the policy gate's reports, the
assembly cache) stands on this module, so that a FIFO, a device such as /dev/zero, a directory or a file of
gigabytes is refused in one place, with one sentence, before anything waits on it or fills memory with it.
Standard library only (the ground floor).
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

MAX_INPUT_BYTES = 16 * 2**20  # far above any stack's outputs, record or template (a whole TapStack: ~0.6 MiB)
_CHUNK = 1 << 20


class FileRefused(ValueError):
    """A path the tool will not read or write; the message names the path and says why (a usage error)."""


def user_cache(name: str) -> Path | None:
    """The platform's directory `name` in the user's cache ($XDG_CACHE_HOME, else ~/.cache; then
    streamtech-platform/<name>), which every checkout of the user shares; None without an absolute home (the XDG
    base directory specification ignores a relative path). scripts/setup.sh says the same in bash (uv's copy)."""
    for base, below in ((os.environ.get("XDG_CACHE_HOME"), ()), (os.environ.get("HOME"), (".cache",))):
        if base and os.path.isabs(base):
            return Path(base, *below, "streamtech-platform", name)
    return None


def kind(mode: int) -> str:
    """What a file of this mode is, in words ("a FIFO", "a directory", ...; "a symbolic link" for a mode lstat
    gave)."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file"),
                       (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def read_regular(path: str | os.PathLike[str], what: str, *, limit: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of `path`, which must be a regular file of at most `limit` bytes (symbolic links are
    followed). Raises FileNotFoundError when it does not exist, FileRefused for anything else it cannot take.

    The file is opened non-blocking, so a FIFO is refused at once instead of waiting for a writer, and it is
    judged by what was opened (fstat), not by a name that could be swapped between a check and the read. At most
    `limit` + 1 bytes are ever read, whatever the file claims its size is."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        try:  # a socket cannot be opened at all (ENXIO): say what it is rather than the errno's words
            mode = os.stat(path).st_mode
        except OSError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            raise FileRefused(f"{what} {path} is {kind(mode)}, not a regular file") from None
        raise FileRefused(f"{what} {path} cannot be opened: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileRefused(f"{what} {path} is {kind(mode)}, not a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise FileRefused(f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise FileRefused(f"{what} {path} is larger than {_size(limit)}: refused")
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(f"{what} {path} is not UTF-8 text (byte {exc.start})") from None


def read_json(path: str | os.PathLike[str], what: str, *, limit: int = MAX_INPUT_BYTES) -> Any:
    """The JSON value in `path`, read as `read_regular` reads; FileRefused when it is not JSON (or is nested
    deeper than the parser goes, or has an integer longer than Python converts: sys.get_int_max_str_digits)."""
    text = read_regular(path, what, limit=limit)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileRefused(f"{what} {path} is not JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise FileRefused(f"{what} {path} is nested too deeply to be read") from None
    except ValueError:  # a number with more digits than int() converts (sys.get_int_max_str_digits)
        raise FileRefused(f"{what} {path} has a number too long to be read") from None


def names_a_file(path: str) -> bool:
    """Whether `path`, as typed, ends in a file name: not in a slash, "." or ".." (each names a directory, and
    pathlib would drop a trailing slash or "." and so turn "out/" into a file named "out")."""
    return os.path.basename(path) not in ("", os.curdir, os.pardir)


def writable_target(path: str | os.PathLike[str], what: str) -> tuple[Path, os.stat_result | None]:
    """Where writing `path` would land and what is there now (None: nothing); raises FileRefused when the path
    is not one this module writes. Call it before long work, so a run does not end by failing to write its result.

    A path is written only as named: its last component is a file name (not "", "." or "..": a path ending in a
    slash names a directory), it is not a symbolic link (dangling or not: the file written would be wherever the
    link points, and following a dangling one would create its target), what is there is a regular file or
    nothing, and its directory exists. No directory is created here: a path whose directory is missing is more
    often a typo than a wish."""
    text = os.fspath(path)
    if not names_a_file(text):
        raise FileRefused(f"{what} {text} names a directory, not a file: not written")
    target = Path(os.path.abspath(text))
    try:
        existing = os.lstat(target)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise FileRefused(f"{what} {text} cannot be written: {exc.strerror or exc}") from None
    if existing is not None and stat.S_ISLNK(existing.st_mode):
        raise FileRefused(f"{what} {text} is a symbolic link: not written through (name the file itself)")
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise FileRefused(f"{what} {text} is {kind(existing.st_mode)}, not a regular file: not replaced")
    try:
        parent = os.stat(target.parent).st_mode
    except OSError as exc:
        missing = isinstance(exc, FileNotFoundError)
        raise FileRefused(f"{what} {text} cannot be written: its directory {target.parent} "
                          f"{'does not exist' if missing else f'cannot be looked at: {exc.strerror or exc}'}") from None
    if not stat.S_ISDIR(parent):
        raise FileRefused(f"{what} {text} cannot be written: {target.parent} is {kind(parent)}, not a directory")
    return target, existing


def write_whole(path: str | os.PathLike[str], text: str, what: str, *, make_parents: bool = False) -> Path:
    """Write `text` to `path` whole or not at all; returns the file written.

    Only a path `writable_target` accepts is written: never through a symbolic link, never in place of something
    that is not a regular file, never into a directory that does not exist, unless `make_parents` (for a tool's
    own output directory, never a report path a user typed): then the missing directories of the path as named
    are created, and a symbolic link among them is not followed into being. The text goes to a temporary file
    beside the target, which is renamed over it only once complete (the rename replaces a name, so a link or hard
    link swapped in meanwhile is replaced, not written through); on any failure the temporary file is removed, so
    nothing partial is left behind. A new file gets the usual mode (0666 less the umask); an existing one keeps
    its mode."""
    if make_parents:
        try:
            Path(os.path.abspath(os.fspath(path))).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FileRefused(f"{what} {os.fspath(path)} cannot be written: {exc.strerror or exc}") from None
    target, existing = writable_target(path, what)
    mode = stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~_umask()
    try:
        fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    except OSError as exc:
        raise FileRefused(f"{what} {os.fspath(path)} cannot be written: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
        os.replace(partial, target)
    except BaseException as exc:
        Path(partial).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise FileRefused(f"{what} {os.fspath(path)} cannot be written: {exc.strerror or exc}") from None
        raise
    return target


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it (/proc), else by setting it back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def _size(size: int) -> str:
    return f"{size / 2**20:g} MiB" if size >= 2**20 else f"{size} bytes"
