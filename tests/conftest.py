"""Shared fixtures: the TapStack assembly (synthesized once per change of its inputs, through the assembly
cache), one local deployment of it per test worker, and the hypothesis profiles.

Under pytest-xdist the controller starts the synthesis in the background as soon as the session begins, and
tests that need no template run first, so neither core waits for it."""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.coverage_session import analyse_once_after_combining, stop_tracing_what_is_never_kept

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# opscli appends every run to a local history: the tests' runs go to a file of this process's own, never to the
# history in the user's state directory. The directory is this process's (mkdtemp made it) and goes with it.
_HISTORY_DIR = tempfile.mkdtemp(prefix="opscli-history-")
atexit.register(shutil.rmtree, _HISTORY_DIR, ignore_errors=True)
os.environ["OPSCLI_HISTORY"] = os.path.join(_HISTORY_DIR, "history.sqlite")

ROOT = Path(__file__).resolve().parents[1]
SUFFIX = "test"
CONTEXT = {"environmentSuffix": SUFFIX}

settings.register_profile("quick", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=300, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "quick"))


def cdk_json_context() -> dict[str, Any]:
    """The context cdk.json gives the app (feature flags and defaults), as `cdk synth` would pass it."""
    return json.loads((ROOT / "cdk.json").read_text())["context"]


# --- scheduling -----------------------------------------------------------------------------------------

#: The tests that run the CDK in process and those that run Checkov, on one worker: a process that builds
#: constructs starts a jsii kernel (~3.5 s of Node CPU to load aws-cdk-lib), so one kernel per run, not one per
#: worker, and the session's one Checkov process.
CDK_AND_CHECKOV = pytest.mark.xdist_group("cdk")

_background: subprocess.Popen | None = None
_old_temporaries: Any = None  # tests/old_temporaries.Early, in the xdist controller


def pytest_configure(config: pytest.Config) -> None:
    """Where tests run (each worker, or the one process): coverage's tracer paused inside botocore's and moto's hot
    paths (tests/library_tracing.py), one loader of service models for every botocore session, and cyclic
    garbage collected less often. On the xdist controller: start filling the assembly cache while the workers
    start and run the tests that need no template (workers that need it wait on the cache's lock; none
    synthesizes twice), and write what every worker would otherwise make for itself at its start: Hypothesis's
    Unicode tables and pytest's rewritten test modules. In every process first: pytest-cov's tracer stopped where
    nothing it records is kept, and each measured file analysed once for the session's coverage reports
    (tests/coverage_session.py)."""
    global _background
    stop_tracing_what_is_never_kept(config)
    analyse_once_after_combining(config)
    if _runs_tests(config):
        if not os.environ.get("TESTS_TRACE_LIBRARIES"):  # =1: trace them too, to compare
            from tests.library_tracing import pause_in_library_hot_paths
            pause_in_library_hot_paths()
        _share_service_models()
        _collect_garbage_less_often()
        _unicode_tables_for_hypothesis()
        return
    log = open(os.devnull, "w")  # noqa: SIM115 - a failure shows again, with its output, in the fixture
    _background = subprocess.Popen([sys.executable, "-m", "cdk_app.assembly_cache", "--suffix", SUFFIX],
                                   cwd=ROOT, stdout=log, stderr=log)
    from tests import rewritten_modules

    # before the workers start: they read the tables and the rewritten test modules (tests/rewritten_modules.py)
    priming = rewritten_modules.start(config, unmeasured(os.environ), ROOT)
    _unicode_tables_for_hypothesis()
    priming.finish()


def pytest_sessionstart(session: pytest.Session) -> None:
    """On the xdist controller, before its workers start (pytest-xdist starts them in its own sessionstart, which
    runs last): start removing old sessions' temporary directories, which pytest's end would otherwise do after
    the last test (tests/old_temporaries.py). Here, not in pytest_configure: a conftest's pytest_configure runs
    before pytest's tmpdir plugin has made the session's factory of temporary directories."""
    global _old_temporaries
    if not _runs_tests(session.config):
        from tests import old_temporaries

        _old_temporaries = old_temporaries.start(session.config, unmeasured(os.environ), ROOT)


