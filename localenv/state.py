"""Which process is the running `localenv up`, proved by the kernel before `down` signals it or removes its record.

A pid read from a file proves nothing: the file can be forged or stale, its pid reused by an unrelated process,
or -1 or 0 (for kill(2): every process we may signal, or our own process group). A lock file proves nothing by
its name either: a hard link to another program's locked file (a SQLite writer, any `lockf` user) makes the
kernel name that program as the holder. So the proof is built from facts the kernel binds to files and
processes, about files that only this user can have made:

- The state directory is created by localenv with mode 0700 and used only through a descriptor checked to be a
  directory of ours that nobody else may enter; every name in it is looked up relative to that descriptor, so a
  path swapped later changes nothing.
- `up` creates `<stack>.lock` exclusively (one left by an earlier `up` must still be a regular file of ours with
  one link, on the directory's device), holds a POSIX lock on it and keeps it and the directory open for its
  whole life, and writes into the record its pid, its start time (/proc/<pid>/stat field 22) and the lock's
  device and inode.
- `down` uses the lock only if it is still that file: regular, one link, ours, on the directory's device, the
  device and inode the record names. It asks the kernel who holds it (F_GETLK), pins that pid with a pidfd, and
  then confirms through /proc that the pinned process is the record's `up`: the same start time, a descriptor
  open on the lock's inode and one on the state directory. Only then is it signalled, through the pidfd.
- A lock held by a process the caller cannot see (F_GETLK answers pid 0 for a holder in another PID namespace,
  -1 for an open-file-description lock) is "cannot tell": nothing is signalled or removed. A record is removed
  as stale only when the lock it names exists and nobody holds it, and only if it is a regular file of ours with
  one link.

What this cannot stop: this user (or root) can rewrite the directory's contents and can signal this user's
processes anyway; the checks keep `down` from being the tool that reaches a process nobody meant.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import select
import signal
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_utils import files

MAX_STATE_BYTES = 64 * 1024
_OTHERS = 0o077  # mode bits that let anyone but the owner list, add, rename or link entries


class StateError(ValueError):
    """The record or the lock does not allow a safe action (exit 2); the message says what to do."""


class StillRunning(Exception):
    """The `up` process was signalled but did not end within the time `down` waits (exit 3)."""

    def __init__(self, pid: int) -> None:
        super().__init__(pid)
        self.pid = pid


@dataclass(frozen=True)
class Paths:
    directory: Path
    stack: str

    @classmethod
    def for_stack(cls, state_dir: Path, stack_name: str) -> Paths:
        return cls(state_dir, stack_name)

    @property
    def record_name(self) -> str:
        return f"{self.stack}.json"

    @property
    def lock_name(self) -> str:
        return f"{self.stack}.lock"

    @property
    def record(self) -> Path:
        return self.directory / self.record_name

    @property
    def lock(self) -> Path:
        return self.directory / self.lock_name


@dataclass(frozen=True)
class Stopped:
    """What `stop` did: signalled the `up` process `pid` and saw it end, or (stale) removed a record of a
    process that no longer held the lock."""

    pid: int
    stale: bool


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


class _Directory:
    """The state directory, open and checked: a directory of this user that nobody else may enter, so nobody
    else can add, swap or hard-link a file in it."""

    def __init__(self, paths: Paths, fd: int) -> None:
        self.paths = paths
        self.fd = fd
        self.stat = os.fstat(fd)

    @classmethod
    def open(cls, paths: Paths, *, create: bool) -> _Directory | None:
        """The checked directory; None when it does not exist and `create` is false."""
        where = paths.directory
        if create:
            try:
                where.parent.mkdir(parents=True, exist_ok=True)
                os.mkdir(where, 0o700)
            except FileExistsError:
                pass  # judged below, by what is opened
            except OSError as exc:
                raise StateError(f"cannot create the state directory {where}: {_why(exc)}") from None
        try:
            fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            if create:
                raise StateError(f"the state directory {where} vanished while localenv made it") from None
            return None
        except NotADirectoryError:
            raise StateError(f"the state directory {where} is not a directory") from None
        except OSError as exc:
            raise StateError(f"cannot open the state directory {where}: {_why(exc)}") from None
        directory = cls(paths, fd)
        mode, owner, me = directory.stat.st_mode, directory.stat.st_uid, os.geteuid()
        problem = (f"is owned by uid {owner}, not by this user (uid {me})" if owner != me else
                   f"has mode {stat.S_IMODE(mode):04o}, so other users may add or swap files in it"
                   if mode & _OTHERS else None)
        if problem:
            directory.close()
            raise StateError(f"refusing the state directory {where}: it {problem}. localenv keeps its lock and "
                             f"record only in a directory of its own with mode 0700 (if it is yours: chmod 700 "
                             f"{where})")
        return directory

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> _Directory:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def lstat(self, name: str) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot look at {self.paths.directory / name}: {_why(exc)}") from None

    def foreign(self, found: os.stat_result) -> str | None:
        """Why a file in the directory is not one localenv can have made (None: it can be)."""
        if not stat.S_ISREG(found.st_mode):
            return f"is {files.kind(found.st_mode)}, not a regular file"
        if found.st_nlink != 1:
            return f"has {found.st_nlink} links (a hard link to another file)"
        if found.st_uid != os.geteuid():
            return f"is owned by uid {found.st_uid}, not by this user"
        if found.st_dev != self.stat.st_dev:
            return "is on another device than its directory"
        return None

    def open_checked(self, name: str, flags: int) -> tuple[int, os.stat_result] | None:
        """A descriptor of `name` and what it is, if it is a file localenv can have made; None when there is
        none. The name is judged before it is opened (nothing else is ever opened, so no device or FIFO) and
        what was opened is judged again."""
        path = self.paths.directory / name
        found = self.lstat(name)
        if found is None:
            return None
        problem = self.foreign(found)
        if problem is None:
            try:
                fd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, dir_fd=self.fd)
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise StateError(f"cannot open {path}: {_why(exc)}") from None
            opened = os.fstat(fd)
            problem = self.foreign(opened)
            if problem is None and (opened.st_dev, opened.st_ino) == (found.st_dev, found.st_ino):
                return fd, opened
            os.close(fd)
            problem = problem or "was replaced while localenv opened it"
        raise _Foreign(path, problem)

    def remove(self, name: str, expected: os.stat_result) -> None:
        """Unlink `name` if it is still the file `expected` describes."""
        now = self.lstat(name)
        if now is not None and (now.st_dev, now.st_ino) == (expected.st_dev, expected.st_ino):
            try:
                os.unlink(name, dir_fd=self.fd)
            except OSError as exc:
                raise StateError(f"cannot remove {self.paths.directory / name}: {_why(exc)}") from None


class _Foreign(StateError):
    """A file in the state directory that localenv cannot have made (wrong type, links, owner or device)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path} {problem}")
        self.path = path
        self.problem = problem


