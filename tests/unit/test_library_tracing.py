"""tests/library_tracing.py pauses coverage's tracer inside some botocore and moto functions. That is only sound if
none of our code runs inside them (it would go unmeasured) and if the tracer comes back exactly as it was."""

from __future__ import annotations

import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import CDK_AND_CHECKOV, COVERAGE_HOOKS, FAKE_CREDENTIALS, ROOT, posture
from tests.library_tracing import (
    PAUSED,
    pause_in_library_hot_paths,
    trace_library_hot_paths_again,
    untraced,
    untraced_with_its_threads,
)

#: What coverage measures (pyproject.toml's [tool.coverage.run] source): the code a pause must never hide.
OUR_PACKAGES = tuple(f"{ROOT / name}/" for name in
                     tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["coverage"]["run"]["source"])
PAUSED_CODE = untraced(lambda: None).__code__  # every paused function runs inside this wrapper's code


class Recorder:
    """A plain trace function in every thread: which paused calls were made, and which of our functions started
    while one of them was running."""

    def __init__(self) -> None:
        self.paused_calls = 0
        self.ours_inside: list[str] = []
        self._depth = threading.local()
        self._lock = threading.Lock()

    def __call__(self, frame: Any, event: str, arg: Any) -> Callable | None:
        if event != "call":
            return None
        depth = getattr(self._depth, "n", 0)
        if frame.f_code is PAUSED_CODE:
            self._depth.n = depth + 1
            with self._lock:
                self.paused_calls += 1
            return self._leave
        if depth and frame.f_code.co_filename.startswith(OUR_PACKAGES):
            with self._lock:
                self.ours_inside.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")
        return None

    def _leave(self, frame: Any, event: str, arg: Any) -> Callable | None:
        if event == "return":
            self._depth.n -= 1
        return self._leave

    def run(self, action: Callable[[], Any]) -> Any:
        saved, saved_threads = sys.gettrace(), threading.gettrace()
        sys.settrace(self)
        threading.settrace(self)
        try:
            return action()
        finally:
            sys.settrace(saved)
            threading.settrace(saved_threads)


@pytest.fixture(scope="module", autouse=True)
def paused() -> Iterator[None]:
    """The pause as tests/conftest.py makes it; when the run asked for none (TESTS_TRACE_LIBRARIES=1), it is
    undone after these tests, so the rest of the run traces the libraries as asked."""
    asked = bool(PAUSED)
    pause_in_library_hot_paths()
    assert len(PAUSED) >= 7
    yield
    if not asked:
        trace_library_hot_paths_again()


@pytest.mark.synth
def test_a_whole_stack_read_runs_none_of_our_code_inside_a_paused_function(local_deployment, monkeypatch):
    """The read makes its session and clients inside the recording, whatever ran before it on this worker (the
    worker's cached access to the deployment, made by an earlier test, would have made them outside it): a session's
    and a client's making are paused too."""
    import tests.conftest

    made: list[Any] = []
    uncached = tests.conftest.local_aws.__wrapped__

    def new_aws(endpoint: str) -> Any:  # not the worker's cached one
        made.append(uncached(endpoint))
        return made[-1]

    monkeypatch.setattr(tests.conftest, "local_aws", new_aws)
    recorder = Recorder()
    try:
        findings = recorder.run(lambda: posture(local_deployment))
    finally:
        for aws in made:
            aws.close()
    assert len(made) == 1
    assert findings, "the read judged nothing"
    assert recorder.paused_calls > 300, recorder.paused_calls  # ~150 API calls, each through several paused steps
    assert recorder.ours_inside == []


def test_in_process_moto_runs_none_of_our_code_inside_a_paused_function(monkeypatch):
    from localenv.emulator import configure_moto

    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    configure_moto()  # our patches of moto in place, as in the tests that deploy in process

    def calls() -> None:
        with mock_aws():
            sqs = boto3.client("sqs", region_name="ap-northeast-1")
            sqs.create_queue(QueueName="q")
            boto3.client("ec2", region_name="ap-northeast-1").describe_vpcs()
            boto3.client("cloudformation", region_name="ap-northeast-1").list_stacks()

    recorder = Recorder()
    recorder.run(calls)
    assert recorder.paused_calls > 10
    assert recorder.ours_inside == []


@CDK_AND_CHECKOV  # it builds constructs: in the one jsii kernel (tests/conftest.py says why the group)
def test_an_in_process_synthesis_runs_none_of_our_code_inside_a_paused_function(tmp_path):
    """jsii's send: our Aspects and our cdk-nag pack's rules are callbacks from Node, made by the kernel after a
    paused send has returned them; a synthesis that runs them (errors found) ran none inside a paused call."""
    from aws_cdk import App, Aspects, Environment, Stack
    from aws_cdk import aws_logs as logs

    from cdk_app.aspects import apply_guardrails
    from cdk_app.config import AppConfig
    from cdk_app.nag_pack import StreamTechChecks

    def synthesize() -> list[str]:
        config = AppConfig.for_suffix("unit")
        app = App(outdir=str(tmp_path), analytics_reporting=False, builtin_cloud_formation_validation=False)
        stack = Stack(app, "Small", env=Environment(region="ap-northeast-1"))
        logs.LogGroup(stack, "Logs", log_group_name="/ecs/thing-unit")  # no CMK: the aspect and the pack say so
        apply_guardrails(app, config)
        Aspects.of(app).add(StreamTechChecks(suffix="unit", cmk_alias=config.key_aliases, reports=False))
        artifact = app.synth().get_stack_by_name("Small")
        return [str(m.entry.data) for m in artifact.messages]

    recorder = Recorder()
    messages = recorder.run(synthesize)
    assert any("[STK-KMS-001]" in m for m in messages) and any("StreamTech-STK-KMS-001" in m for m in messages)
    assert recorder.paused_calls > 100, recorder.paused_calls
    assert recorder.ours_inside == []


