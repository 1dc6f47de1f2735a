"""The local video pipeline: the stack deployed into a TLS moto server (S3, EventBridge, SQS, Secrets
Manager, ECS task definitions), real PostgreSQL and Redis with TLS standing in for RDS and ElastiCache, and
the two services run as real processes with the environment ECS would give them (read from the registered
task definitions, secrets resolved from Secrets Manager, data-store endpoints pointed at the local servers).

    python -m localenv.pipeline --suffix dev [--template ...] [--video PATH]

pushes one video (generated unless --video is given) through upload -> event -> worker -> PostgreSQL ->
API -> Redis and prints its metadata as the API serves it. Exit codes: 0 the video came back through the
API; 1 it did not (worker rejected it, or timeout); 2 usage error; 3 the local platform could not start; 143
stopped by SIGTERM (the local platform stopped and removed first)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from cdk_app.config import AppConfig
from localenv import processes
from localenv.dataservers import PostgresServer, RedisServer, ServerError
from localenv.deploy import Deployer, default_secret_values
from localenv.emulator import LOCAL_CREDENTIALS, free_port, moto_server
from localenv.inputs import ROOT, UsageError, load_stack
from localenv.sample_video import make_video
from localenv.tls import TlsFiles, make_tls_files
from platform_spec import contract
from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, EXIT_TERMINATED, EXIT_USAGE

# Endpoints that exist only inside the VPC; locally they are the servers started here.
LOCAL_OVERRIDES = (contract.DB_HOST, contract.DB_PORT, contract.DB_CA_BUNDLE, contract.REDIS_HOST, contract.REDIS_PORT,
                   contract.REDIS_CA_BUNDLE)

#: What a service process keeps of the caller's environment: what any process needs to run here (its programs, its
#: temporary directory, its locale and time zone, the virtual environment it runs in and where that keeps its
#: bytecode, and coverage's hooks when a test run measures it). Nothing else: ECS gives a task its task definition's
#: environment and secrets alone, so no variable of the caller's shell (a service setting such as
#: CACHE_BREAKER_SECONDS, an AWS_PROFILE or an AWS_ENDPOINT_URL_<SERVICE>) changes what the local platform runs or
#: where its calls go. Not even HOME: the service gets a home of its own (LocalPlatform.home), empty as a task's,
#: since the caller's holds files its libraries read: ~/.aws/config (`ignore_configured_endpoint_urls` sends the
#: calls past AWS_ENDPOINT_URL to AWS itself) and ~/.postgresql (a client certificate libpq sends, or fails on, at
#: every connection). Nor the interpreter's other settings: PYTHONPATH and PYTHONHOME change the code it runs,
#: PYTHONINSPECT its exit status (a clean exit 0 or 2 becomes 1), PYTHONOPTIMIZE its asserts, PYTHONWARNINGS
#: whether a warning ends it.
INHERITED = frozenset({"PATH", "TMPDIR", "LANG", "LANGUAGE", "TZ", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE",
                       "PYTHONPYCACHEPREFIX"})
INHERITED_PREFIXES = ("LC_", "COVERAGE_")


def inherited(environment: Mapping[str, str]) -> dict[str, str]:
    """The part of `environment` a service process keeps (INHERITED)."""
    return {k: v for k, v in environment.items() if k in INHERITED or k.startswith(INHERITED_PREFIXES)}


class ServiceProcess:
    """A service started as `python -m <module>`, its JSON log lines collected (and echoed if asked)."""

    def __init__(self, module: str, env: dict[str, str], *, echo: Callable[[dict], None] | None = None) -> None:
        self.module = module
        self.records: list[dict[str, Any]] = []
        self._new = threading.Condition()
        self._echo = echo
        self.process = subprocess.Popen([sys.executable, "-m", module], env=env, cwd=ROOT, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = {"event": "non_json_output", "line": line.rstrip()}
            with self._new:
                self.records.append(record)
                self._new.notify_all()
            if self._echo:
                self._echo(record)

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float, start: int = 0) -> dict[str, Any]:
        """The first log record from index `start` on that satisfies `predicate`; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._new:
            while True:
                for record in self.records[start:]:
                    if predicate(record):
                        return record
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    events = [r.get("event") for r in self.records[-8:]]
                    raise TimeoutError(f"{self.module}: no matching log line within {timeout:.0f}s "
                                       f"(exit {self.process.poll()}, last events {events})")
                self._new.wait(min(remaining, 0.2))

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in list(self.records) if r.get("event") == name]

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as ECS does, then wait; SIGKILL only if it does not exit in time."""
        code = processes.stop(self.process, timeout)
        self._reader.join(5)
        return code

    def kill(self) -> int:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join(5)
        return self.process.returncode


@dataclass
class LocalPlatform:
    config: AppConfig
    endpoint: str
    tls: TlsFiles
    outputs: dict[str, str]
    session: boto3.Session
    postgres: PostgresServer
    redis: RedisServer
    scratch: Path
    workdir: Path
    secret_value: Callable[[str, str], str]  # (secret id, JSON key) -> value, read from Secrets Manager
    processes: list[ServiceProcess] = field(default_factory=list)

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)

    @property
    def home(self) -> Path:
        """The services' HOME: a directory of the platform's own, not the caller's (INHERITED)."""
        return self.workdir / "home"

    def task_environment(self, family_key: str) -> dict[str, str]:
        """What ECS would inject into the container of task family `family_key` (e.g. "video-processing"):
        the task definition's environment, its secrets resolved from Secrets Manager."""
        family = self.config.name(family_key)
        container = self.client("ecs").describe_task_definition(taskDefinition=family)[
            "taskDefinition"]["containerDefinitions"][0]
        env = {e["name"]: e["value"] for e in container.get("environment", [])}
        for secret in container.get("secrets", []):
            # valueFrom: <secret ARN (7 fields)>:<json-key>:<version-stage>:<version-id> (ECS's format)
            parts = secret["valueFrom"].split(":")
            env[secret["name"]] = self.secret_value(":".join(parts[:7]), parts[7])
        return env

    def service_environment(self, family_key: str, **extra: str) -> dict[str, str]:
        env = inherited(os.environ)
        env.update(self.task_environment(family_key))
        env.update({k: v for k, v in {**self.postgres.environment(), **self.redis.environment()}.items()
                    if k in LOCAL_OVERRIDES})
        env.update(LOCAL_CREDENTIALS)
        env.update({"AWS_ENDPOINT_URL": self.endpoint, "AWS_CA_BUNDLE": str(self.tls.ca),
                    # short long-polls: a local stop (SIGTERM) waits for the current receive to return
                    "WORKER_WAIT_SECONDS": "2",
                    "SCRATCH_DIR": str(self.scratch), "PYTHONUNBUFFERED": "1", "HOME": str(self.home),
                    "HEARTBEAT_FILE": str(self.workdir / f"{family_key}.heartbeat")})
        env.update(extra)
        return env

    def start_worker(self, *, echo: Callable[[dict], None] | None = None, **extra: str) -> ServiceProcess:
        process = ServiceProcess("services.video_worker",
                                 self.service_environment("video-processing", **extra), echo=echo)
        self.processes.append(process)
        return process

    def start_api(self, *, port: int | None = None, echo: Callable[[dict], None] | None = None,
                  **extra: str) -> tuple[ServiceProcess, str]:
        port = port or free_port()
        process = ServiceProcess("services.metadata_api", self.service_environment(
            "metadata-api", PORT=str(port), BIND_ADDRESS="127.0.0.1", **extra), echo=echo)
        self.processes.append(process)
        process.wait_for(lambda r: r.get("event") in ("api_started", "configuration_error", "database_unreachable"),
                         60)
        return process, f"http://127.0.0.1:{port}"

    def upload(self, path: Path, key: str) -> str:
        """PUT the file into the ingest bucket (over TLS, as the bucket policy demands); its version id."""
        with path.open("rb") as body:
            return self.client("s3").put_object(Bucket=self.outputs["IngestBucketName"], Key=key,
                                                Body=body)["VersionId"]


