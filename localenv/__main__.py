"""The local stand-in for AWS: the synthesized stack deployed into a moto server on 127.0.0.1.

    python -m localenv --suffix dev [--template T] [--outputs F]   deploy, run opscli audit + rotate-check, stop
    python -m localenv up --suffix dev [--template T] [--outputs F] [--port N] [--monitor-window SECONDS]
                                                                     deploy and keep it running (Ctrl-C stops)
    python -m localenv down --suffix dev                             stop the deployment `up` started
    python -m localenv schedule --suffix dev                         fire the posture monitor's schedule now

`up` also deploys the posture monitor (TapMonitor<suffix>, its template beside TapStack's) and runs its queue's
consumer, `python -m opscli.monitor`, as a process of its own until `down`; --no-monitor leaves both out, and
--monitor-window has the consumer batch changes for that many seconds instead of the deployed mapping's window. `up` run
again while that deployment runs starts its consumer again if it has ended (the running `up`, proved by its lock as
`down` proves it, is asked with SIGUSR1 and starts it; exit 0, or 3 if it ended again at once), and otherwise says
the deployment is up (exit 2).

The template defaults to cdk.out/TapStack<suffix>.template.json (scripts/main.sh writes it); the outputs to
cfn-outputs/<suffix>/flat-outputs.json, the stack record beside them (a file there that localenv did not write is
never replaced). `up` prints the endpoint and the environment to export, and records itself in
.cache/localenv/TapStack<suffix>.json.
Exit codes: 0 done (audit passed; up: stopped cleanly); 1 the audit or rotate-check found something;
2 usage error (bad suffix, missing template, an outputs path that cannot be written or holds a file localenv did
not write, a --reports directory that does not exist, nothing to stop or nothing `down` can prove is the
deployment);
3 deployment or audit could not complete (down: the deployment did not stop in time; up run again: the monitor's
consumer ended again at once, or the running `up` did not answer).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cdk_app.config import AppConfig
from localenv import outputs
from localenv import state as statefile
from localenv.inputs import ROOT, UsageError, load_stack
from localenv.outputs import stack_record_path
from platform_spec import monitor
from platform_spec.exit_codes import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE
from platform_utils import files
from platform_utils.signals import on_signals

STATE_DIR = ROOT / ".cache" / "localenv"
# What asks a running `up` to start its monitor's consumer again if it has ended; `up` handles it from the moment it
# holds its lock, before it writes the record that names it (the default action of SIGUSR1 would end it).
RESTART_SIGNAL = signal.SIGUSR1
RESTART_WAIT = 60.0  # seconds `up` waits for the running `up` to answer (it looks twice a second; a start takes 3)


def deploy(template: dict, config: AppConfig, endpoint_url: str, outputs_path: Path, *,
           quiet: bool = False) -> dict[str, str]:
    import boto3

    from localenv.deploy import Deployer, default_secret_values

    session = boto3.Session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                            region_name=config.region)
    deployer = Deployer(template, config, session=session, endpoint_url=endpoint_url)
    deployer.seed_secrets(default_secret_values(config))
    result = deployer.deploy()
    # cfn-outputs/<suffix>/ is this tool's own directory, absent in a fresh clone; a path a user named is not made
    outputs.write(outputs_path, json.dumps(result.outputs, indent=2, sort_keys=True) + "\n", "outputs file",
                  make_parents=outputs.is_default(outputs_path, config.environment_suffix))
    record_path = stack_record_path(outputs_path)
    outputs.write(record_path, json.dumps(result.record, indent=1) + "\n", "stack record")
    if not quiet:
        print(f"deployed {len(result.created)} resources of {config.stack_name} to {endpoint_url}; "
              f"{len(result.skipped)} not emulated:")
        for logical_id, rtype, reason in result.skipped:
            print(f"  - {rtype:<38} {logical_id}: {reason}")
        print(f"wrote {outputs_path} and {record_path}")
    return result.outputs


@contextmanager
def deployed(template: dict, config: AppConfig, outputs_path: Path, *, port: int | None = None,
             quiet: bool = False) -> Iterator[str]:
    """A moto server with the stack deployed into it, for the duration of the block; yields its endpoint.

    The process's cyclic garbage collector is off until the deployment is up: moto's backends and the deployment
    make hundreds of thousands of objects that live as long as the emulator, and the collector scanned them again
    and again on the way up (bench/README.md). What exists once the emulator serves (modules, classes, moto's
    models) is frozen out of every scan as it is: the few thousand objects the imports left unreachable (well under
    a megabyte) are kept rather than found by scanning a quarter of a million live ones. After the deployment one
    collection, of what the deployment made (the deployer's clients are most of its garbage), those objects are
    frozen too, and collection goes on as usual for what the requests make. For the entry points only (`up` and
    the deploy-audit-stop run): the collector belongs to the whole process, and so does moto's serializer, which
    picks the members of its answers faster here (localenv.emulator.serve_answers_faster)."""
    from localenv.emulator import moto_server, serve_answers_faster

    serve_answers_faster()
    gc.disable()
    try:
        with moto_server(port) as endpoint:
            gc.freeze()
            start = time.perf_counter()
            deploy(template, config, endpoint, outputs_path, quiet=quiet)
            took = time.perf_counter() - start
            gc.collect()
            gc.freeze()
            gc.enable()
            if not quiet:
                print(f"local deployment took {took:.1f}s")
            yield endpoint
    finally:
        gc.enable()


def state_file(config: AppConfig, state_dir: Path = STATE_DIR) -> statefile.Paths:
    """The record and the lock of this stack's `up`."""
    return statefile.Paths.for_stack(state_dir, config.stack_name)


def run_once(config: AppConfig, template: dict, outputs: Path, reports: Path | None = None) -> int:
    from localenv.emulator import LOCAL_CREDENTIALS

    os.environ.update(LOCAL_CREDENTIALS)
    codes = {}
    if reports:
        reports.mkdir(exist_ok=True)  # reports/, this tool's own (a directory the user named exists by now)
    with deployed(template, config, outputs) as endpoint:
        env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "NO_COLOR": "1"}
        for name, command in (
            ("audit", ["audit", "--outputs", str(outputs), "--only-failed", *(
                ["--report", f"html={reports / 'audit.html'}", "--report", f"sarif={reports / 'audit.sarif'}",
                 "--report", f"json={reports / 'audit.json'}"] if reports else [])]),
            ("rotate-check secrets", ["rotate-check", "secrets", "--suffix", config.environment_suffix]),
        ):
            print(f"\n== opscli {name} (against the local emulator)", flush=True)
            codes[name] = subprocess.run([sys.executable, "-m", "opscli", *command], env=env).returncode
    print("\n== summary: " + ", ".join(f"opscli {k} exit {v}" for k, v in codes.items()))
    if reports:
        print(f"   audit reports: {reports / 'audit.html'} (open in a browser), audit.sarif, audit.json")
    return max(codes.values())


