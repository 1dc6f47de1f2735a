"""`python -m localenv up` with the posture monitor: TapMonitor<suffix> deployed beside TapStack<suffix>, its
queue's consumer started as a process with the function's environment and reported (running, or exited at once with
its log), the schedule fired on demand; the monitor's stack judged by `opscli audit --stack`. On the session's one
deployment with the monitor (tests/conftest.py `monitored_deployment`, shared with
tests/integration/test_monitor.py)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from localenv.__main__ import main
from localenv.monitor import Deployed, command, fire_schedule, start, status_line
from opscli import core, targets
from opscli.aws import new_session
from platform_spec import monitor
from platform_spec.result import Status
from tests.conftest import MONITOR_ONLY_READS, MONITOR_WINDOW, SUFFIX, local_aws, unmeasured
from tests.polling import poll

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("monitor")]


def _said(deployment) -> list[str]:
    """What `up` printed, once it has said how its monitor is (the line comes just after the state record)."""
    log = deployment.directory / "localenv.log"
    deadline = time.monotonic() + 60
    while not any(line.startswith("  monitor:") for line in log.read_text().splitlines()):
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return log.read_text().splitlines()


def _first_line(log: Path) -> str:
    """The consumer's first log line, once written: `up` reports the consumer running when it has started it,
    before its imports are done (and a test before may have restarted it with a new log)."""
    deadline = time.monotonic() + 60
    while not (text := log.read_text()).endswith("\n"):
        assert time.monotonic() < deadline, text
        time.sleep(0.1)
    return text.splitlines()[0]


def test_up_deploys_the_monitor_and_runs_its_consumer_as_the_function_would_run(monitored_deployment):
    record, outputs_file = monitored_deployment.record, monitored_deployment.outputs_file
    outputs = json.loads(outputs_file.with_name(f"{outputs_file.stem}.monitor.json").read_text())
    assert set(monitor.OUTPUTS) <= set(outputs)
    assert record["monitor"]["queue_url"] == outputs[monitor.OUTPUT_QUEUE_URL]
    line = next(line for line in _said(monitored_deployment) if line.startswith("  monitor:"))
    assert "python -m opscli.monitor --suffix test" in line and "running (pid" in line, line
    # the consumer talks HTTPS to the emulator (the report bucket is TLS-only), with the CA made for this run
    assert record["monitor"]["endpoint"].startswith("https://127.0.0.1:")
    assert Path(record["monitor"]["ca_bundle"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    started = json.loads(_first_line(Path(record["monitor"]["log"])))
    # the deployed mapping's batching, mirrored: its batch size and Lambda's 6 MB payload bound; its window too,
    # but for the session's --monitor-window (MONITOR_WINDOW), which `up` says it uses instead of the mapping's
    assert started["event"] == "started" and started["suffix"] == SUFFIX
    assert (started["window"], started["batchSize"], started["payloadLimit"]) == (
        MONITOR_WINDOW, monitor.BATCH_SIZE, monitor.BATCH_PAYLOAD_BYTES) == (1, 10_000, 6 * 1024 * 1024)
    assert "  monitor: batches for 1 s (--monitor-window; the deployed mapping's window is 2 s)" in _said(
        monitored_deployment)
    functions = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                            region_name="ap-northeast-1").client("lambda", endpoint_url=monitored_deployment.endpoint)
    [mapping] = functions.list_event_source_mappings(
        EventSourceArn=_queue_arn(record["monitor"]["queue_url"]))["EventSourceMappings"]
    assert (mapping["MaximumBatchingWindowInSeconds"], mapping["BatchSize"]) == (monitor.BATCH_WINDOW_SECONDS, 10_000)
    assert started["maxReceives"] == monitor.MAX_RECEIVES == 5


def _queue_arn(url: str) -> str:
    account, name = url.rsplit("/", 2)[-2:]
    return f"arn:aws:sqs:ap-northeast-1:{account}:{name}"


def test_a_window_is_the_mappings_unless_one_the_event_source_takes_is_given():
    """The consumer batches as the deployed mapping does (`command` passes its window on), or for the window `up
    --monitor-window` gives when the SQS event source would take it for the mapping's batch size."""
    from cdk_app.config import AppConfig
    from localenv.inputs import UsageError

    config = AppConfig.for_suffix(SUFFIX)
    env = {monitor.ENV_SUFFIX: SUFFIX, monitor.ENV_BUCKET: "b", monitor.ENV_NAMESPACE: "N",
           monitor.ENV_DEAD_LETTER_QUEUE: "http://127.0.0.1:1/dlq", monitor.ENV_MAX_RECEIVES: "5"}
    deployed = Deployed({monitor.OUTPUT_QUEUE_URL: "http://127.0.0.1:1/q"}, env, 2, 10_000)
    assert deployed.with_window(None) is deployed

    def window(given: Deployed) -> str:
        argv = command(config, given, "https://127.0.0.1:1")
        return argv[argv.index("--window") + 1]

    assert window(deployed) == "2" and window(deployed.with_window(1.0)) == "1"
    assert window(deployed.with_window(1.2345678)) == "1.2345678"  # every digit, not six
    assert window(deployed.with_window(0.25 + 1)) == "1.25" and deployed.with_window(1).mapping_window == 2
    assert window(deployed.with_window(300)) == "300"  # the range's end is in it
    with pytest.raises(UsageError, match=r"--monitor-window 0.5: a batch of more than 10 messages \(10000\) needs a "
                                         r"window of at least 1 s"):
        deployed.with_window(0.5)
    small = Deployed(deployed.outputs, env, 2, 10)
    assert window(small.with_window(0)) == "0"


