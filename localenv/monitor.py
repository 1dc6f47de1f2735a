"""The posture monitor locally: TapMonitor<suffix> deployed into the emulator after TapStack<suffix>, its queue's
consumer (`python -m opscli.monitor`) run as a real process, as the pipeline runs the workloads, and the schedule
fired on demand by sending its message to the queue (the emulator never fires a Scheduler schedule).

The consumer stands in for the function's SQS event source mapping, which the deployer creates disabled: an enabled
mapping would have the emulator hand the queue's messages to a function it cannot run. It runs with what the
function would (the suffix, bucket and namespace of the function's environment) and talks to the emulator over
HTTPS, through a listener beside the plain one with a CA made for the run: the report bucket is TLS-only."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cdk_app.config import AppConfig
from localenv import processes
from localenv.inputs import ROOT, UsageError
from platform_spec import monitor
from platform_utils import files

# How long `up` watches a fresh consumer, at most, before it says it runs: one that cannot start (a missing module, bad
# arguments) exits well within this; one that runs is reported as running, whatever it does later. A consumer that
# has made its first request to the emulator has started: it is reported as running then (`start`'s `heard`).
START_GRACE = 3.0
STOP_TIMEOUT = 15.0
CONSUMER_POLL = 1  # seconds the consumer's receives wait for a first message (its --poll)
#: How long `Consumer.exited` waits for a consumer the kernel shows ended (its last threads ending).
REAP_TIMEOUT = 5.0
LOG_TAIL = 2000  # characters of the consumer's log shown when it exits


def template_path(config: AppConfig, tap_template: Path | None) -> Path:
    """The monitor's template: beside TapStack's (`--template T` names TapStack's; the app writes both into one
    cloud assembly), else cdk.out/TapMonitor<suffix>.template.json."""
    name = f"{monitor.stack_name(config.environment_suffix)}.template.json"
    return (tap_template.parent if tap_template is not None else ROOT / "cdk.out") / name


def load_template(config: AppConfig, tap_template: Path | None) -> dict[str, Any]:
    path = template_path(config, tap_template)
    try:
        template = files.read_json(path, "monitor template")
    except FileNotFoundError:
        raise UsageError(f"no template of {monitor.stack_name(config.environment_suffix)} at {path}: synthesize "
                         "the app (scripts/main.sh writes both stacks), or leave the monitor out with "
                         "--no-monitor") from None
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None  # the message names the file and what is wrong
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise UsageError(f"monitor template {path} is not a CloudFormation template (no Resources)")
    return template


def outputs_path(tap_outputs: Path) -> Path:
    """Where the monitor's outputs go: beside TapStack's outputs file."""
    return tap_outputs.with_name(f"{tap_outputs.stem}.monitor{tap_outputs.suffix or '.json'}")


@dataclass(frozen=True)
class Deployed:
    """TapMonitor<suffix> in the emulator: its outputs and its function's environment (what Lambda would run the
    handler with: the suffix, the report bucket, the metric's namespace)."""

    outputs: dict[str, str]
    environment: dict[str, str]
    window: float  # seconds: the event source mapping's batching window (MaximumBatchingWindowInSeconds)
    batch_size: int = monitor.BATCH_SIZE  # messages: the mapping's BatchSize
    mapping_window: float | None = None  # the mapping's window, when `window` is another (`with_window`)

    def with_window(self, seconds: float | None) -> Deployed:
        """The consumer's batching window `seconds` instead of the mapping's (`up --monitor-window`), or this one
        when None. Raises UsageError when the SQS event source would refuse that window for the mapping's batch
        size: the consumer batches as a mapping could."""
        if seconds is None:
            return self
        _refuse_window(seconds, self.batch_size)
        return replace(self, window=seconds, mapping_window=self.window)


