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


def test_sigterm_stops_the_service_when_its_log_cannot_be_written():
    child = textwrap.dedent("""
        import io, os, signal
        from services.common.lifecycle import Shutdown
        from services.common.log import JsonLogger

        closed = io.StringIO()
        closed.close()  # the log's reader is gone
        shutdown = Shutdown().install(JsonLogger("test", stream=closed))
        os.kill(os.getpid(), signal.SIGTERM)
        assert shutdown.stop.wait(20)
        print("stopped")
    """)
    done = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "stopped"), done.stderr
    assert "error: handling signal 15: ValueError('I/O operation on closed file')" in done.stderr