class Held:
    """The lock of a running `up`: taken in `acquire`, released when the process ends (or `release`). Keeps the
    state directory open too: `down` recognises the holder by both descriptors."""

    def __init__(self, directory: _Directory, fd: int, lock: os.stat_result, start_time: int) -> None:
        self._directory = directory
        self._fd = fd
        self._lock = lock
        self._start_time = start_time
        self._written: tuple[int, int, bytes] | None = None

    def write_record(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Write the state record, whole or not at all: `fields` plus what identifies this process and its lock.
        Returns the record."""
        record = {"pid": os.getpid(), "start_time": self._start_time,
                  "lock": {"device": self._lock.st_dev, "inode": self._lock.st_ino}, **fields}
        directory, name = self._directory, self._directory.paths.record_name
        partial = f".{name}.{secrets.token_hex(8)}.partial"
        text = (json.dumps(record, indent=2) + "\n").encode("utf-8")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=directory.fd)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(text)
                    handle.flush()
                    written = os.fstat(handle.fileno())
                os.replace(partial, name, src_dir_fd=directory.fd, dst_dir_fd=directory.fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(partial, dir_fd=directory.fd)
                raise
        except OSError as exc:
            raise StateError(f"cannot write the localenv state file {directory.paths.record}: {_why(exc)}") from None
        self._written = (written.st_dev, written.st_ino, text)
        return record

    def release(self) -> None:
        """Remove the record this process wrote (not one put in its place) and release the lock."""
        if self._fd < 0:
            return
        try:
            if self._written is not None and self._still_written():
                os.unlink(self._directory.paths.record_name, dir_fd=self._directory.fd)
        except (OSError, StateError):
            pass  # leaving a record behind is safe: `down` proves it stale before it removes it
        finally:
            os.close(self._fd)  # closing the descriptor releases the POSIX lock
            self._fd = -1
            self._directory.close()

    def _still_written(self) -> bool:
        """Whether the record's name still holds what this process wrote: the same file (a freed inode number is
        soon given to a new file, so the content too)."""
        assert self._written is not None
        device, inode, text = self._written
        found = self._directory.open_checked(self._directory.paths.record_name, os.O_RDONLY)
        if found is None:
            return False
        fd, now = found
        try:
            return (now.st_dev, now.st_ino) == (device, inode) and os.read(fd, len(text) + 1) == text
        finally:
            os.close(fd)


def acquire(paths: Paths) -> Held | None:
    """The stack's lock for this process, or None when another process holds it (a deployment is up). Raises
    StateError when the directory or the lock is not one localenv made, or a record's name is taken by
    something that is not a regular file.

    Never open and close the lock file elsewhere in the holding process: closing any descriptor of a file
    releases the process's POSIX locks on it."""
    start_time = _start_time(os.getpid())
    directory = _Directory.open(paths, create=True)
    assert directory is not None
    try:
        try:
            fd = os.open(paths.lock_name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=directory.fd)
            opened = os.fstat(fd)
        except FileExistsError:
            found = _existing_lock(directory, os.O_RDWR)
            if found is None:
                raise StateError(f"the lock {paths.lock} vanished while localenv opened it: try again") from None
            fd, opened = found
        except OSError as exc:
            raise StateError(f"cannot create the lock {paths.lock}: {_why(exc)}") from None
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):  # EAGAIN or EACCES: another process holds it
            os.close(fd)
            directory.close()
            return None
        except OSError as exc:
            os.close(fd)
            raise StateError(f"cannot lock {paths.lock}: {_why(exc)}") from None
        held = Held(directory, fd, opened, start_time)
    except BaseException:
        directory.close()
        raise
    record = directory.lstat(paths.record_name)
    if record is not None and not stat.S_ISREG(record.st_mode):
        held.release()
        raise StateError(f"the localenv state file {paths.record} is {files.kind(record.st_mode)}, not a regular file: "
                         "`up` will not replace it (remove it yourself if it is yours)")
    return held