def check_window(template: Mapping[str, Any], seconds: float | None) -> None:
    """Before anything is deployed: raises UsageError when the SQS event source would refuse a batching window of
    `seconds` for the batch size the monitor template gives its event source mapping (Lambda's default for SQS,
    10, when it gives none). A template that does not say it plainly (no mapping, several, or an expression) is
    left to the deployed mapping's check (Deployed.with_window)."""
    if seconds is None:
        return
    mappings = [resource.get("Properties") or {} for resource in template.get("Resources", {}).values()
                if isinstance(resource, dict) and resource.get("Type") == "AWS::Lambda::EventSourceMapping"]
    size = mappings[0].get("BatchSize", 10) if len(mappings) == 1 and isinstance(mappings[0], dict) else None
    if type(size) is int:
        _refuse_window(seconds, size)


def _refuse_window(seconds: float, batch_size: int) -> None:
    refused = monitor.window_refused(seconds, batch_size)
    if refused:
        raise UsageError(f"--monitor-window {monitor.window_text(seconds)}: {refused}")


def deploy(template: Mapping[str, Any], config: AppConfig, endpoint_url: str, tap_outputs: Path) -> Deployed:
    """Create TapMonitor<suffix>'s resources in the emulator at `endpoint_url`; its outputs (also written beside
    TapStack's) and its function's environment. Raises UsageError when the template lacks an output or a variable
    the consumer needs."""
    import boto3

    from localenv.deploy import Deployer

    session = boto3.Session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                            region_name=config.region)
    result = Deployer(template, config, session=session, endpoint_url=endpoint_url,
                      stack_name=monitor.stack_name(config.environment_suffix)).deploy()
    missing = [key for key in monitor.OUTPUTS if not result.outputs.get(key, "").strip()
               or result.outputs[key].startswith("UNRESOLVED")]
    if missing:
        raise UsageError(f"the monitor's template gave no {', '.join(missing)}: is it {monitor.STACK_PREFIX}'s?")
    functions = session.client("lambda", endpoint_url=endpoint_url)
    name = result.outputs[monitor.OUTPUT_FUNCTION]
    environment = (functions.get_function_configuration(FunctionName=name).get("Environment") or {}).get(
        "Variables") or {}
    unset = [variable for variable in (monitor.ENV_SUFFIX, monitor.ENV_BUCKET, monitor.ENV_NAMESPACE,
                                       monitor.ENV_DEAD_LETTER_QUEUE, monitor.ENV_MAX_RECEIVES)
             if not environment.get(variable)]
    mappings = functions.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    if unset:
        raise UsageError(f"the monitor's function sets no {', '.join(unset)}: is the template "
                         f"{monitor.STACK_PREFIX}'s?")
    if len(mappings) != 1:
        raise UsageError(f"the monitor's function has {len(mappings)} event source mappings, not its queue's one: "
                         f"is the template {monitor.STACK_PREFIX}'s?")
    files.write_whole(outputs_path(tap_outputs), json.dumps(result.outputs, indent=2, sort_keys=True) + "\n",
                      "monitor outputs file", make_parents=True)
    return Deployed(result.outputs, environment, int(mappings[0].get("MaximumBatchingWindowInSeconds") or 0),
                    int(mappings[0].get("BatchSize") or 10))  # Lambda's default batch for SQS: 10


