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


def _platform(monkeypatch, tmp_path) -> pipeline.LocalPlatform:
    """A local platform with nothing started: its task definition's environment is CACHE_TTL_SECONDS alone."""
    from types import SimpleNamespace

    from cdk_app.config import AppConfig

    platform = pipeline.LocalPlatform(
        config=AppConfig.for_suffix("test"), endpoint="https://127.0.0.1:1", tls=SimpleNamespace(ca=tmp_path / "ca"),
        outputs={}, session=None, postgres=SimpleNamespace(environment=dict), redis=SimpleNamespace(environment=dict),
        scratch=tmp_path, workdir=tmp_path, secret_value=lambda *_: "")
    monkeypatch.setattr(platform, "task_environment", lambda family: {"CACHE_TTL_SECONDS": "300"})
    return platform


def test_a_service_keeps_of_the_callers_environment_only_what_any_process_needs(monkeypatch, tmp_path):
    """ECS gives a task its task definition's environment and secrets alone: a setting, a profile, an endpoint or an
    interpreter's setting in the caller's shell never reaches the local services; what a process needs to run (and
    coverage's hook) does."""
    caller = {"CACHE_BREAKER_SECONDS": "300", "DB_POOL_TIMEOUT_MS": "60000", "WORKER_WAIT_SECONDS": "20",
              "STREAMTECH_FAILPOINTS": "crash_after_store", "AWS_PROFILE": "prod", "AWS_SESSION_TOKEN": "t",
              "AWS_ENDPOINT_URL_SQS": "https://sqs.ap-northeast-1.amazonaws.com", "HTTPS_PROXY": "http://proxy:3128",
              "PATH": "/bin:/usr/bin", "HOME": str(tmp_path), "LC_ALL": "C.UTF-8", "PYTHONPATH": "/src",
              "COVERAGE_PROCESS_START": "/src/pyproject.toml", "COVERAGE_PROCESS_CONFIG": "{}",
              "TMPDIR": "/var/tmp", "LANG": "C.UTF-8", "LANGUAGE": "en", "TZ": "Asia/Tokyo", "VIRTUAL_ENV": "/venv",
              "PYTHONPYCACHEPREFIX": "/cache/py", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONINSPECT": "1",
              "PYTHONHOME": "/elsewhere", "PYTHONOPTIMIZE": "2", "PYTHONWARNINGS": "error"}
    monkeypatch.setattr(pipeline.os, "environ", caller)
    platform = _platform(monkeypatch, tmp_path)
    env = platform.service_environment("metadata-api", PORT="8080")
    for name in ("PATH", "LC_ALL", "COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG", "TMPDIR", "LANG", "LANGUAGE",
                 "TZ", "VIRTUAL_ENV", "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE"):
        assert env[name] == caller[name], name
    for name in ("CACHE_BREAKER_SECONDS", "DB_POOL_TIMEOUT_MS", "STREAMTECH_FAILPOINTS", "AWS_PROFILE",
                 "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_SQS", "HTTPS_PROXY", "PYTHONPATH", "PYTHONINSPECT",
                 "PYTHONHOME", "PYTHONOPTIMIZE", "PYTHONWARNINGS"):
        assert name not in env, name
    assert env["HOME"] == str(platform.home) != caller["HOME"]  # a home of its own: see the next test
    assert env["WORKER_WAIT_SECONDS"] == "2" and env["CACHE_TTL_SECONDS"] == "300" and env["PORT"] == "8080"
    assert env["AWS_ENDPOINT_URL"] == "https://127.0.0.1:1"


def test_a_services_calls_go_to_the_local_endpoint_whatever_the_callers_aws_config_says(monkeypatch, tmp_path):
    """A task has no ~/.aws/config. The caller's, read through its HOME, would change where a service's calls go:
    `ignore_configured_endpoint_urls` sends them past AWS_ENDPOINT_URL to AWS itself (and its ~/.postgresql client
    certificate would be offered to the local PostgreSQL). With the service's environment, botocore resolves the
    local endpoint."""
    import botocore.session

    caller_home = tmp_path / "caller"
    (caller_home / ".aws").mkdir(parents=True)
    (caller_home / ".aws" / "config").write_text("[default]\nignore_configured_endpoint_urls = true\n")
    monkeypatch.setenv("HOME", str(caller_home))
    env = _platform(monkeypatch, tmp_path).service_environment("video-processing")
    for name in [name for name in pipeline.os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sqs = botocore.session.Session().create_client("sqs", region_name=env["AWS_DEFAULT_REGION"])
    assert sqs.meta.endpoint_url == "https://127.0.0.1:1"