def up(config: AppConfig, template: dict, outputs: Path, *, port: int | None, state: statefile.Paths,
       monitor_template: dict | None = None, monitor_window: float | None = None) -> int:
    """Deploy and serve until SIGTERM or Ctrl-C. The lock held for the whole run says which process this is; the
    state record says where (and is removed on the way out). With `monitor_template`, TapMonitor<suffix> is
    deployed too and its consumer runs beside the emulator (localenv.monitor), batching for `monitor_window`
    seconds when given, else as the deployed event source mapping does."""
    from localenv.emulator import LOCAL_CREDENTIALS  # moto and boto3 load here, not for `down`

    if monitor_template is not None:
        from localenv.monitor import check_window

        check_window(monitor_template, monitor_window)  # a usage error before both stacks are deployed
    held = statefile.acquire(state)
    if held is None and monitor_window is not None:
        raise UsageError(f"{config.stack_name} is already up: --monitor-window applies when `up` deploys, and its "
                         f"consumer keeps the window it started with (python -m localenv down --suffix "
                         f"{config.environment_suffix}, then up again)")
    if held is None and monitor_template is not None:
        restarted = restart_monitor(config, state)
        if restarted is not None:
            return restarted
    if held is None:
        running = _quietly(statefile.read_record, state) or {}
        endpoint, pid = running.get("endpoint", "?"), statefile.holder(state)
        endpoint = endpoint if isinstance(endpoint, str) and endpoint.isprintable() else repr(endpoint)
        raise UsageError(f"{config.stack_name} is already up at {endpoint} ("
                         f"{f'pid {pid}' if pid else 'held by a process this PID namespace cannot see'}): "
                         f"python -m localenv down --suffix {config.environment_suffix}")
    stop, restart = threading.Event(), threading.Event()
    on_signals((signal.SIGTERM, RESTART_SIGNAL), lambda signum: (stop if signum == signal.SIGTERM else restart).set())
    os.environ.update(LOCAL_CREDENTIALS)
    try:
        with deployed(template, config, outputs, port=port, quiet=True) as endpoint, \
                _monitor(config, monitor_template, endpoint, outputs, state, monitor_window) as watching:
            fields = {"endpoint": endpoint, "outputs": str(outputs.resolve()),
                      "stack_record": str(stack_record_path(outputs).resolve()), "suffix": config.environment_suffix,
                      "environment": {**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}}
            # any earlier record is stale: this process holds the lock
            record = held.write_record({**fields, **({"monitor": watching.record} if watching else {})})
            exports = " ".join(f"{k}={v}" for k, v in record["environment"].items())
            print(f"{config.stack_name} is up on the local emulator at {endpoint} (pid {os.getpid()})\n"
                  f"  outputs: {outputs}\n"
                  f"  export {exports}\n"
                  f"  then e.g.: opscli audit --outputs {outputs}\n"
                  f"stop it with Ctrl-C or: python -m localenv down --suffix {config.environment_suffix}",
                  flush=True)
            if watching:
                print(watching.status(), flush=True)
            serve(held, fields, watching, stop=stop, restart=restart)
    except KeyboardInterrupt:
        pass
    finally:
        held.release()
    return EXIT_OK