def command(config: AppConfig, deployed: Deployed, endpoint_url: str) -> list[str]:
    """The consumer's command line (the contract's `python -m opscli.monitor ...`): the queue of the outputs, the
    suffix, bucket, namespace, dead-letter queue and maximum receives the function's environment names, the
    batching window and batch size of its event source mapping, and the emulator's HTTPS endpoint (the report
    bucket, like every bucket of the stacks, refuses requests that are not over TLS). Its receives wait CONSUMER_POLL
    seconds for a first message: `down` (and Ctrl-C) waits for the receive under way, and a local consumer's idle
    receives cost only the emulator a request each."""
    env = deployed.environment
    return [sys.executable, "-m", monitor.LOCAL_MODULE, "--suffix", env[monitor.ENV_SUFFIX],
            "--queue-url", deployed.outputs[monitor.OUTPUT_QUEUE_URL], "--endpoint-url", endpoint_url,
            "--region", config.region, "--bucket", env[monitor.ENV_BUCKET],
            "--namespace", env[monitor.ENV_NAMESPACE], "--window", monitor.window_text(deployed.window),
            "--batch-size", str(deployed.batch_size), "--poll", str(CONSUMER_POLL),
            "--dead-letter-queue-url", env[monitor.ENV_DEAD_LETTER_QUEUE],
            "--max-receives", env[monitor.ENV_MAX_RECEIVES]]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """The consumer gets SIGTERM when `up` dies, even by SIGKILL (Linux's PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


@dataclass
class Consumer:
    """The running consumer: its process (and who the kernel says it is, for the state record), its log file
    (stdout and stderr) and the command line and environment it was started with."""

    process: subprocess.Popen
    log: Path
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    identity: processes.Identity | None = None  # None: it had ended before it could be looked at

    def exited(self) -> int | None:
        """Its exit code, or None while it runs. One the kernel already shows ended is waited for (at most
        REAP_TIMEOUT): a process whose main thread has exited is a zombie in /proc at once, but its parent's wait
        reports it only when its other threads have ended too (the consumer reads with a pool of threads), and a
        request to start it again must not be answered "it runs"."""
        code = self.process.poll()
        if code is not None or self.identity is None or self.identity.running():
            return code
        try:
            return self.process.wait(REAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            return None

    def tail(self) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return text[-LOG_TAIL:].strip()

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM (the contract's clean stop), then SIGKILL if it does not end in time. Only this process, which
        `start` made, is ever signalled."""
        return processes.stop(self.process, timeout)


def start(argv: list[str], log: Path, env: Mapping[str, str], *, grace: float | None = None,
          heard: threading.Event | None = None) -> Consumer:
    """Start the consumer with its output to `log`, and watch it until it has exited (see `Consumer.exited`), has
    made its first request (`heard` is set: the listener that only it talks to heard from it; cleared here before it
    starts), or for `grace` seconds (START_GRACE): it either runs or has exited; nothing waits for it beyond that."""
    grace = START_GRACE if grace is None else grace
    if heard is not None:
        heard.clear()
    log.parent.mkdir(parents=True, exist_ok=True)
    # A new file of ours each run, never through a name someone left there: a link (symbolic or hard) is
    # removed, which changes no other file, and the new one is made exclusively.
    try:
        os.unlink(log)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise UsageError(f"{log} cannot be replaced: {exc.strerror or exc}") from None
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as sink:
        process = subprocess.Popen(argv, cwd=ROOT, env=dict(env), stdin=subprocess.DEVNULL, stdout=sink,
                                   stderr=subprocess.STDOUT, preexec_fn=_die_with_parent if sys.platform == "linux"
                                   else None)
    # Read while it is our unreaped child: its pid cannot name another process until we wait for it.
    consumer = Consumer(process, log, argv, dict(env), processes.Identity.of(process.pid))
    deadline = time.monotonic() + grace
    started = heard or threading.Event()  # none given: an event nobody sets, so the grace alone
    while consumer.exited() is None and time.monotonic() < deadline and not started.wait(0.1):
        pass
    return consumer


def status_line(consumer: Consumer) -> str:
    """What `up` says about the consumer: running (with its log), or exited at once (with why, from its log)."""
    code = consumer.exited()
    shown = "python " + " ".join(consumer.argv[1:5])
    if code is None:
        return f"  monitor: {shown} ... running (pid {consumer.process.pid}); log: {consumer.log}"
    why = consumer.tail() or "(it wrote nothing)"
    return (f"  monitor: NOT RUNNING: {shown} exited at once with {code}; the stacks stay up without it.\n"
            f"  its log ({consumer.log}):\n" + "\n".join(f"    {line}" for line in why.splitlines()))