@pytest.hookimpl(tryfirst=True)  # before pytest's own removal of old temporary directories (its tmpdir plugin)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller's end waits for the removal of old sessions' temporary directories it started
    (tests/old_temporaries.py): pytest's own cleanup then finds them gone."""
    if _old_temporaries is not None:
        _old_temporaries.wait()


@pytest.hookimpl(tryfirst=True)  # before pytest's own collection for unraisable exceptions
def pytest_unconfigure(config: pytest.Config) -> None:
    if _background is not None and _background.poll() is None:
        _background.terminate()
        _background.wait(10)
    if _runs_tests(config):
        settle_garbage_at_exit()


def _runs_tests(config: pytest.Config) -> bool:
    """This process runs tests: an xdist worker, or the one process of a run without workers (not the
    controller)."""
    return hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None)


def settle_garbage_at_exit() -> None:
    """Collect the test process's cyclic garbage once, then freeze what survives. pytest collects twice more on
    the way out (to report exceptions raised in finalizers: its hook is still in place here, so this collection
    reports them as its own would); with the survivors frozen, those collections scan only what is new. Measured:
    a worker's exit 1.3-1.8 s -> 0.3-1.0 s, the controller's wait for its workers 2.8 -> 0.4 s."""
    import gc

    gc.collect()
    gc.freeze()


#: gc.set_threshold for a test process: (allocations before a young collection, and the two ratios after it).
GC_THRESHOLDS = (50_000, 20, 20)


def _collect_garbage_less_often() -> None:
    """A test process holds 0.5-0.9 M objects (moto's backends, botocore's models, the jsii kernel's proxies), and
    with Python's defaults (700, 10, 10) it scanned them all 10-24 times per worker and its young objects
    thousands of times: measured with gc.callbacks, 16 s of CPU per run in the three workers' collections. With
    GC_THRESHOLDS: about 5 s, for 20-40 MB more peak memory per worker (bench/README.md)."""
    import gc

    gc.set_threshold(*GC_THRESHOLDS)


def _unicode_tables_for_hypothesis() -> None:
    """Hypothesis's tables of Unicode (the category of every code point, and what UTF-8 encodes), which its text
    strategies read from .hypothesis/ and otherwise make on first use with a loop over every code point: made here,
    outside coverage's tracer, and by the xdist controller before its workers start, so on a fresh clone each
    worker reads the files instead of making them under the tracer (several seconds of CPU each)."""
    import warnings

    try:
        from hypothesis.errors import HypothesisSideeffectWarning
        from hypothesis.internal.charmap import charmap, intervals_from_codec
    except ImportError:  # another Hypothesis: its text strategies make their tables as before
        return
    from tests.library_tracing import untraced

    with warnings.catch_warnings():  # its advice against touching .hypothesis/ while pytest starts: done on purpose
        warnings.simplefilter("ignore", HypothesisSideeffectWarning)
        untraced(charmap)()
        untraced(intervals_from_codec)("utf-8")


def _share_service_models() -> None:
    """Every botocore session of a test process shares one loader of service models (opscli.aws.shared_loader,
    which opscli's own sessions use). moto starts every mock with a new boto3 default session and its backends
    make sessions of their own: each would otherwise parse again every service model it touches."""
    import botocore.session

    from opscli.aws import shared_loader

    botocore.session.create_loader = shared_loader  # what a botocore session calls for its data_loader