def serve(held: statefile.Held, fields: dict[str, Any], watching: Watching | None, *, stop: threading.Event,
          restart: threading.Event) -> None:
    """What `up` does until `stop`, twice a second: say once if the monitor's consumer has ended, and answer a
    `restart` request (RESTART_SIGNAL) by starting it again if it has ended, then rewriting the record (`fields`
    and the monitor's), which is the answer `up` run again waits for."""
    while not stop.wait(0.5):
        if watching:
            watching.report_exit()
        if restart.is_set():
            restart.clear()
            if watching:
                watching.restart()
                held.write_record({**fields, "monitor": watching.record})
                print(watching.status(), flush=True)


class Watching:
    """The monitor beside a running `up`: its deployment's outputs and its consumer (started again on request)."""

    def __init__(self, running: Any, suffix: str) -> None:
        self.running, self.suffix = running, suffix
        self.reported = self.consumer.exited() is not None
        self.answered = 0  # restart requests answered (the record says so: `up` run again waits for it)

    @property
    def consumer(self) -> Any:
        return self.running.consumer

    @property
    def record(self) -> dict[str, Any]:
        """The state record's `monitor`: where it is, and which process its consumer is (pid and start time, so
        that `up` run again can tell whether it still runs), how many times it was started and whether it has
        exited."""
        outputs, consumer = self.running.deployed.outputs, self.consumer
        return {"queue_url": outputs[monitor.OUTPUT_QUEUE_URL], "outputs": outputs, "log": str(consumer.log),
                "endpoint": self.running.endpoint, "ca_bundle": str(self.running.ca_bundle),
                "consumer": {**(consumer.identity.to_dict() if consumer.identity else {}),
                             "started": self.running.restarts + 1, "answered": self.answered,
                             "exited": consumer.exited()}}

    def status(self) -> str:
        from localenv.monitor import status_line

        deployed = self.running.deployed
        if deployed.mapping_window is None:
            return status_line(self.consumer)
        given, mapping = monitor.window_text(deployed.window), monitor.window_text(deployed.mapping_window)
        return (f"{status_line(self.consumer)}\n  monitor: batches for {given} s (--monitor-window; the deployed "
                f"mapping's window is {mapping} s)")

    def restart(self) -> bool:
        """Start the consumer again if it has ended (see localenv.monitor.Running.restart)."""
        self.answered += 1
        if not self.running.restart():
            return False
        self.reported = self.consumer.exited() is not None
        return True

    def report_exit(self) -> None:
        """Say once, on stderr, that the consumer has ended (the emulator goes on serving)."""
        if not self.reported and self.consumer.exited() is not None:
            self.reported = True
            print(f"error: the posture monitor exited with {self.consumer.exited()}; the stacks stay up without "
                  f"it (log: {self.consumer.log}); start it again: python -m localenv up --suffix {self.suffix}",
                  file=sys.stderr, flush=True)


