"""pytest plugin for bench/suite_cpu.py --per-test: the CPU of every test phase and of every fixture's set-up,
and the work each asked for (processes started, whole-stack reads, deployments, syntheses).

    python -m pytest -p bench.suite_cpu_plugin ...     # SUITE_CPU_TESTS=DIR: where each process writes its lines

A phase's CPU is this process's (user + system, every thread), the CPU of the children it reaped in that time, and
what the children it started and has not reaped yet (the shared deployment's emulator, the data servers) spent in
that time (read from /proc/PID/stat, their own and their reaped children's). A daemon that leaves its parent (e.g.
PostgreSQL under pg_ctl) is not counted. A session fixture's set-up is charged to the first test that asks for it,
and listed once more by fixture name. One JSON line per test phase and per fixture set-up, in
DIR/<worker id>.jsonl."""

from __future__ import annotations

import collections
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

TICK = os.sysconf("SC_CLK_TCK")
_children: set[int] = set()  # the pids this process started and may not have reaped yet
_counts: collections.Counter[str] = collections.Counter()  # the work asked for, since the process started
_sink: Any = None
# The clocks as this process started with them: a test that holds the clock (monkeypatching time.time) must not
# move its own record's start or length.
_now = time.time
_perf_counter = time.perf_counter


def cpu_now() -> float:
    """This process's CPU, its reaped children's, and its live children's (with what they reaped) in seconds."""
    times = os.times()
    total = times.user + times.system + times.children_user + times.children_system
    for pid in list(_children):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            _children.discard(pid)  # reaped: its CPU is in the children's times now
            continue
        total += sum(int(f) for f in fields[11:15]) / TICK
    return total


def _kind(args: Any) -> str:
    """What a process is, from its command line: `python -m MODULE` (or `python -c`), else the program's name."""
    words = [str(a) for a in args] if isinstance(args, (list, tuple)) else str(args).split()
    if not words:
        return "?"
    program = words[0].rsplit("/", 1)[-1]
    if program.startswith("python"):
        if "-m" in words[:-1]:
            return "python -m " + words[words.index("-m") + 1].split(".")[0]
        return "python -c" if "-c" in words else "python"
    return program


def _count(name: str):
    def wrap(function):
        def counted(*args, **kwargs):
            _counts[name] += 1
            return function(*args, **kwargs)
        counted.__wrapped__ = function
        return counted
    return wrap


def _install_counters() -> None:
    original_init = subprocess.Popen.__init__

    def init(self, args, *rest, **kwargs):
        original_init(self, args, *rest, **kwargs)
        _children.add(self.pid)
        _counts["process:" + _kind(args)] += 1

    subprocess.Popen.__init__ = init
    try:
        from opscli import livestack
        livestack.read_stack = _count("whole-stack read")(livestack.read_stack)
        from localenv import deploy
        deploy.Deployer.deploy = _count("in-process deployment")(deploy.Deployer.deploy)
    except ImportError:
        pass
    if "aws_cdk" in sys.modules:
        sys.modules["aws_cdk"].App.synth = _count("in-process synthesis")(sys.modules["aws_cdk"].App.synth)
    else:
        sys.meta_path.insert(0, _CountSyntheses())


class _CountSyntheses(importlib.abc.MetaPathFinder):
    """Counts in-process syntheses from the moment a test imports aws_cdk: importing it here would start a jsii
    kernel (a Node process) in every test process, where the suite starts one in the process of the "cdk" group
    only, and the profile would bill kernels the suite does not run."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name != "aws_cdk":
            return None
        sys.meta_path.remove(self)  # once, and the real finders find it
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_count(module: Any) -> None:
            exec_module(module)
            module.App.synth = _count("in-process synthesis")(module.App.synth)

        loader.exec_module = exec_and_count  # type: ignore[method-assign]
        return spec


def pytest_configure(config: pytest.Config) -> None:
    global _sink
    directory = os.environ.get("SUITE_CPU_TESTS")
    if not directory or not (hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None)):
        return
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    Path(directory).mkdir(parents=True, exist_ok=True)
    _sink = open(Path(directory) / f"{worker}.jsonl", "a", buffering=1)  # noqa: SIM115 - closed at unconfigure
    _install_counters()


def pytest_unconfigure(config: pytest.Config) -> None:
    """The process's own CPU and its children's from its start: what no phase accounts for is start-up, imports,
    collection and exit."""
    if _sink is not None:
        _write({"process": True, "cpu": round(cpu_now(), 4)})
        _sink.close()


def _write(record: dict[str, Any]) -> None:
    if _sink is not None:
        _sink.write(json.dumps(record) + "\n")


def _measured(nodeid: str, phase: str):
    cpu, wall, counts = cpu_now(), _perf_counter(), collections.Counter(_counts)
    start = _now()  # when, on the clock every worker shares: the schedule's timeline (suite_cpu.py)
    yield
    delta = {k: v - counts.get(k, 0) for k, v in _counts.items() if v - counts.get(k, 0)}
    _write({"test": nodeid, "phase": phase, "cpu": round(cpu_now() - cpu, 4),
            "wall": round(_perf_counter() - wall, 4), "start": round(start, 3), "work": delta})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    yield from _measured(item.nodeid, "setup")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    yield from _measured(item.nodeid, "call")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item):
    yield from _measured(item.nodeid, "teardown")


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any):
    cpu, counts = cpu_now(), collections.Counter(_counts)
    yield
    spent = cpu_now() - cpu
    if spent >= 0.05:
        delta = {k: v - counts.get(k, 0) for k, v in _counts.items() if v - counts.get(k, 0)}
        _write({"fixture": fixturedef.argname, "scope": fixturedef.scope, "test": request.node.nodeid,
                "cpu": round(spent, 4), "work": delta})


_started = 0.0


def pytest_sessionstart(session: pytest.Session) -> None:
    global _started
    _started = cpu_now()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start-up and collection: from the session's start (after the plugins' imports) to the last test collected."""
    _write({"collection": True, "cpu": round(cpu_now() - _started, 4)})