def test_the_schedule_fires_on_demand_into_the_monitors_queue(monitored_deployment, capsys):
    state, record = monitored_deployment.directory, monitored_deployment.record
    assert main(["schedule", "--suffix", SUFFIX, "--state-dir", str(state)]) == 0
    assert "sent the schedule's message to the monitor's queue" in capsys.readouterr().out
    # Without a running `up`, or without its monitor: a usage error, nothing sent.
    assert main(["schedule", "--suffix", "nothing", "--state-dir", str(state)]) == 2
    assert "no local deployment of TapStacknothing is running" in capsys.readouterr().err
    from cdk_app.config import AppConfig
    from localenv.inputs import UsageError

    with pytest.raises(UsageError, match="without its monitor"):
        fire_schedule({"endpoint": record["endpoint"]}, AppConfig.for_suffix(SUFFIX))


def test_the_monitors_stack_passes_the_audit_and_every_type_is_read_or_counted(monitored_deployment):
    aws = local_aws(monitored_deployment.endpoint)
    report = core.audit(aws, targets.from_suffix(SUFFIX), stack_name=monitor.stack_name(SUFFIX))
    failing = [(f.rule_id, f.resource, f.reason) for f in report.findings if f.status in (Status.FAIL, Status.ERROR)]
    assert not failing, failing
    assert report.target["stack"] == "TapMonitortest"
    # the layer's content is the function's code (what its hash pins); the policies and the schedule are read
    assert set(report.coverage["no_reader"]) == {"AWS::Lambda::LayerVersion"}
    assert aws.log.operations >= MONITOR_ONLY_READS  # the reads the shared deployment never makes
    with pytest.raises(Exception, match="not a stack of environment"):
        core.audit(aws, targets.from_suffix(SUFFIX), stack_name="TapStackother")


def test_the_monitors_stack_fails_an_account_rule_with_its_environments_facts(monitored_deployment):
    """A user of the account with a key that may read any bucket reaches the monitor's report bucket: the account
    rule fails the monitor's stack too, and its fix is filled from the environment's names (the suffix of
    TapMonitor<suffix>, not the stack's name), never a crash."""

    iam = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                      region_name="ap-northeast-1").client("iam", endpoint_url=monitored_deployment.endpoint)
    iam.create_user(UserName="reads-any-bucket")
    iam.put_user_policy(UserName="reads-any-bucket", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="reads-any-bucket")["AccessKey"]["AccessKeyId"]
    try:
        report = core.audit(local_aws(monitored_deployment.endpoint), targets.from_suffix(SUFFIX),
                            stack_name=monitor.stack_name(SUFFIX))
    finally:
        iam.delete_access_key(UserName="reads-any-bucket", AccessKeyId=key)
        iam.delete_user_policy(UserName="reads-any-bucket", PolicyName="read")
        iam.delete_user(UserName="reads-any-bucket")
    failing = [f for f in report.findings if f.status is Status.FAIL]
    assert failing and {f.rule_id for f in failing} == {"STK-PERIM-002"}, failing
    assert all(f.evidence.get("suffix") == SUFFIX for f in failing if f.evidence), failing