def restart_monitor(config: AppConfig, state: statefile.Paths, *, wait: float = RESTART_WAIT) -> int | None:
    """`up` run while this stack's deployment runs: if the record names its monitor's consumer and that process
    no longer runs (no such process, one that has ended, or its pid now names a process that started at another
    time), ask the running `up` to start it again and wait for its answer in the record; the exit code (0 started,
    3 it ended again at once or no answer came). None when there is nothing to start again (the consumer runs, the
    deployment is up without its monitor, or its record names no consumer): `up` then says it is up.

    Only the running `up`, proved by the kernel as `down` proves it, is signalled, and it only starts the consumer
    again if it saw it end (its own child, which it waited for); nothing else is signalled."""
    from localenv import processes

    record = statefile.read_record(state) or {}
    monitor = record.get("monitor")
    before = monitor.get("consumer") if isinstance(monitor, dict) else None
    if not isinstance(before, dict):
        return None
    identity = processes.Identity.from_dict(before)
    if identity is not None and identity.running():
        return None
    pid = statefile.notify(state, RESTART_SIGNAL)
    deadline = time.monotonic() + wait
    while True:
        now = _quietly(statefile.read_record, state) or {}
        monitor = now.get("monitor")
        after = monitor.get("consumer") if isinstance(monitor, dict) else None
        if isinstance(after, dict) and after.get("answered") != before.get("answered"):
            break
        if time.monotonic() > deadline:
            print(f"error: {config.stack_name}'s `up` (pid {pid}) did not answer within {wait:.0f}s; its output "
                  "says why", file=sys.stderr)
            return EXIT_INCOMPLETE
        time.sleep(0.2)
    started = processes.Identity.from_dict(after)
    if after.get("started") == before.get("started"):
        print(f"{config.stack_name} is up (pid {pid}) and its posture monitor runs (pid "
              f"{started.pid if started else '?'}): nothing to start")
        return EXIT_OK
    code = after.get("exited")
    log = monitor.get("log") if isinstance(monitor, dict) else None
    shown = log if isinstance(log, str) and log.isprintable() else "(not recorded)"
    if code is not None or started is None:
        print(f"error: {config.stack_name}'s posture monitor was started again but exited at once with {code}; "
              f"its log: {shown}", file=sys.stderr)
        return EXIT_INCOMPLETE
    print(f"{config.stack_name} is up (pid {pid}); its posture monitor had ended and runs again (pid {started.pid}; "
          f"log: {shown})")
    return EXIT_OK


@contextmanager
def _monitor(config: AppConfig, template: dict | None, endpoint: str, outputs: Path,
             state: statefile.Paths, window: float | None = None) -> Iterator[Watching | None]:
    """TapMonitor<suffix> deployed and its consumer running for the block, or nothing when left out."""
    if template is None:
        yield None
        return
    from localenv import monitor as local_monitor

    log = local_monitor.log_path(state.directory, config)
    with local_monitor.running(config, template, endpoint, outputs, log, os.environ, window=window) as running:
        yield Watching(running, config.environment_suffix)