#: The xdist group of the tests that read the shared local deployment: each module's tests run together on one
#: worker (its module fixtures are made once), as "deployment:<module>" (see pytest_collection_modifyitems), the
#: module by its dotted name: test files of one name in two directories (tests/integration/test_monitor.py and
#: tests/unit/cdk_app/test_monitor.py) are two groups.
SHARED_DEPLOYMENT = "deployment"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups into the node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that need no synthesized template first (a stable sort): they run while the assembly is built.
    A test on the shared local deployment that names no xdist group joins SHARED_DEPLOYMENT; tests that deploy
    their own copy in process stay free to run on any worker. SHARED_DEPLOYMENT is one group per module: the
    deployment is a session fixture, so each worker has its own (the drift, perimeter, residency and fault groups
    make one on every worker anyway), and one group of every module's tests would pin a fifth of the suite's
    CPU to one worker, which then finished last. Any other test that asks for a module-scoped fixture runs in its
    module's group ("module:<module>", by its dotted name). A test that asks for the synthesized template (the
    `synth` fixture, itself or through another fixture) is marked `synth` whether or not its module says so."""
    for item in items:
        if item.get_closest_marker("synth") is None and "synth" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.synth)
        own = f"{SHARED_DEPLOYMENT}:{item.module.__name__}" if item.module else SHARED_DEPLOYMENT
        for node in item.listchain():  # pytest-xdist joins every group mark it finds: the module's one is replaced
            node.own_markers[:] = [pytest.mark.xdist_group(own).mark if _shared(mark) else mark
                                   for mark in node.own_markers]
        if item.get_closest_marker("xdist_group") is None and "local_deployment" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(own))
        elif item.get_closest_marker("xdist_group") is None and _module_fixtures(item):
            item.add_marker(pytest.mark.xdist_group(f"module:{item.module.__name__}"))
    items.sort(key=lambda item: item.get_closest_marker("synth") is not None)
    if hasattr(items[0].config if items else None, "workerinput"):
        items[:] = spread_out(items)


def spread_out(items: list[pytest.Item]) -> list[pytest.Item]:
    """`items` in the order pytest-xdist should hand them out: the tests of an xdist group first, as they were;
    then the tests of no group, those that need no template before those that do, in each stretch each file's
    tests spread over it (the k-th of a file's n at (k + 0.5) / n). pytest-xdist's loadgroup hands out the groups
    by their number of tests, then every unit of one test (a group of one, or a test of no group) in collection
    order. A group of one owns a deployment or a module's fixture and costs seconds: among the tests of no group
    that need the template (most of them cost milliseconds), it ran alone at the run's end (bench/README.md, s49).
    The tests of no group, in file order, would run a file such as the workloads' (which mostly wait on servers and
    time-outs) on every worker at the same time and leave the cores idle together. A test of no group asks for no
    fixture of module scope (pytest_collection_modifyitems), so running it elsewhere in the order makes nothing
    twice. Every worker collects the same order: it depends on the items alone. (Under --affected, pytest-testmon's
    own order comes after this one.)"""
    grouped = [item for item in items if item.get_closest_marker("xdist_group")]
    by_file: dict[tuple[bool, str], list[pytest.Item]] = {}
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            by_file.setdefault((item.get_closest_marker("synth") is not None, item.nodeid.split("::", 1)[0]),
                               []).append(item)
    placed = sorted(((needs, (k + 0.5) / len(tests), item) for (needs, _), tests in by_file.items()
                     for k, item in enumerate(tests)), key=lambda place: place[:2])  # stable: ties keep file order
    return grouped + [item for *_, item in placed]


def _module_fixtures(item: pytest.Item) -> list[str]:
    """The fixtures of a module (or class) scope `item` asks for: its module's tests then run on one worker and
    make them once (a deployment of their own, a read judged for every case), not once on each worker that runs
    one of them."""
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return [name for name in getattr(item, "fixturenames", ())
            if any(d.scope in ("module", "class", "package") for d in definitions.get(name, ()))]


def _shared(mark: pytest.Mark) -> bool:
    return mark.name == "xdist_group" and mark.args[:1] == (SHARED_DEPLOYMENT,)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Under --dist loadgroup, every test of an xdist_group must carry its group in its node id (that is how
    pytest-xdist schedules a group on one worker); otherwise the group's shared work would run on each worker."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    lost = [item.nodeid for item in session.items
            if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if lost:
        raise pytest.UsageError(f"pytest-xdist ignores the xdist_group of {len(lost)} test(s) (e.g. {lost[0]}): "
                                f"this pytest and pytest-xdist do not work together (see pyproject.toml)")


# --- the synthesized stack --------------------------------------------------------------------------------

@dataclass
class Synthesized:
    config: Any  # cdk_app.config.AppConfig
    template: dict[str, Any]
    manifest: dict[str, Any]
    outdir: Path  # the cloud assembly directory (in the cache: read-only by convention)

    @cached_property
    def assertions(self) -> Any:
        """aws_cdk.assertions.Template over the template (imported on first use: it starts jsii)."""
        from aws_cdk.assertions import Template
        return Template.from_json(self.template)

    @property
    def environment(self) -> str:
        """The stack artifact's environment in the manifest, e.g. aws://unknown-account/ap-northeast-1."""
        return self.manifest["artifacts"][self.config.stack_name]["environment"]

    @property
    def errors(self) -> list[str]:
        """Every error annotation the manifest records for the stack, as 'path: message'."""
        metadata = self.manifest["artifacts"][self.config.stack_name].get("metadata", {})
        return [f"{path}: {entry['data']}" for path, entries in metadata.items() for entry in entries
                if entry["type"] == "aws:cdk:error"]

    @property
    def template_path(self) -> Path:
        return self.outdir / f"{self.config.stack_name}.template.json"

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}

    def one(self, type_: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(type_)
        assert len(found) == 1, f"expected one {type_}, found {len(found)}"
        return next(iter(found.items()))


@pytest.fixture(scope="session")
def synth() -> Synthesized:
    """The TapStack for suffix 'test': the real `cdk synth` (Aspects, every cdk-nag pack; CDK's template check is
    the gate's cfn-lint), once per change of its inputs; a synthesis with findings fails here with the CLI's
    output."""
    from cdk_app.assembly_cache import SynthesisFailed, synthesized
    from cdk_app.config import parse_context

    try:
        assembly = synthesized(CONTEXT)
    except SynthesisFailed as exc:
        pytest.fail(f"synthesis of TapStack{SUFFIX} failed: {exc}\n{exc.output[-4000:]}", pytrace=False)
    config = parse_context({**cdk_json_context(), **CONTEXT}.get)
    return Synthesized(config, assembly.template(config.stack_name), assembly.manifest(), assembly.directory)


def sources_copy(parent: Path) -> Path:
    """A copy of what a synthesis reads, at `parent`/<the checkout's name>, with cache directories of its own. The
    copy has the checkout's own name: CDK names an image asset's staged directory after its build context's
    extension too (the repository root: a checkout in `/tmp/tmp.x9` stages `asset.<hash>.x9`), and a synthesis of
    the copy must stage what the session's did. Made in this checkout, not made again: the monitor's layer (by a
    synthesis here; a checkout whose assembly came from a shared cache has none, and the copy builds its own, the
    same bytes) and the read policy of the checkout's monitor code, which the session's cache key read."""
    from cdk_app import assembly_cache, monitor_code

    root = parent / ROOT.name
    ignore = shutil.ignore_patterns(*monitor_code.ASSET_EXCLUDE)
    # the app, what it stages into the images and what it stages as the monitor's code
    for name in sorted({assembly_cache.APP_PACKAGE, *assembly_cache.STAGED_DIRS, *monitor_code.SOURCE_PACKAGES}):
        shutil.copytree(ROOT / name, root / name, ignore=ignore)
    for name in assembly_cache.SOURCE_FILES:
        if (ROOT / name).is_file():
            shutil.copy(ROOT / name, root / name)
    (root / "node_modules").symlink_to(ROOT / "node_modules")
    for made in (monitor_code.cache_dir(ROOT) / "layers",
                 monitor_code.cache_dir(ROOT) / "policies" / monitor_code.sources_hash(ROOT)):
        if made.is_dir():
            shutil.copytree(made, monitor_code.cache_dir(root) / made.relative_to(monitor_code.cache_dir(ROOT)),
                            copy_function=os.link)
    return root


def change_monitor_code(root: Path) -> None:
    """A change of the posture monitor's code alone (opscli/render.py, which the monitor stages) that declares
    nothing new: the assembly cache keeps the key and restages."""
    render = root / "opscli" / "render.py"
    render.write_text(render.read_text() + "\n\ndef _restaged() -> int:\n    return 1\n")


#: The tests that read `cold_synthesis`, on one worker: it is made once per run.
COLD_SYNTHESIS = pytest.mark.xdist_group("cold-synthesis")


@dataclass(frozen=True)
class ColdSynthesis:
    root: Path  # the copy of the sources it synthesized (sources_copy, with change_monitor_code)
    directory: Path  # the cloud assembly `cdk synth` wrote there (not in any cache)


@pytest.fixture(scope="session")
def cold_synthesis(tmp_path_factory) -> ColdSynthesis:
    """A cold `cdk synth` (the real CLI, as the assembly cache runs it on a miss) with the session's context, of a
    copy of the sources whose monitor code differs from the checkout's (change_monitor_code): for the proof that a
    restage of the session's assembly equals a synthesis (tests/unit/test_assembly_cache.py), and a second
    synthesis of TapStack, whose template that code is no input of (tests/unit/cdk_app/test_tap_stack.py). Its
    `python -m cdk_app` is the suite's one synthesis of the whole app, and measured (`measured_in_copy`)."""
    from cdk_app import assembly_cache

    root = sources_copy(tmp_path_factory.mktemp(MEASURED_COPIES))
    change_monitor_code(root)
    directory = root.parent / "assembly"
    measured = measured_in_copy(root)
    try:
        with pytest.MonkeyPatch.context() as environment:
            for hook in COVERAGE_HOOKS:
                environment.delenv(hook, raising=False)
            for name, value in measured.items():
                environment.setenv(name, value)
            assembly_cache.cdk_synth(CONTEXT, directory, root=root)
    except assembly_cache.SynthesisFailed as exc:
        pytest.fail(f"cold synthesis of TapStack{SUFFIX} failed: {exc}\n{exc.output[-4000:]}", pytrace=False)
    data = Path(measured.get("COVERAGE_FILE", ""))
    if measured and not list(data.parent.glob(f"{data.name}*")):  # its name, or it with coverage's parallel suffix
        pytest.fail("the cold synthesis's `python -m cdk_app` wrote no coverage data: the app's lines would be "
                    "missing from the report", pytrace=False)
    return ColdSynthesis(root, directory)


#: The directory a measured copy of the sources is made in (tmp_path_factory.mktemp's base name): pyproject.toml's
#: [tool.coverage.paths] reports the files below `<it><n>/<the checkout's name>/` as the checkout's.
MEASURED_COPIES = "cold-synthesis"


def measured_in_copy(root: Path) -> dict[str, str]:
    """The environment that measures a Python process started in `root`, a copy of the checkout (sources_copy) in a
    directory of MEASURED_COPIES, into this session's coverage: the subprocess hook the session hands on names the
    checkout's directories as the sources, and would record nothing of the copy's. The checkout's settings are
    read again there (COVERAGE_PROCESS_START: the packages are the copy's), into a data file of its own beside the
    session's, which the session combines; pyproject.toml's [tool.coverage.paths] reports the copy's files as the
    checkout's (the same bytes: a change a test makes in a copy is to code the process does not run). Empty when
    this process is not measured."""
    import coverage

    if not (root.parent.name.startswith(MEASURED_COPIES) and root.name == ROOT.name):
        raise ValueError(f"{root} is not where [tool.coverage.paths] finds a copy of the checkout")
    current = coverage.Coverage.current()
    if current is None or not COVERAGE_HOOKS & set(os.environ):
        return {}
    data_file = os.path.abspath(str(current.get_option("run:data_file")))
    return {"COVERAGE_PROCESS_START": str(ROOT / "pyproject.toml"),
            "COVERAGE_FILE": f"{data_file}.copy.{os.getpid()}.{os.urandom(4).hex()}"}


@pytest.fixture(scope="session")
def monitor_template(synth) -> dict[str, Any]:
    """TapMonitor<suffix>, the posture monitor's stack, from the same synthesis as the TapStack (the app builds
    both)."""
    return json.loads((synth.outdir / f"TapMonitor{SUFFIX}.template.json").read_text())


# --- one local deployment per worker ------------------------------------------------------------------------

#: The credentials moto's in-process mock is given (it accepts any): every test that mocks AWS in process uses these,
#: through `aws_credentials`.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "ap-northeast-1"}


@pytest.fixture
def aws_credentials(monkeypatch) -> None:
    """FAKE_CREDENTIALS in the environment, and no profile or endpoint that would send a client elsewhere than the
    in-process mock."""
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


#: What starts coverage in a Python subprocess (the `patch = subprocess` setting of pyproject.toml): coverage
#: >= 7.10 hands its settings over in COVERAGE_PROCESS_CONFIG; COVERAGE_PROCESS_START is the older way.
COVERAGE_HOOKS = frozenset({"COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START"})


def unmeasured(environment: Mapping[str, str]) -> dict[str, str]:
    """`environment` for a subprocess that coverage must not measure (it runs none of our code, or its code is
    measured elsewhere)."""
    return {k: v for k, v in environment.items() if k not in COVERAGE_HOOKS}


@dataclass
class LocalDeployment:
    """`python -m localenv up` of the session's template: a moto server process on 127.0.0.1."""

    endpoint: str
    outputs: dict[str, str]
    outputs_file: Path
    process: subprocess.Popen = field(repr=False)
    record: dict[str, Any] = field(default_factory=dict)  # the state record `up` wrote (its monitor's too)
    directory: Path | None = None  # the state directory (`--state-dir`; its log is localenv.log)
    baseline: list[tuple[str, str, str]] | None = None  # `baseline_posture`, once a test of the session asked

    @property
    def environment(self) -> dict[str, str]:
        from localenv.emulator import LOCAL_CREDENTIALS
        return {**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}


#: The batching window of the session's monitored deployment (`localenv up --monitor-window`): the least the SQS
#: event source takes for the mapping's batch of 10,000.
MONITOR_WINDOW = 1.0


@contextlib.contextmanager
def deployment_process(synth: Any, directory: Path, *, monitor: bool = False,
                       **extra_env: str) -> Iterator[LocalDeployment]:
    """`python -m localenv up` of the session's template in its own process, for the duration of the block; the
    posture monitor (TapMonitor and its consumer process) only when asked: the shared deployment's tests judge
    TapStack, and a consumer re-reading every change they make would only cost them time."""
    outputs, log = directory / "flat-outputs.json", directory / "localenv.log"
    state = directory / f"{synth.config.stack_name}.json"
    # Not measured by coverage: tracing the emulator's process makes every AWS call of every test ~60% slower
    # (0.8 s -> 1.3 s per whole-stack read), and `localenv up` is measured in tests/unit/localenv/test_main.py.
    env = {**unmeasured(os.environ), **extra_env}
    # The monitor's consumer batches for MONITOR_WINDOW seconds, not the mapping's 2: each change a test makes
    # waits out a window, then its undoing another (tests/unit/localenv/test_monitor.py proves the default).
    watch = ["--monitor-window", repr(MONITOR_WINDOW)] if monitor else ["--no-monitor"]
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "localenv", "up", "--suffix", SUFFIX, "--template", str(synth.template_path),
             "--outputs", str(outputs), "--state-dir", str(directory), *watch],
            cwd=ROOT, stdout=sink, stderr=sink, env=env)
    deadline = time.monotonic() + 120
    while not state.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"python -m localenv up did not come up (exit {process.poll()}):\n{log.read_text()[-3000:]}",
                        pytrace=False)
        time.sleep(0.1)
    record = json.loads(state.read_text())
    try:
        yield LocalDeployment(record["endpoint"], json.loads(outputs.read_text()), outputs, process, record, directory)
    finally:
        from localenv.processes import stop

        stop(process, 20)


