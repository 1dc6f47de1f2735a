"""Child processes this package starts: the one way both the workloads and the monitor's consumer end, and what
tells whether a recorded child still runs."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path


def stop(process: subprocess.Popen, timeout: float) -> int:
    """SIGTERM (a clean stop, as ECS and Lambda's runtime give), then SIGKILL if it does not exit within `timeout`
    seconds. Only `process`, which the caller started, is ever signalled. Returns its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@dataclass(frozen=True)
class Identity:
    """A process as the kernel tells it apart: its pid and its start time (clock ticks since boot, /proc/<pid>/stat
    field 22). A pid is reused; the pair is not."""

    pid: int
    start_time: int

    @classmethod
    def of(cls, pid: int) -> Identity | None:
        """The process `pid` now; None when there is none (or it is a zombie: it has ended)."""
        found = _stat(pid)
        return None if found is None or found[0] in "ZX" else cls(pid, found[1])

    def running(self) -> bool:
        """Whether this very process still runs: `pid` names a live process that started at `start_time`. A pid
        that names nothing, a zombie, or a process started at another time (the pid reused) is not it."""
        return Identity.of(self.pid) == self

    def to_dict(self) -> dict[str, int]:
        return {"pid": self.pid, "start_time": self.start_time}

    @classmethod
    def from_dict(cls, value: object) -> Identity | None:
        """The identity a record holds; None when it holds none (not both integers, a pid below 1)."""
        if not isinstance(value, dict):
            return None
        pid, start = value.get("pid"), value.get("start_time")
        if type(pid) is not int or type(start) is not int or pid < 1:
            return None
        return cls(pid, start)


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time) of process `pid` from /proc/<pid>/stat; None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces and parentheses: count after the last one
    fields = text.rpartition(")")[2].split()
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None