def schedule(config: AppConfig, state: statefile.Paths) -> int:
    """Fire the monitor's schedule of the running `up` of this suffix: its message, sent to its queue now."""
    from localenv.monitor import fire_schedule

    if statefile.holder(state) is None:
        raise UsageError(f"no local deployment of {config.stack_name} is running: "
                         f"python -m localenv up --suffix {config.environment_suffix}")
    record = statefile.read_record(state) or {}
    try:
        message = fire_schedule(record, config)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - the emulator did not take the message: one line, exit 3
        print(f"error: the schedule's message was not sent: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INCOMPLETE
    print(f"sent the schedule's message to the monitor's queue of {config.stack_name} (message {message})")
    return EXIT_OK


def _quietly(read: Any, state: statefile.Paths) -> Any:
    try:
        return read(state)
    except statefile.StateError:
        return None


def down(config: AppConfig, state: statefile.Paths, *, timeout: float = 10) -> int:
    """Stop the `up` of this stack: only the process the kernel proves is the one its record and lock name (see
    localenv.state); anything else is refused with exit 2 and left as it is."""
    try:
        stopped = statefile.stop(state, timeout=timeout)
    except statefile.StateError as exc:
        raise UsageError(str(exc)) from None
    except statefile.StillRunning as exc:
        print(f"error: pid {exc.pid} did not stop within {timeout:.0f}s", file=sys.stderr)
        return EXIT_INCOMPLETE
    if stopped.stale:
        print(f"{config.stack_name} was not running (stale record of pid {stopped.pid} removed)")
    else:
        print(f"stopped {config.stack_name} (pid {stopped.pid})")
    return EXIT_OK


def _file_path(text: str) -> Path:
    """A path that names a file, checked as typed: Path() would turn "out/" into a file named out."""
    if not files.names_a_file(text):
        raise argparse.ArgumentTypeError(f"{text} names a directory; name the file, e.g. {text.rstrip('/')}/"
                                         "flat-outputs.json")
    return Path(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localenv", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("command", nargs="?", choices=("run", "up", "down", "schedule"), default="run")
    parser.add_argument("--suffix", default="dev")
    parser.add_argument("--template", type=Path)
    parser.add_argument("--outputs", type=_file_path,
                        help="where the stack's flat outputs go, the stack record beside them (default: "
                             "cfn-outputs/SUFFIX/flat-outputs.json; another file's directory must exist)")
    parser.add_argument("--port", type=int, help="up: the emulator's port (default: a free one)")
    parser.add_argument("--reports", type=Path,
                        help="run: the existing directory the audit's HTML, SARIF and JSON reports go to (default: "
                             "reports, made when missing)")
    parser.add_argument("--no-monitor", action="store_true",
                        help="up: leave the posture monitor (its stack and its consumer) out")
    parser.add_argument("--monitor-window", type=monitor.window_argument, metavar="SECONDS",
                        help="up: the monitor's consumer batches changes for SECONDS (default: the deployed event "
                             "source mapping's window, as Lambda would; shorter for quicker feedback)")
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.monitor_window is not None and (args.command != "up" or args.no_monitor):
            raise UsageError("--monitor-window is the window of `up`'s posture monitor: give it to `up`, without "
                             "--no-monitor")
        if args.command == "down":
            config = AppConfig.for_suffix(args.suffix)
            return down(config, state_file(config, args.state_dir))
        if args.command == "schedule":
            config = AppConfig.for_suffix(args.suffix)
            return schedule(config, state_file(config, args.state_dir))
        config, template = load_stack(args.suffix, args.template, synthesized_by="scripts/main.sh")
        args.outputs = args.outputs or outputs.default_path(config.environment_suffix)
        outputs.preflight(args.outputs, config.environment_suffix)
        if args.reports is not None and not args.reports.is_dir():
            raise UsageError(f"--reports {args.reports} is not a directory (none is made for a path you name: create "
                             "it, or leave --reports out for reports/)")
        args.reports = args.reports or ROOT / "reports"
    except ValueError as exc:  # UsageError, StateError, FileRefused, or ConfigError from AppConfig.for_suffix
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "up":
            return up(config, template, args.outputs, port=args.port, state=state_file(config, args.state_dir),
                      monitor_template=_monitor_template(config, args), monitor_window=args.monitor_window)
        return run_once(config, template, args.outputs, args.reports)
    except (UsageError, statefile.StateError, files.FileRefused) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the deployment could not complete: one line, exit 3
        print(f"error: the local deployment failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INCOMPLETE


def _monitor_template(config: AppConfig, args: argparse.Namespace) -> dict | None:
    """The monitor's template for `up` (beside TapStack's), or None with --no-monitor."""
    if args.no_monitor:
        return None
    from localenv.monitor import load_template

    return load_template(config, args.template)


if __name__ == "__main__":
    sys.exit(main())