@pytest.fixture(scope="session")
def local_deployment(synth, tmp_path_factory) -> Iterator[LocalDeployment]:
    """The compliant stack deployed once per session (per worker), shared read-only. A test that breaks a
    setting restores it, and `restored_deployment` proves it did."""
    with deployment_process(synth, tmp_path_factory.mktemp("localenv")) as deployment:
        yield deployment
        left_changed_at_the_end(deployment)


@pytest.fixture(scope="session")
def monitored_deployment(synth, tmp_path_factory) -> Iterator[LocalDeployment]:
    """The stack with its posture monitor (TapMonitor and its consumer process, as `localenv up` runs them), once
    per session for the monitor's tests (xdist group "monitor"): every change made to it reaches the consumer,
    which would only cost the shared deployment's tests time."""
    with deployment_process(synth, tmp_path_factory.mktemp("monitored"), monitor=True) as deployment:
        yield deployment


# The reads only TapMonitor<suffix>'s types need (its event source mapping, managed policies and schedule): the
# shared deployment leaves the monitor out, and tests/unit/localenv/test_monitor.py audits that stack and sees them.
MONITOR_ONLY_READS = frozenset({"lambda:GetEventSourceMapping", "iam:GetPolicy", "iam:GetPolicyVersion",
                                "iam:ListEntitiesForPolicy", "scheduler:GetSchedule"})


