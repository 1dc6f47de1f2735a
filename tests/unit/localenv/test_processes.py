"""The child processes localenv starts (localenv/processes.py): `Identity` tells a running process from a pid that
names nothing, a zombie or another process. `stop` ends every workload and consumer the tests start
(tests/unit/localenv/test_monitor_restart.py, tests/services/test_pipeline.py, the shared deployment)."""

from __future__ import annotations

import os
import subprocess
import sys

from localenv import processes
from tests.conftest import unmeasured
from tests.polling import poll


def test_a_process_is_told_by_its_pid_and_start_time():
    me = processes.Identity.of(os.getpid())
    assert me is not None and me.running()
    assert not processes.Identity(me.pid, me.start_time + 1).running()  # the pid reused by another process
    assert processes.Identity.from_dict(me.to_dict()) == me
    assert all(processes.Identity.from_dict(v) is None for v in (None, {"pid": 0, "start_time": 1},
                                                                 {"pid": "1", "start_time": 1}, {"pid": True}))
    child = subprocess.Popen([sys.executable, "-c", "pass"], env=unmeasured(os.environ))  # none of our code
    try:
        # A zombie until waited for: it has ended.
        poll(lambda: processes.Identity.of(child.pid) is None, "the child's end", 60, every=0.05)
    finally:
        child.wait()
