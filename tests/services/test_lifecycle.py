"""services.common.lifecycle: SIGTERM stops a service whatever its main thread was doing when it came, a log
line half written among it (the metadata API, stopped just after it logged `api_started`, once ignored SIGTERM
until ECS would have killed it)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import ROOT

CHILD = textwrap.dedent("""
    import os, signal
    from services.common.lifecycle import Shutdown
    from services.common.log import JsonLogger

    logger = JsonLogger("test")
    shutdown = Shutdown().install(logger)
    with logger._lock:  # the main thread is writing a line when SIGTERM comes
        os.kill(os.getpid(), signal.SIGTERM)
        sum(range(100_000))
    assert shutdown.stop.wait(20)
    logger.info("stopped")
""")


def test_sigterm_during_a_log_line_is_logged_and_stops_the_service():
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(e["event"], e.get("signal")) for e in events] == [("shutdown_requested", "SIGTERM"), ("stopped", None)]