@functools.cache
def local_aws(endpoint: str) -> Any:
    """opscli's guarded access to a local deployment, one per worker and endpoint: its clients are made once,
    not once per read (21 services, about 0.1 s of CPU each time)."""
    from opscli.aws import Aws, new_session

    session = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                          region_name="ap-northeast-1")
    return Aws(session=session, endpoint_url=endpoint, max_attempts=2)


@contextlib.contextmanager
def hooked(aws: Any, event: str, handler: Any) -> Iterator[None]:
    """`handler` on `event` (a botocore event name) of every client opscli may use, for the block."""
    from opscli.operations import declared_operations

    clients = [aws.client(service) for service in sorted({op.split(":")[0] for op in declared_operations()})]
    for client in clients:
        client.meta.events.register(event, handler)
    try:
        yield
    finally:
        for client in clients:
            client.meta.events.unregister(event, handler)


@contextlib.contextmanager
def manual_snapshot(deployment: Any, name: str = "taken-by-hand") -> Iterator[str]:
    """A manual snapshot of the deployment's database for the block (what STK-STACK-002 finds next to the
    declaration; the only way to make the readers ask DescribeDBSnapshotAttributes), deleted after it."""
    from opscli.aws import new_session

    rds = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                      region_name="ap-northeast-1").client("rds", endpoint_url=deployment.endpoint)
    rds.create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier=deployment.outputs["DbInstanceIdentifier"])
    try:
        yield name
    finally:
        rds.delete_db_snapshot(DBSnapshotIdentifier=name)