@contextmanager
def local_platform(template: dict, config: AppConfig, *, workdir: Path | None = None) -> Iterator[LocalPlatform]:
    """Everything the services need, started; everything stopped and removed on exit."""
    with ExitStack() as stack:
        workdir = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="streamtech-local-")))
        tls = make_tls_files(workdir / "tls")
        saved = {k: os.environ.get(k) for k in (*LOCAL_CREDENTIALS, "AWS_CA_BUNDLE")}
        os.environ.update({**LOCAL_CREDENTIALS, "AWS_CA_BUNDLE": str(tls.ca)})

        def restore_environment() -> None:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

        stack.callback(restore_environment)
        endpoint = stack.enter_context(moto_server(tls=tls))
        session = boto3.Session(region_name=config.region)
        deployer = Deployer(template, config, session=session, endpoint_url=endpoint)
        values = default_secret_values(config)
        deployer.seed_secrets(values)
        outputs = deployer.deploy().outputs
        db, cache = values[config.db_secret], values[config.redis_auth_secret]
        postgres = PostgresServer(tls, password=db["password"], user=db["username"], database=contract.DATABASE)
        stack.callback(postgres.remove)
        postgres.start()
        redis = RedisServer(workdir / "redis", tls, password=cache["authToken"])
        stack.callback(redis.stop)
        redis.start()
        scratch = workdir / "scratch"  # the EFS access point's stand-in
        scratch.mkdir()
        platform = LocalPlatform(config=config, endpoint=endpoint, tls=tls, outputs=outputs, session=session,
                                 postgres=postgres, redis=redis, scratch=scratch, workdir=workdir,
                                 secret_value=deployer.secret_value)
        platform.home.mkdir()
        stack.callback(lambda: [p.stop() for p in platform.processes])
        yield platform