def _existing_lock(directory: _Directory, flags: int) -> tuple[int, os.stat_result] | None:
    try:
        return directory.open_checked(directory.paths.lock_name, flags)
    except _Foreign as exc:
        raise StateError(f"refusing the lock {exc.path}: it {exc.problem}, so it is not the lock localenv made. "
                         "Nothing was signalled or removed (remove it yourself if it is yours and no `python -m "
                         "localenv up` of this stack runs)") from None


# struct flock (fcntl(2)) on Linux with a 64-bit off_t: l_type, l_whence (short), l_start, l_len (off_t),
# l_pid (pid_t), padded to the structure's alignment.
_FLOCK = struct.Struct("@hhqqi4x")


def _holder(fd: int) -> int | None:
    """Who holds a lock on the open file: None when nobody; a pid; 0 or less for a holder this process cannot
    name (0: in a PID namespace it cannot see; -1: an open-file-description lock)."""
    answer = fcntl.fcntl(fd, fcntl.F_GETLK, _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
    lock_type, _, _, _, pid = _FLOCK.unpack(answer)
    return None if lock_type == fcntl.F_UNLCK else pid


def holder(paths: Paths) -> int | None:
    """The pid of the process holding the stack's lock, as this process sees it; None when nobody holds it, there
    is no lock, or the holder cannot be named from here."""
    directory = _Directory.open(paths, create=False)
    if directory is None:
        return None
    with directory:
        found = _existing_lock(directory, os.O_RDONLY)
        if found is None:
            return None
        fd, _ = found
        try:
            pid = _holder(fd)
        finally:
            os.close(fd)
    return pid if pid is not None and pid > 0 else None


@dataclass(frozen=True)
class _Record:
    pid: int
    start_time: int
    lock: tuple[int, int]
    fields: dict[str, Any]


def _is_int(value: object) -> bool:
    return type(value) is int


def _parse(text: str, path: Path) -> _Record:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(f"localenv state file {path} is not JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise StateError(f"localenv state file {path} is nested too deeply to be read") from None
    lock = record.get("lock") if isinstance(record, dict) else None
    if not (isinstance(record, dict) and _is_int(record.get("pid")) and _is_int(record.get("start_time"))
            and isinstance(lock, dict) and _is_int(lock.get("device")) and _is_int(lock.get("inode"))):
        raise StateError(f"{path} is not a localenv state file (no integer pid, start_time, lock device and inode)")
    return _Record(record["pid"], record["start_time"], (lock["device"], lock["inode"]), record)


def _read(directory: _Directory) -> tuple[os.stat_result, _Record | StateError] | None:
    """The record file and its content (or why the content is not a record); None when there is none. Raises
    _Foreign for a file localenv cannot have written, which is never used or removed."""
    path = directory.paths.record
    found = directory.open_checked(directory.paths.record_name, os.O_RDONLY)
    if found is None:
        return None
    fd, opened = found
    try:
        data = os.read(fd, MAX_STATE_BYTES + 1)
    except OSError as exc:
        raise StateError(f"cannot read the localenv state file {path}: {_why(exc)}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_STATE_BYTES:
        return opened, StateError(f"localenv state file {path} is larger than {MAX_STATE_BYTES} bytes")
    try:
        return opened, _parse(data.decode("utf-8"), path)
    except UnicodeDecodeError:
        return opened, StateError(f"localenv state file {path} is not UTF-8 text")
    except StateError as exc:
        return opened, exc


def read_record(paths: Paths) -> dict[str, Any] | None:
    """The record, or None when there is none. Raises StateError for one that is not a record (not a regular
    file of ours with one link, too large, not JSON, not naming a pid, start time and lock)."""
    directory = _Directory.open(paths, create=False)
    if directory is None:
        return None
    with directory:
        found = _read(directory)
    if found is None:
        return None
    _, record = found
    if isinstance(record, StateError):
        raise record
    return record.fields


def stop(paths: Paths, *, timeout: float) -> Stopped:
    """Stop the `up` process the record names, once the kernel proves it is that process (see the module's
    docstring), and wait up to `timeout` seconds for it to end; or remove the record when it is provably stale.
    Raises StateError when nothing runs or nothing can safely be done (nothing is then signalled or removed,
    except a stale record), StillRunning when the process did not end in time."""
    try:
        return _stop(paths, timeout)
    except OSError as exc:  # a call the steps above did not expect to fail: still no traceback, and no action
        raise StateError(f"cannot look at the deployment's state in {paths.directory}: {_why(exc)}") from None


def notify(paths: Paths, signum: int) -> int:
    """Send `signum` to the running `up` the record names, once the kernel proves it is that process (as `stop`
    proves it), without waiting for anything; its pid. Raises StateError when nothing runs or the process cannot
    be proved (nothing is then signalled, and no record removed)."""
    try:
        return _stop(paths, 0, signum=signum, wait=False).pid
    except OSError as exc:
        raise StateError(f"cannot look at the deployment's state in {paths.directory}: {_why(exc)}") from None


def _stop(paths: Paths, timeout: float, *, signum: int = signal.SIGTERM, wait: bool = True) -> Stopped:
    nothing = f"no local deployment of {paths.stack} is running ({paths.record} does not exist)"
    directory = _Directory.open(paths, create=False)
    if directory is None:
        raise StateError(nothing)
    with directory:
        try:
            found = _read(directory)
        except _Foreign as exc:
            raise StateError(f"localenv state file {exc}: left as it is, nothing signalled") from None
        if found is None:
            raise StateError(nothing)
        record_file, record = found
        lock = _existing_lock(directory, os.O_RDONLY)
        if lock is None:
            what = record if isinstance(record, StateError) else f"{paths.record} names pid {record.pid}"
            raise StateError(f"{what}; its lock {paths.lock} is missing, so whether a deployment runs cannot be "
                             f"told: left as it is (remove {paths.record} yourself if no `python -m localenv up` "
                             "of this stack runs)")
        lock_fd, lock_file = lock
        try:
            held_by = _holder(lock_fd)
            if isinstance(record, StateError):
                if held_by is None:
                    if not wait:
                        raise StateError(f"{record}; no deployment of {paths.stack} is running")
                    directory.remove(paths.record_name, record_file)
                    raise StateError(f"{record}; no deployment of {paths.stack} is running, so it was removed")
                raise StateError(f"{record}; a deployment of {paths.stack} holds {paths.lock}: left as it is")
            if record.lock != (lock_file.st_dev, lock_file.st_ino):
                raise StateError(f"refusing to signal pid {record.pid}: {paths.record} names another lock file "
                                 f"than {paths.lock} (device {record.lock[0]} inode {record.lock[1]}, not "
                                 f"{lock_file.st_dev} {lock_file.st_ino}): left as it is")
            if held_by is None:
                if not wait:
                    raise StateError(f"no deployment of {paths.stack} is running (nobody holds {paths.lock})")
                directory.remove(paths.record_name, record_file)
                return Stopped(record.pid, stale=True)
            if held_by <= 0:
                who = ("a process this PID namespace cannot see (the kernel names pid 0)" if held_by == 0 else
                       f"an open-file-description lock, which has no pid (the kernel names pid {held_by})")
                raise StateError(f"{paths.lock} is held by {who}: cannot tell whether it is the deployment the "
                                 f"record names (pid {record.pid}). Nothing was signalled and the record is kept; "
                                 "run `down` where `up` runs")
            if held_by != record.pid:
                raise StateError(f"refusing to signal pid {record.pid}: {paths.record} names it, but the running "
                                 f"deployment's lock is held by pid {held_by}; stop that process yourself if it is "
                                 "yours")
            _signal(directory, lock_fd, lock_file, record, timeout, signum=signum, wait=wait)
            return Stopped(record.pid, stale=False)
        finally:
            os.close(lock_fd)


def _signal(directory: _Directory, lock_fd: int, lock_file: os.stat_result, record: _Record,
            timeout: float, *, signum: int = signal.SIGTERM, wait: bool = True) -> None:
    """`signum` (SIGTERM) to the lock's holder through a pidfd, once the pinned process is proved to be the record's
    `up`; with `wait`, waits for it to end."""
    pid = record.pid
    if not hasattr(os, "pidfd_open"):
        raise StateError(f"this system cannot pin pid {pid} (no pidfd): stop `up` with Ctrl-C where it runs")
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        raise StateError(f"pid {pid} ended while `down` looked at it: nothing was signalled") from None
    except OSError as exc:
        raise StateError(f"cannot pin pid {pid} with a pidfd ({_why(exc)}): nothing was signalled") from None
    try:
        # The facts below are read through the pid, so they are the pinned process's only if it is still alive
        # afterwards (a pid is not reused while its process exists) and still holds the lock.
        problem = _not_the_deployment(pid, record, lock_file, directory.stat)
        if _ended(handle, 0):
            raise StateError(f"pid {pid} ended while `down` looked at it: nothing was signalled")
        if problem is None and _holder(lock_fd) != pid:
            problem = "the lock changed hands while `down` looked at it"
        if problem is not None:
            raise StateError(f"refusing to signal pid {pid}: it holds {directory.paths.lock}, but {problem}; "
                             "nothing was signalled and the record is kept")
        try:
            signal.pidfd_send_signal(handle, signum)
        except ProcessLookupError:
            if not wait:
                raise StateError(f"pid {pid} ended while localenv signalled it") from None
            return  # it ended on its own just now
        if wait and not _ended(handle, timeout):
            raise StillRunning(pid)
    finally:
        os.close(handle)


def _not_the_deployment(pid: int, record: _Record, lock_file: os.stat_result,
                        directory: os.stat_result) -> str | None:
    """Why process `pid` is not the `up` the record names (None: it is): its start time, and descriptors open
    on the lock's inode and on the state directory, as `up` keeps them."""
    try:
        started = _start_time(pid)
        open_files = _open_files(pid)
    except StateError as exc:
        return f"cannot tell whether it is the deployment: {exc}"
    if started != record.start_time:
        return (f"it started at tick {started} since boot, not at {record.start_time} as the record says "
                "(not the process that wrote it)")
    if (lock_file.st_dev, lock_file.st_ino) not in open_files:
        return "it has no descriptor open on that lock file"
    if (directory.st_dev, directory.st_ino) not in open_files:
        return "it does not keep the state directory open, as `up` does (not the process that made the lock)"
    return None


def _start_time(pid: int) -> int:
    """When process `pid` started, in clock ticks since boot (/proc/<pid>/stat field 22)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
        # the command name (field 2) is in parentheses and may hold spaces and parentheses: count after the last
        return int(text.rpartition(")")[2].split()[19])
    except (OSError, ValueError, IndexError) as exc:
        raise StateError(f"cannot read the start time of pid {pid} from /proc/{pid}/stat: "
                         f"{_why(exc) if isinstance(exc, OSError) else exc}") from None


def _open_files(pid: int) -> set[tuple[int, int]]:
    """(device, inode) of every file process `pid` has open (/proc/<pid>/fd)."""
    where = f"/proc/{pid}/fd"
    try:
        names = os.listdir(where)
    except OSError as exc:
        raise StateError(f"cannot list {where}: {_why(exc)}") from None
    found = set()
    for name in names:
        try:
            target = os.stat(f"{where}/{name}")
        except OSError:
            continue  # closed since the listing
        found.add((target.st_dev, target.st_ino))
    return found


def _ended(handle: int, timeout: float) -> bool:
    """Whether the pidfd's process has ended, waiting up to `timeout` seconds (a pidfd becomes readable then)."""
    poller = select.poll()
    poller.register(handle, select.POLLIN)
    return bool(poller.poll(timeout * 1000))