@contextlib.contextmanager
def copied_within_tokyo(deployment: Any) -> Iterator[None]:
    """The intake bucket replicated to a bucket of this account in ap-northeast-1 that the stack does not declare,
    and the API's access log streamed to a Kinesis stream of this account there, for the block: both stay in the
    stack's place (the posture stays PASS), and they are the only way to make the readers ask GetBucketLocation
    and read a subscription filter. Removed after it."""
    from opscli.aws import new_session

    session = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                          region_name="ap-northeast-1")
    s3, logs, kinesis = (session.client(name, endpoint_url=deployment.endpoint) for name in ("s3", "logs", "kinesis"))
    bucket, group = deployment.outputs["IngestBucketName"], deployment.outputs["ApiAccessLogGroup"]
    account = deployment.outputs["KmsKeyArn"].split(":")[4]
    copy = f"{bucket}-copy"[:63]
    s3.create_bucket(Bucket=copy, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    s3.put_bucket_versioning(Bucket=copy, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration={
        "Role": f"arn:aws:iam::{account}:role/replication-within-tokyo",
        "Rules": [{"ID": "within-tokyo", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
                   "DeleteMarkerReplication": {"Status": "Disabled"},
                   "Destination": {"Bucket": f"arn:aws:s3:::{copy}"}}]})
    kinesis.create_stream(StreamName="log-copies-within-tokyo", ShardCount=1)
    stream = kinesis.describe_stream(StreamName="log-copies-within-tokyo")["StreamDescription"]["StreamARN"]
    logs.put_subscription_filter(logGroupName=group, filterName="within-tokyo", filterPattern="", destinationArn=stream)
    try:
        yield
    finally:
        logs.delete_subscription_filter(logGroupName=group, filterName="within-tokyo")
        kinesis.delete_stream(StreamName="log-copies-within-tokyo")
        s3.delete_bucket_replication(Bucket=bucket)
        s3.delete_bucket(Bucket=copy)


_FIRST_READS: dict[tuple[str, str], Any] = {}


def first_read(aws: Any, scope: Any, account: str) -> Any:
    """The first whole read of a deployment in this test process (the account's IAM beside it, as `opscli audit`
    reads them), by endpoint and stack: the shared deployment as declared, every check passed. The session's
    baseline judges it, and the modules that change the deployment compare what their cases touched with it
    (tests/integration/changes.py); each of them restores what it changed, and proves it."""
    from opscli import livestack

    key = (str(aws.endpoint_url), scope.stack_name)
    if key not in _FIRST_READS:
        _FIRST_READS[key] = livestack.read_stack(aws, scope, account=account, account_iam=True)
    return _FIRST_READS[key]


def judge_and_compare(aws: Any, outputs_file: Path, *, first: bool = False) -> tuple[list[Any], list[Any], Any]:
    """One read of the whole stack (with `first`, `first_read`'s), judged as `opscli audit` judges it and compared
    with its declaration as `opscli drift` compares it: (the audit's findings, the drift's findings, the target)."""
    from opscli import core, livestack, stackcheck, targets

    target = targets.from_outputs(outputs_file)
    scope, account = core.stack_scope(aws, target), core.account_id(aws)
    live = first_read(aws, scope, account) if first else livestack.read_stack(aws, scope, account=account,
                                                                              account_iam=True)
    tags = {"Environment": target.suffix}
    return stackcheck.judge(live, expected_tags=tags), stackcheck.drift(live, expected_tags=tags)[0], target


def posture(deployment: LocalDeployment, *, first: bool = False) -> list[tuple[str, str, str]]:
    """Every check of `opscli audit`, `drift` and `rotate-check secrets` on the deployment: (check, resource,
    status). Drift covers every declared property the readers read, so a change a test leaves behind shows. With
    `first`, the audit and the drift judge `first_read`'s read."""
    from opscli import core

    aws = local_aws(deployment.endpoint)
    audit, drift, target = judge_and_compare(aws, deployment.outputs_file, first=first)
    findings = audit + drift + core.rotate_secrets(aws, target).findings
    return sorted((f.check_id, f.resource, f.status.value) for f in findings)


@pytest.fixture(scope="session")
def baseline_posture(local_deployment) -> list[tuple[str, str, str]]:
    """Every check on the shared deployment before the first test that breaks a setting: all PASS (it is the
    compliant stack), so a deployment restored to it passes every check again, and a test need not read it once
    more to say so. Its read is the process's first of the deployment (`first_read`), which it takes if no module
    took it before."""
    baseline = posture(local_deployment, first=True)
    assert baseline and {status for _, _, status in baseline} == {"PASS"}, \
        [check for check in baseline if check[2] != "PASS"]
    local_deployment.baseline = baseline
    return baseline


def assert_restored(deployment: LocalDeployment, baseline: list[tuple[str, str, str]]) -> None:
    """Every check as in `baseline`. The read runs outside coverage's tracer: a restored deployment is in the
    baseline's state, so it runs exactly the code the baseline's traced read ran (and a deployment that was not
    restored fails the test)."""
    from tests.library_tracing import untraced_with_its_threads

    changed = sorted(set(untraced_with_its_threads(posture)(deployment)) ^ set(baseline))
    assert not changed, f"the test left the shared deployment changed: {changed}"


def left_changed_at_the_end(deployment: LocalDeployment) -> None:
    """The shared deployment's last look, at the session's end: a test that changed it without asking for
    `restored_deployment` is found by one whole read (its writes are heard by no one, and later tests read the
    change). Nothing to compare with if no test of the session took the baseline."""
    if deployment.baseline is not None:
        assert_restored(deployment, deployment.baseline)


@pytest.fixture(scope="session")
def restore_check(local_deployment, baseline_posture) -> Iterator[Any]:
    """How `restored_deployment` proves a test put the shared deployment back (tests/restored.py): it hears every
    write the emulator serves during the test and reads again what they touched, or the whole deployment where
    they touched what the posture monitor's planner cannot place."""
    from tests.restored import Restore

    check = Restore(local_deployment)
    yield check
    deaf = check.writes.deaf()
    assert not deaf, f"a test changed the rule that forwards the writes of {deaf} to the restore check: its " \
                     "later tests' writes there went unheard"


@pytest.fixture(autouse=True)
def _restore_hearing(request) -> Iterator[None]:
    """`restored_deployment`'s hearing, for a test that asks for it: autouse, so it is set up before every other
    function-scoped fixture of the test and torn down after them all. A fixture the test asks for before
    `restored_deployment` (set up first, torn down last) writes inside the hearing too: begun and checked in
    `restored_deployment` itself, such a fixture's setup and teardown writes went unheard and passed."""
    if "restored_deployment" not in request.fixturenames:
        yield
        return
    restore_check, baseline_posture = request.getfixturevalue("restore_check"), \
        request.getfixturevalue("baseline_posture")
    with restore_check.hearing() as heard:
        yield
    restore_check.check(heard, baseline_posture)


@pytest.fixture
def restored_deployment(local_deployment, baseline_posture, restore_check) -> LocalDeployment:
    """The shared deployment for a test that breaks settings on it: after the test (its fixtures' teardown
    included: `_restore_hearing`), what every write it made (from any client or process) touched must read back
    as at the start of the session, and the account's IAM too after an IAM write; a write the posture monitor's
    planner cannot place on the stack makes every check of the audit, the drift and the rotate-check be compared
    with the session's start instead (`assert_restored`). Otherwise the test fails."""
    return local_deployment
