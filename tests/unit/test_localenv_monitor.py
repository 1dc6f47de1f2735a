"""`python -m localenv up` with the posture monitor: TapMonitor<suffix> deployed beside TapStack<suffix>, its
queue's consumer started as a process and reported (running, or exited at once with its log), the schedule fired
on demand, `down` stopping both; the monitor's stack judged by `opscli audit --stack`. Against a `up` of the
monitor's template beside an empty TapStack template: the session's template, without the cost of deploying it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localenv.__main__ import main
from localenv.monitor import command, fire_schedule, status_line, start
from opscli import core, targets
from platform_spec import monitor
from platform_spec.result import Status
from tests.conftest import ROOT, SUFFIX, local_aws

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def monitor_up(synth, tmp_path_factory) -> Iterator[tuple[Path, Path, dict, list[str]]]:
    """(state dir, work dir, the state record, what `up` printed until it was up) of a running `up`."""
    work = tmp_path_factory.mktemp("monitor-up")
    state = work / "state"
    (work / "TapStacktest.template.json").write_text(json.dumps({"Resources": {}}))
    shutil.copyfile(synth.outdir / f"{monitor.stack_name(SUFFIX)}.template.json",
                    work / f"{monitor.stack_name(SUFFIX)}.template.json")
    process = subprocess.Popen([sys.executable, "-m", "localenv", "up", "--suffix", SUFFIX, "--template",
                                str(work / "TapStacktest.template.json"), "--outputs", str(work / "o.json"),
                                "--state-dir", str(state)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    said: list[str] = []
    try:
        for line in process.stdout:  # the monitor's status is printed once the record is written
            said.append(line)
            if line.startswith("  monitor:"):
                break
        assert any(line.startswith("  monitor:") for line in said), "".join(said)
        record = json.loads((state / "TapStacktest.json").read_text())
        yield state, work, record, said
    finally:
        if process.poll() is None:
            main(["down", "--suffix", SUFFIX, "--state-dir", str(state)])
        process.wait(60)


def test_up_deploys_the_monitor_and_says_whether_its_consumer_runs(monitor_up):
    state, work, record, said = monitor_up
    outputs = json.loads((work / "o.monitor.json").read_text())
    assert set(monitor.OUTPUTS) <= set(outputs)
    assert record["monitor"]["queue_url"] == outputs[monitor.OUTPUT_QUEUE_URL]
    line = next(line for line in said if line.startswith("  monitor:"))
    # Until the runtime exists the consumer exits at once: `up` says so, with its log, and stays up.
    assert "python -m opscli.monitor --suffix test" in line
    assert ("running (pid" in line) or ("NOT RUNNING" in line and "exited at once" in line), line


def test_the_schedule_fires_on_demand_into_the_monitors_queue(monitor_up, capsys):
    state, _, record, _ = monitor_up
    assert main(["schedule", "--suffix", SUFFIX, "--state-dir", str(state)]) == 0
    assert "sent the schedule's message to the monitor's queue" in capsys.readouterr().out
    # Without a running `up`, or without its monitor: a usage error, nothing sent.
    assert main(["schedule", "--suffix", "nothing", "--state-dir", str(state)]) == 2
    assert "no local deployment of TapStacknothing is running" in capsys.readouterr().err
    from cdk_app.config import AppConfig
    from localenv.inputs import UsageError

    with pytest.raises(UsageError, match="without its monitor"):
        fire_schedule({"endpoint": record["endpoint"]}, AppConfig.for_suffix(SUFFIX))


def test_the_monitors_stack_passes_the_audit_and_every_type_is_read_or_counted(monitor_up):
    _, _, record, _ = monitor_up
    aws = local_aws(record["endpoint"])
    report = core.audit(aws, targets.from_suffix(SUFFIX), stack_name=monitor.stack_name(SUFFIX))
    failing = [(f.rule_id, f.resource, f.reason) for f in report.findings if f.status in (Status.FAIL, Status.ERROR)]
    assert not failing, failing
    assert report.target["stack"] == "TapMonitortest"
    assert set(report.coverage["no_reader"]) == {"AWS::IAM::ManagedPolicy", "AWS::Lambda::LayerVersion",
                                                 "AWS::Scheduler::Schedule"}
    assert "lambda:GetEventSourceMapping" in aws.log.operations  # the read the shared deployment never makes
    with pytest.raises(Exception, match="not a stack of environment"):
        core.audit(aws, targets.from_suffix(SUFFIX), stack_name="TapStackother")


def test_a_consumer_that_cannot_start_is_reported_with_its_log_and_one_that_runs_is_stopped(tmp_path):
    from cdk_app.config import AppConfig

    config = AppConfig.for_suffix(SUFFIX)
    argv = command(config, {monitor.OUTPUT_QUEUE_URL: "http://127.0.0.1:1/q", monitor.OUTPUT_BUCKET: "b"},
                   "http://127.0.0.1:1")
    assert argv[1:3] == ["-m", "opscli.monitor"] and argv[argv.index("--queue-url") + 1] == "http://127.0.0.1:1/q"
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
