"""`python -m localenv.pipeline` stopped by SIGTERM stops what it started: the signal unwinds the local platform's
`with` blocks (PostgreSQL, in a session of its own, is out of reach of a signal to the process group), and a second
SIGTERM does not cut that stop short."""

from __future__ import annotations

import contextlib
import shutil
import signal

import pytest

from localenv import pipeline
from platform_spec.exit_codes import EXIT_TERMINATED


@pytest.fixture
def pipeline_main(monkeypatch):
    """pipeline.main with no stack to load and redis-server "found"; `run` is the test's."""
    monkeypatch.setattr(pipeline, "load_stack", lambda *_a, **_k: (object(), {}))
    which = shutil.which
    monkeypatch.setattr(pipeline.shutil, "which", lambda tool: "/bin/true" if tool == "redis-server" else which(tool))
    before = signal.getsignal(signal.SIGTERM)
    yield lambda: pipeline.main(["--suffix", "test"])
    assert signal.getsignal(signal.SIGTERM) is before  # main leaves the process's SIGTERM as it found it


def test_sigterm_stops_the_platform_and_exits_terminated(pipeline_main, monkeypatch, capsys):
    stopped = []

    @contextlib.contextmanager
    def platform():
        try:
            yield
        finally:
            signal.raise_signal(signal.SIGTERM)  # a second one, while stopping: ignored
            stopped.append("platform")

    def run(template, config, video, timeout, closing):
        with platform():
            signal.raise_signal(signal.SIGTERM)
            stopped.append("not reached")
        return 0

    monkeypatch.setattr(pipeline, "run", run)
    assert pipeline_main() == EXIT_TERMINATED
    assert stopped == ["platform"]
    assert "stopped on SIGTERM" in capsys.readouterr().err


def test_sigterm_after_the_run_began_to_stop_is_ignored(pipeline_main, monkeypatch):
    def run(template, config, video, timeout, closing):
        closing()
        signal.raise_signal(signal.SIGTERM)
        return 0

    monkeypatch.setattr(pipeline, "run", run)
    assert pipeline_main() == 0
