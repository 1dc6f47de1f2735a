"""`localenv up` run again while its deployment runs: the monitor's consumer is started again only when the process
the record names no longer runs, and only by the running `up` (its own child). Without the emulator: a stand-in
`up` runs the real loop (`localenv.__main__.serve`) with a consumer that sleeps."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from cdk_app.config import AppConfig
from localenv import processes, state
from localenv.__main__ import restart_monitor
from tests.conftest import ROOT
from tests.polling import poll

SUFFIX = "restart"
# The consumer: says so, then sleeps; exits 5 at once when the flag file exists.
CONSUMER = ("import os, sys, time; print('consuming', flush=True); "
            "sys.exit(5) if os.path.exists(sys.argv[1]) else time.sleep(600)")
# `up` without the emulator: its lock, a monitor whose consumer is CONSUMER, its record, then its loop.
FAKE_UP = f"""import signal, sys, threading
from pathlib import Path
from localenv import monitor, state
from localenv.__main__ import RESTART_SIGNAL, Watching, serve
from platform_utils.signals import on_signals
directory, flag = Path(sys.argv[1]), sys.argv[2]
# The grace in which a consumer that ends is said to end "at once": short for the consumer that sleeps (it runs
# whatever the grace), long for the one the flag makes exit (the wait ends when it exits, however busy the machine).
_start = monitor.start
monitor.start = lambda argv, log, env, grace=None, heard=None: _start(
    argv, log, env, grace=60.0 if Path(flag).exists() else 0.3)
held = state.acquire(state.Paths.for_stack(directory, "TapStack{SUFFIX}"))
stop, restart = threading.Event(), threading.Event()
# as `up` installs them (platform_utils.signals): a handler setting `stop` in the main thread can deadlock in stop.wait
on_signals((signal.SIGTERM, RESTART_SIGNAL), lambda signum: (stop if signum == signal.SIGTERM else restart).set())
consumer = monitor.start([sys.executable, "-c", {CONSUMER!r}, flag], directory / "TapMonitor{SUFFIX}.log", {{}})
running = monitor.Running(monitor.Deployed({{"MonitorQueueUrl": "http://127.0.0.1:1/q"}}, {{}}, 2), consumer,
                          "https://127.0.0.1:1", directory / "ca.pem")
watching = Watching(running, "{SUFFIX}")
fields = {{"endpoint": "http://127.0.0.1:1"}}
held.write_record({{**fields, "monitor": watching.record}})
print("up", flush=True)
try:
    serve(held, fields, watching, stop=stop, restart=restart)
finally:
    watching.consumer.stop()
    held.release()
"""


@contextlib.contextmanager
def fake_up(directory: Path, flag: Path) -> Iterator[subprocess.Popen]:
    with subprocess.Popen([sys.executable, "-c", FAKE_UP, str(directory), str(flag)], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True) as process:  # its pipe closed on the way out
        try:
            assert process.stdout.readline() == "up\n"
            yield process
        finally:
            processes.stop(process, 30)


def consumer_of(directory: Path) -> processes.Identity:
    record = json.loads((directory / f"TapStack{SUFFIX}.json").read_text())
    identity = processes.Identity.from_dict(record["monitor"]["consumer"])
    assert identity is not None, record
    return identity


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def killed(identity: processes.Identity) -> None:
    """SIGKILL, then until it has ended (the signal is delivered, not waited for)."""
    os.kill(identity.pid, signal.SIGKILL)
    poll(lambda: not identity.running(), f"pid {identity.pid} ended", 60, every=0.05)


def test_up_run_again_starts_the_consumer_again_only_once_it_has_ended(tmp_path, capsys):
    config = AppConfig.for_suffix(SUFFIX)
    paths = state.Paths.for_stack(tmp_path, config.stack_name)
    flag = tmp_path / "exit-at-once"
    with fake_up(tmp_path, flag) as up:
        first = consumer_of(tmp_path)
        assert first.running()
        assert restart_monitor(config, paths) is None  # it runs: `up` says the deployment is up, signals nothing
        assert consumer_of(tmp_path) == first

        assert parent_of(first.pid) == up.pid  # the stand-in's own child, killed as kill -9 would
        killed(first)
        assert restart_monitor(config, paths) == 0
        second = consumer_of(tmp_path)
        assert second != first and second.running() and parent_of(second.pid) == up.pid
        assert f"runs again (pid {second.pid}" in capsys.readouterr().out
        assert (tmp_path / f"TapMonitor{SUFFIX}.previous.log").read_text() == "consuming\n"  # why it ended: kept

        flag.touch()  # started again, it ends at once: said, exit 3
        killed(second)
        assert restart_monitor(config, paths) == 3
        assert "exited at once with 5" in capsys.readouterr().err


def test_a_deployment_whose_record_names_no_consumer_is_left_alone(tmp_path):
    """An `up` without its monitor (or one that records no consumer) is never signalled: `up` says it is up."""
    config = AppConfig.for_suffix(SUFFIX)
    paths = state.Paths.for_stack(tmp_path, config.stack_name)
    held = state.acquire(paths)
    try:
        for monitor in (None, {"queue_url": "q"}, {"consumer": "pid 1"}):
            held.write_record({} if monitor is None else {"monitor": monitor})
            assert restart_monitor(config, paths) is None
    finally:
        held.release()