def test_a_consumer_that_cannot_start_is_reported_with_its_log_and_one_that_runs_is_stopped(tmp_path):
    from cdk_app.config import AppConfig

    config = AppConfig.for_suffix(SUFFIX)
    deployed = Deployed({monitor.OUTPUT_QUEUE_URL: "http://127.0.0.1:1/q"}, {
        monitor.ENV_SUFFIX: SUFFIX, monitor.ENV_BUCKET: "b", monitor.ENV_NAMESPACE: "N",
        monitor.ENV_DEAD_LETTER_QUEUE: "http://127.0.0.1:1/dlq", monitor.ENV_MAX_RECEIVES: "5"}, 5, 300)
    argv = command(config, deployed, "https://127.0.0.1:1")
    assert argv[1:3] == ["-m", "opscli.monitor"] and argv[argv.index("--queue-url") + 1] == "http://127.0.0.1:1/q"
    assert [argv[argv.index(option) + 1] for option in (
        "--suffix", "--bucket", "--namespace", "--window", "--batch-size", "--endpoint-url", "--dead-letter-queue-url",
        "--max-receives", "--poll")] == [SUFFIX, "b", "N", "5", "300", "https://127.0.0.1:1", "http://127.0.0.1:1/dlq",
                                         "5", "1"]  # --poll 1: `down` waits for the receive under way
    failed = start([sys.executable, "-c", "import sys; print('cannot go on'); sys.exit(4)"], tmp_path / "a.log", {},
                   grace=30)
    assert failed.exited() == 4 and "cannot go on" in status_line(failed) and "NOT RUNNING" in status_line(failed)
    # a link left at the log's name is replaced, never written through
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "b.log").symlink_to(victim)
    running = start([sys.executable, "-c", "import time; time.sleep(120)"], tmp_path / "b.log", {}, grace=0.2)
    try:
        assert running.exited() is None and "running (pid" in status_line(running)
    finally:
        started = time.monotonic()
        assert running.stop(timeout=30) != 0
        assert time.monotonic() - started < 30
    assert victim.read_text() == "keep" and not (tmp_path / "b.log").is_symlink()


def test_a_consumer_is_reported_running_once_its_listener_has_heard_from_it_and_not_on_an_earlier_request(tmp_path):
    """`up` waits for a fresh consumer until it exits or makes its first request to the HTTPS listener made for it
    (the grace is only a bound): heard from, it runs. A request heard before it was started says nothing of it."""
    import threading

    from localenv.emulator import tls_listener
    from localenv.tls import make_tls_files

    tls = make_tls_files(tmp_path / "tls")
    heard = threading.Event()
    requests_then_sleeps = ("import ssl, sys, time, urllib.request\n"
                            "try:\n"
                            "    context = ssl.create_default_context(cafile=sys.argv[2])\n"
                            "    urllib.request.urlopen(sys.argv[1], timeout=30, context=context).close()\n"
                            "except OSError:\n"  # moto's answer to the path is no concern here
                            "    pass\n"
                            "time.sleep(120)\n")
    with tls_listener(tls, heard=heard) as https:
        heard.set()  # as a request before the consumer's would (a restarted consumer's predecessor's)
        exits = start([sys.executable, "-c", "raise SystemExit(4)"], tmp_path / "a.log", unmeasured(os.environ),
                      grace=30, heard=heard)
        assert exits.exited() == 4 and not heard.is_set()
        began = time.monotonic()
        running = start([sys.executable, "-c", requests_then_sleeps, f"{https}/", str(tls.ca)], tmp_path / "b.log",
                        unmeasured(os.environ), grace=60, heard=heard)
        try:
            assert heard.is_set() and running.exited() is None and "running (pid" in status_line(running)
            assert time.monotonic() - began < 60  # it did not wait out the grace
        finally:
            running.stop(timeout=30)


def test_a_consumer_the_kernel_shows_ended_is_started_again_though_its_last_thread_still_runs(tmp_path, monkeypatch):
    """A consumer whose main thread has gone (a zombie in /proc, so `up` run again sees it ended and asks for a
    restart) while another of its threads still runs, so its parent's wait cannot report it yet: the restart
    waits for it and starts a new one, rather than answer that it runs."""
    import subprocess

    from localenv import monitor as local_monitor
    from localenv import processes

    script = ("import ctypes, os, threading, time\n"
              "threading.Thread(target=lambda: (time.sleep(1.5), os._exit(0))).start()\n"
              "ctypes.CDLL(None).pthread_exit(None)\n")
    process = subprocess.Popen([sys.executable, "-c", script], env=unmeasured(os.environ))  # none of our code
    identity = processes.Identity(process.pid, processes._stat(process.pid)[1])
    # The main thread's exit: the leader a zombie.
    poll(lambda: processes.Identity.of(process.pid) is None, "the child's main thread's exit", 30, every=0.01)
    assert process.poll() is None  # its other thread still runs: no wait reports it yet
    consumer = local_monitor.Consumer(process, tmp_path / "consumer.log", ["consumer"], {}, identity)
    started = local_monitor.Consumer(process, tmp_path / "consumer.log", ["consumer"], {}, None)
    monkeypatch.setattr(local_monitor, "start", lambda *_, **__: started)
    # restart reads no deployment: none is made for it
    running = local_monitor.Running(None, consumer, "https://127.0.0.1:1", tmp_path / "ca.pem")  # type: ignore[arg-type]
    assert running.restart() is True
    assert process.returncode == 0 and running.consumer is started and running.restarts == 1