def test_the_recorder_would_see_our_code_inside_a_paused_function():
    from opscli.model import resource_label

    recorder = Recorder()
    recorder.run(lambda: untraced(resource_label)("AWS::SQS::Queue", "Intake", "intake-queue-test"))
    assert recorder.paused_calls == 1
    assert recorder.ours_inside and recorder.ours_inside[0].endswith("opscli/model.py:resource_label")


def test_a_report_as_json_and_sarif_runs_none_of_our_code_inside_the_paused_encoder():
    """Encoding plain data is paused; an encoder given a `default` of ours is not (our function runs traced)."""
    import json

    from opscli.model import Finding, Report
    from opscli.render import to_json, to_sarif
    from platform_spec.result import Status

    report = Report(command="audit", target={"suffix": "x", "stack": "TapStackx"}, findings=[
        Finding("kms.rotation", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key Key (k-1)", "off", evidence={"id": "k-1"}),
        Finding("rds.multi_az", "STK-RDS-001", Status.PASS, "AWS::RDS::DBInstance Db (rds-x)", "on")])
    recorder = Recorder()
    recorder.run(lambda: (to_json(report, 1), to_sarif(report, include_pass=True)))
    assert recorder.paused_calls >= 2 and recorder.ours_inside == []

    from opscli.model import resource_label  # any function of ours, as a `default`

    recorder = Recorder()
    said = recorder.run(lambda: json.dumps({"x": object()}, indent=2,
                                           default=lambda o: resource_label("AWS::SQS::Queue", "Q", "q")))
    assert recorder.paused_calls == 0 and "AWS::SQS::Queue" in said


class FakeCoverageTracer:
    """Stands for coverage's tracer (the pause recognizes it by its module)."""

    __module__ = "coverage.fake"

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        return None


def test_a_paused_call_runs_without_coverages_tracer_and_gives_it_back():
    saved = sys.gettrace()
    tracer = FakeCoverageTracer()
    sys.settrace(tracer)
    try:
        inside = untraced(sys.gettrace)()
        after = sys.gettrace()
    finally:
        sys.settrace(saved)
    assert inside is None
    assert after is tracer


class FakeCoverageCollector:
    """Stands for coverage's collector, whose method threading.settrace holds (it puts the tracer in new threads)."""

    __module__ = "coverage.fake"

    def install(self, frame: Any, event: str, arg: Any) -> None:
        return None


def test_a_call_untraced_with_its_threads_runs_without_coverage_there_and_gives_both_back():
    saved, saved_threads = sys.gettrace(), threading.gettrace()
    tracer, installer = FakeCoverageTracer(), FakeCoverageCollector().install
    seen: dict[str, Any] = {}

    def work() -> None:
        seen["here"], seen["installer"] = sys.gettrace(), threading.gettrace()
        thread = threading.Thread(target=lambda: seen.setdefault("thread", sys.gettrace()))
        thread.start()
        thread.join()

    sys.settrace(tracer)
    threading.settrace(installer)
    try:
        untraced_with_its_threads(work)()
        after, after_threads = sys.gettrace(), threading.gettrace()
    finally:
        sys.settrace(saved)
        threading.settrace(saved_threads)
    assert seen == {"here": None, "installer": None, "thread": None}
    assert after is tracer and after_threads == installer


def test_untraced_with_its_threads_leaves_another_tracer_alone():
    recorder = Recorder()
    assert recorder.run(lambda: untraced_with_its_threads(sys.gettrace)()) is recorder


def test_another_tracer_such_as_a_debuggers_is_left_alone():
    recorder = Recorder()
    inside = recorder.run(lambda: untraced(sys.gettrace)())
    assert inside is recorder


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process environment from /proc")
def test_the_shared_emulator_runs_without_coverages_subprocess_hook(local_deployment):
    """The shared deployment's emulator is not measured (tests/conftest.local_deployment says why): coverage's
    `patch = subprocess` starts measuring any Python process whose environment carries COVERAGE_PROCESS_CONFIG
    (or the older COVERAGE_PROCESS_START). Left in, it made every whole-stack read of every test slower."""
    names = {entry.split(b"=", 1)[0].decode()
             for entry in (Path("/proc") / str(local_deployment.process.pid) / "environ").read_bytes().split(b"\0")
             if entry}
    assert "AWS_ACCESS_KEY_ID" in names or "PATH" in names  # the environment was read, not an empty file
    assert not names & COVERAGE_HOOKS