class Terminated(BaseException):
    """SIGTERM came while `stop_on_sigterm` was in force. A BaseException, as KeyboardInterrupt is: an `except
    Exception` on the way (a retry loop) must not swallow it."""


@contextmanager
def stop_on_sigterm() -> Iterator[Callable[[], object]]:
    """For the block, SIGTERM raises Terminated in the main thread, so that the `with` blocks around the code it
    interrupts stop what they started. Python's default ends the process at once, and PostgreSQL would outlive it:
    pg_ctl starts the server in a session of its own, which a signal to our process group (.ci/run stopping its
    jobs, `timeout`) does not reach. Yields `closing`, to call once the run stops on its own: from then on, and
    after the first SIGTERM, SIGTERM is ignored, so that no second one cuts the stop short. Main thread only."""

    def handler(_signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN)
    finally:
        signal.signal(signal.SIGTERM, previous)


def get_json(url: str, timeout: float = 10) -> tuple[int, Any, Any]:
    """GET `url`; (status, headers, JSON body) for every status, 2xx or not. The headers are looked up
    case-insensitively, as HTTP header names are (the API sends them in lower case)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read() or b"null")


def _show(title: str, value: Any) -> None:
    print(f"\n== {title}")
    print(json.dumps(value, indent=2, ensure_ascii=False))


def run(template: dict, config: AppConfig, video: Path | None, timeout: float,
        closing: Callable[[], object] = lambda: None) -> int:
    """Push the video through a local platform; `closing` is called when the platform starts to stop."""
    with local_platform(template, config) as platform:
        try:
            return _push(platform, video, timeout)
        finally:
            closing()


def _push(platform: LocalPlatform, video: Path | None, timeout: float) -> int:
    print(f"local platform: moto (TLS) {platform.endpoint}, PostgreSQL (TLS, verify-full) "
          f"127.0.0.1:{platform.postgres.port}, Redis (TLS + AUTH) 127.0.0.1:{platform.redis.port}")
    worker = platform.start_worker()
    api, base = platform.start_api()
    if api.process.poll() is not None:
        print(f"error: the metadata API did not start: {api.records[-3:]}", file=sys.stderr)
        return EXIT_INCOMPLETE
    if video is None:
        video = make_video(platform.workdir / "sample.mp4", seconds=3)
        print(f"generated {video.name}: {video.stat().st_size} bytes (H.264 + AAC, 3 s, 320x240)")
    key = f"uploads/{video.name}"
    version = platform.upload(video, key)
    print(f"uploaded s3://{platform.outputs['IngestBucketName']}/{key} (version {version}) over TLS")
    try:
        done = worker.wait_for(lambda r: r.get("event") in ("job_stored", "job_rejected"), timeout)
    except TimeoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FINDINGS
    if done["event"] == "job_rejected":
        print(f"the worker rejected the video: {done['reason']} (it is in the dead-letter queue)")
        return EXIT_FINDINGS
    print(f"worker stored video {done['id']} in {done['seconds']} s")
    status, headers, body = get_json(f"{base}/videos/{done['id']}")
    _show(f"GET /videos/{done['id']} -> {status}, X-Cache: {headers.get('X-Cache')}", body)
    status2, headers2, _ = get_json(f"{base}/videos/{done['id']}")
    print(f"\nsecond GET -> {status2}, X-Cache: {headers2.get('X-Cache')}")
    _show("GET /videos/popular", get_json(f"{base}/videos/popular")[2])
    codes = {"worker": worker.stop(), "metadata api": api.stop()}
    print("\nservices stopped on SIGTERM: " + ", ".join(f"{k} exit {v}" for k, v in codes.items()))
    return EXIT_OK if status == 200 and body.get("key") == key else EXIT_FINDINGS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localenv.pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suffix", default="dev")
    parser.add_argument("--template", type=Path)
    parser.add_argument("--video", type=Path, help="a video file to push (default: generate one)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the worker")
    args = parser.parse_args(argv)
    try:
        config, template = load_stack(args.suffix, args.template, synthesized_by="scripts/pipeline.sh")
        if args.video is not None and not args.video.is_file():
            raise UsageError(f"--video {args.video} is not a file")
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for tool in ("redis-server",):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found: apt-get install redis-server postgresql", file=sys.stderr)
            return EXIT_INCOMPLETE
    try:
        with stop_on_sigterm() as closing:
            return run(template, config, args.video, args.timeout, closing)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INCOMPLETE
    except Terminated:
        print("stopped on SIGTERM: the local platform was stopped and removed", file=sys.stderr)
        return EXIT_TERMINATED


if __name__ == "__main__":
    sys.exit(main())
