"""Which process is the running `localenv up`, proved rather than trusted: the state record says where the
deployment is; a lock that the `up` process holds for its whole life says who it is.

A pid read from a file proves nothing: the file can be forged or stale, its pid reused by an unrelated process,
or -1 or 0 (for kill(2): every process we may signal, or our own process group). So `up` holds a POSIX lock on
`<stack>.lock` while it runs, and `down` asks the kernel who holds that lock (F_GETLK answers with the holder's
pid). Only a pid the record names *and* the kernel names as the holder is signalled, through a pidfd opened
before the holder is confirmed a second time, so the pid cannot be reused between the check and the signal. A
lock nobody holds is the proof that no `up` runs: only then is a record called stale and removed.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_spec import files

MAX_STATE_BYTES = 64 * 1024


class StateError(ValueError):
    """The record or the lock does not allow a safe action (exit 2); the message says what to do."""


@dataclass(frozen=True)
class Paths:
    record: Path
    lock: Path

    @classmethod
    def for_stack(cls, state_dir: Path, stack_name: str) -> Paths:
        return cls(state_dir / f"{stack_name}.json", state_dir / f"{stack_name}.lock")


class Held:
    """The lock of a running `up`: taken in `acquire`, released when the process ends (or `release`)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor releases the POSIX lock
            self._fd = -1


def acquire(paths: Paths) -> Held | None:
    """The stack's lock for this process, or None when another process holds it (a deployment is up).

    Never open and close the lock file elsewhere in the holding process: closing any descriptor of a file
    releases the process's POSIX locks on it."""
    paths.lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return Held(fd)


# struct flock (fcntl(2)) on Linux with a 64-bit off_t: l_type, l_whence (short), l_start, l_len (off_t),
# l_pid (pid_t), padded to the structure's alignment.
_FLOCK = struct.Struct("@hhqqi4x")


def holder(paths: Paths) -> int | None:
    """The pid of the process holding the stack's lock (in our pid namespace), or None when nobody holds it or
    there is no lock file."""
    try:
        fd = os.open(paths.lock, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot open the deployment's lock {paths.lock}: {exc.strerror or exc}") from None
    try:
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
    finally:
        os.close(fd)
    lock_type, _, _, _, pid = _FLOCK.unpack(answer)
    return None if lock_type == fcntl.F_UNLCK or pid <= 0 else pid


def write_record(paths: Paths, record: dict[str, Any]) -> None:
    """The state record, whole or not at all (readers never see half a file)."""
    files.write_whole(paths.record, json.dumps(record, indent=2) + "\n", "localenv state file")


def read_record(paths: Paths) -> dict[str, Any] | None:
    """The record, or None when there is none. Raises StateError for one that is not a record (not a regular
    file, too large, not JSON, not an object with an integer pid)."""
    try:
        record = files.read_json(paths.record, "localenv state file", limit=MAX_STATE_BYTES)
    except FileNotFoundError:
        return None
    except files.FileRefused as exc:
        raise StateError(str(exc)) from None
    if not isinstance(record, dict) or type(record.get("pid")) is not int:
        raise StateError(f"{paths.record} is not a localenv state file (no integer pid)")
    return record


def remove_if_stale(paths: Paths) -> bool:
    """Remove the record when nobody holds the lock (no `up` runs, so the record is provably stale); True if it
    was removed or was not there."""
    if holder(paths) is not None:
        return False
    paths.record.unlink(missing_ok=True)
    return True


def stop(paths: Paths, record: dict[str, Any], *, timeout: float) -> int:
    """SIGTERM to the `up` process the record names, only once the kernel confirms it holds the lock; waits for
    it to end. Returns its pid. Raises StateError when the record's pid is not the lock's holder, TimeoutError
    when the process did not end within `timeout`."""
    pid = record["pid"]
    owner = holder(paths)
    if owner is None:
        raise ProcessLookupError(pid)
    if pid != owner:
        raise StateError(f"refusing to signal pid {pid}: {paths.record} names it, but the running deployment's lock "
                         f"is held by pid {owner}; stop that process yourself if it is yours")
    handle = _pidfd(pid)
    try:
        if holder(paths) != pid:  # the pid may have been reused before the pidfd pinned it
            raise ProcessLookupError(pid)
        _send(handle, pid, signal.SIGTERM)
        if not _wait_gone(handle, pid, timeout):
            raise TimeoutError(pid)
    finally:
        if handle is not None:
            os.close(handle)
    return pid


def _pidfd(pid: int) -> int | None:
    """A pidfd for `pid` (Linux 5.3+), or None where the platform has none; ProcessLookupError if it is gone."""
    if not hasattr(os, "pidfd_open"):
        return None
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        raise
    except OSError:
        return None


def _send(handle: int | None, pid: int, signum: int) -> None:
    if handle is not None:
        signal.pidfd_send_signal(handle, signum)
    else:
        os.kill(pid, signum)


def _wait_gone(handle: int | None, pid: int, timeout: float) -> bool:
    """Whether the process ended within `timeout`: a pidfd becomes readable when it does; without one, the
    lock is released when it does."""
    if handle is not None:
        poller = select.poll()
        poller.register(handle, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False