@dataclass
class Running:
    """The monitor beside a running `up`: what was deployed, the consumer, and the HTTPS endpoint (with its CA)
    the consumer talks to."""

    deployed: Deployed
    consumer: Consumer
    endpoint: str
    ca_bundle: Path
    restarts: int = 0
    heard: threading.Event | None = None  # set by every request the consumer's listener receives (`start`)

    def restart(self) -> bool:
        """Start the consumer again, as it was started, if it has ended (this process waited for it, so it is
        gone); its last log is kept beside the new one (`previous_log`). False when it still runs: nothing is
        started or signalled."""
        ended = self.consumer
        if ended.exited() is None:
            return False
        with contextlib.suppress(FileNotFoundError):
            os.replace(ended.log, previous_log(ended.log))  # the link itself, if it is one: nothing is followed
        self.consumer = start(ended.argv, ended.log, ended.env, heard=self.heard)
        self.restarts += 1
        return True


def previous_log(log: Path) -> Path:
    """Where a restarted consumer's previous log is kept: TapMonitor<suffix>.previous.log."""
    return log.with_name(f"{log.stem}.previous{log.suffix}")


@contextlib.contextmanager
def running(config: AppConfig, template: Mapping[str, Any], endpoint_url: str, tap_outputs: Path, log: Path,
            env: Mapping[str, str], *, window: float | None = None) -> Iterator[Running]:
    """TapMonitor<suffix> deployed into the emulator at `endpoint_url` (which this process runs), an HTTPS listener
    beside it with a CA made for this run, and the consumer started against that listener, for the block; the
    consumer and the listener stopped after it, the CA's files removed. The consumer batches as the deployed event
    source mapping does, or for `window` seconds when given (see Deployed.with_window)."""
    from localenv.emulator import tls_listener
    from localenv.tls import make_tls_files

    deployed = deploy(template, config, endpoint_url, tap_outputs).with_window(window)
    heard = threading.Event()
    with tempfile.TemporaryDirectory(prefix="monitor-tls-") as directory:
        tls = make_tls_files(Path(directory))
        with tls_listener(tls, heard=heard) as https:
            consumer = start(command(config, deployed, https), log,
                             {**env, "AWS_ENDPOINT_URL": https, "AWS_CA_BUNDLE": str(tls.ca), "PYTHONUNBUFFERED": "1"},
                             heard=heard)
            watched = Running(deployed, consumer, https, tls.ca, heard=heard)
            try:
                yield watched
            finally:
                watched.consumer.stop()  # the one running now (`restart` may have replaced the first)


def fire_schedule(record: Mapping[str, Any], config: AppConfig) -> str:
    """Send the schedule's message to the monitor's queue of the running deployment `record` (what EventBridge
    Scheduler would send at the next hour); the message id."""
    import boto3

    from localenv.emulator import LOCAL_CREDENTIALS

    endpoint, queue = record.get("endpoint"), (record.get("monitor") or {}).get("queue_url")
    if not isinstance(endpoint, str) or not endpoint.startswith("http://127.0.0.1:"):
        raise UsageError("the deployment's record names no local endpoint")
    if not isinstance(queue, str) or not queue.startswith(("http://", "https://")):
        raise UsageError(f"{config.stack_name} is up without its monitor (--no-monitor): no schedule to fire")
    session = boto3.Session(aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                            region_name=config.region)
    sqs = session.client("sqs", endpoint_url=endpoint)
    return sqs.send_message(QueueUrl=queue, MessageBody=monitor.schedule_body(config.environment_suffix))["MessageId"]


def log_path(state_dir: Path, config: AppConfig) -> Path:
    return state_dir / f"{monitor.stack_name(config.environment_suffix)}.log"


__all__ = ["Consumer", "Deployed", "Running", "command", "deploy", "fire_schedule", "load_template", "log_path",
           "outputs_path", "previous_log", "running", "start", "status_line", "template_path"]
