"""pytest's removal of old sessions' temporary directories, started when the session starts instead of after its
last test.

pytest keeps the temporary directories of the last `tmp_path_retention_count` sessions (/tmp/pytest-of-<user>/
pytest-<n>) and removes the older ones when the session finishes: under pytest-xdist, in the controller, after every
worker has finished. One session of this suite leaves about 15,000 files there (copies of the sources and cloud
assemblies), so that removal took about 4 s of one core after the last test, the whole run waiting for it.

The xdist controller starts the same removal (pytest's own `cleanup_numbered_dir`, with the arguments pytest
registers for the session's end) as a process of the lowest priority when the session starts: it takes the cores
when the tests leave them idle, and the session's end waits for it (`Early.wait`) before pytest's own cleanup,
which then finds nothing left to remove. It removes exactly what pytest would: directories numbered below the newest
`tmp_path_retention_count`, each only once its lock (a live session's) is gone or older than pytest's lock timeout;
a directory is renamed away before it is removed, so two cleanups never remove the same one twice.

    python -m tests.old_temporaries ROOT KEEP DEAD_BEFORE   remove, as pytest's session end would (the process)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: How long the session's end waits for the early removal before pytest's own cleanup runs anyway (seconds).
WAIT = 120.0


class Early:
    """The removal started early (`start`); `wait` at the session's end."""

    def __init__(self, process: subprocess.Popen[bytes] | None) -> None:
        self.process = process

    def wait(self, timeout: float = WAIT) -> int | None:
        """Wait for the removal; its exit status, or None when none was started or it did not end in `timeout`
        seconds (pytest's own cleanup then removes what is left, as it always did)."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def arguments(config: Any) -> tuple[Path, int, float] | None:
    """What pytest's session end will remove old temporary directories with (the root, how many sessions to keep,
    the time before which a lock is stale), once this session's own directory is made; None when pytest removes
    none (a --basetemp given), when it keeps no session (its end then removes this session's own directory too,
    which it does not lock: only the end may), or when this pytest keeps its temporary directories otherwise."""
    from _pytest.pathlib import LOCK_TIMEOUT

    factory = config._tmp_path_factory
    if factory._given_basetemp is not None:
        return None
    keep = 0 if factory._retention_policy == "none" else int(factory._retention_count)
    if keep == 0:
        return None
    basetemp = factory.getbasetemp()  # made now rather than when the first worker starts: the same directory
    return basetemp.parent, keep, basetemp.stat().st_mtime - LOCK_TIMEOUT


def start(config: Any, environment: Mapping[str, str], root: Path) -> Early:
    """In the xdist controller: start removing the old temporary directories (`python -m tests.old_temporaries`, in
    `environment`, from `root`, at the lowest priority). Nothing is started when pytest would remove nothing; with
    a pytest whose internals differ, nothing either (it says so), and pytest's own cleanup runs at the end."""
    try:
        found = arguments(config)
    except (ImportError, AttributeError) as exc:
        print(f"tests/old_temporaries.py: this pytest has no {exc}: its session end removes the old temporary "
              "directories itself", file=sys.stderr)
        return Early(None)
    if found is None:
        return Early(None)
    top, keep, dead_before = found
    return Early(subprocess.Popen([sys.executable, "-m", "tests.old_temporaries", str(top), str(keep),
                                   repr(dead_before)], cwd=root, env=dict(environment), stdin=subprocess.DEVNULL))


def main(argv: list[str] | None = None) -> int:
    from _pytest.pathlib import cleanup_numbered_dir

    top, keep, dead_before = sys.argv[1:] if argv is None else argv
    os.nice(19)  # the cores' idle time: the tests come first
    try:
        cleanup_numbered_dir(Path(top), "pytest-", int(keep), float(dead_before))
    except KeyboardInterrupt:  # Ctrl-C, sent to the session's process group: pytest's end removes what is left
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
