"""End to end, as deployed: the synthesized stack in a TLS moto server, real PostgreSQL and Redis with TLS,
the worker and the API as real processes with the environment ECS would give them. A generated video goes
upload -> S3 event -> EventBridge -> SQS -> worker -> PostgreSQL -> Redis -> API."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from localenv.emulator import free_port
from localenv.pipeline import LocalPlatform, ServiceProcess, get_json, local_platform
from localenv.sample_video import make_video
from platform_spec.exit_codes import EXIT_KILLED
from services.common import db, videos
from services.common.cache import Cache, video_key
from services.common.settings import DatabaseSettings, RedisSettings
from tests.conftest import unmeasured
from tests.polling import poll
from tests.services.conftest import LogSink, record

# One worker starts the local platform (moto over TLS, PostgreSQL, Redis) for the whole module.
pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("pipeline")]

STORED_OR_REJECTED = ("job_stored", "job_rejected")


@pytest.fixture(scope="module")
def platform(data_servers, synth, tmp_path_factory):
    with local_platform(synth.template, synth.config, workdir=tmp_path_factory.mktemp("platform")) as platform:
        yield platform


@pytest.fixture(scope="module")
def _apis(platform) -> list[tuple[ServiceProcess, str]]:
    return []


@pytest.fixture
def api(platform, _apis) -> tuple[ServiceProcess, str]:
    """The module's API process and its base URL, started again if a test before stopped it: the tests do not
    depend on their order (pytest-testmon runs a module's fastest tests first, the SIGTERM test among them)."""
    if not _apis or _apis[-1][0].process.poll() is not None:
        # Shorter waits than the defaults, which the tests of a database or cache down wait out: its breaker tries
        # Redis again 1 s after a failure (CACHE_BREAKER_SECONDS, 5 s by default), and a request waits 1 s for a
        # pooled connection before its 503 (DB_POOL_TIMEOUT_MS, 3 s by default).
        process, base = platform.start_api(CACHE_BREAKER_SECONDS="1", DB_POOL_TIMEOUT_MS="1000")
        assert process.process.poll() is None, process.records
        _apis.append((process, base))
    return _apis[-1]


def rows(platform: LocalPlatform, key: str) -> list[tuple]:
    with db.connect(DatabaseSettings.from_env(platform.postgres.environment()), "tests") as conn:
        return conn.execute("SELECT id::text, version_id, processed_count FROM videos WHERE object_key = %s",
                            (key,)).fetchall()


def queue_empty(platform: LocalPlatform) -> bool:
    attributes = platform.client("sqs").get_queue_attributes(
        QueueUrl=platform.outputs["IntakeQueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return all(v == "0" for v in attributes.values())


def unmeasured_worker(platform: LocalPlatform, **extra: str) -> ServiceProcess:
    """`platform.start_worker(**extra)`, run unmeasured by coverage: for a worker the test kills (SIGKILL, or a
    failpoint's os._exit), as coverage saves what a process measured only when it exits; for the others, as what
    they run is measured in process (test_worker.py) and in the measured real processes of this module (the
    whole pipeline's worker, the two start-up exits, the API)."""
    process = ServiceProcess("services.video_worker",
                             unmeasured(platform.service_environment("video-processing", **extra)))
    platform.processes.append(process)
    return process


def test_a_video_goes_through_the_whole_pipeline(platform, api, sample_video):
    _api_process, base = api
    worker = platform.start_worker()
    try:
        video = sample_video  # a 2 s H.264 + AAC video at 320x240 (tests/services/conftest.py)
        version = platform.upload(video, "uploads/e2e.mp4")
        done = worker.wait_for(lambda r: r.get("event") in STORED_OR_REJECTED and r.get("key") == "uploads/e2e.mp4", 60)
        assert done["event"] == "job_stored" and done["version_id"] == version
        status, headers, body = get_json(f"{base}/videos/{done['id']}")
        assert status == 200 and headers["X-Cache"] == "HIT"  # the worker refreshed the entry on write
        assert (body["key"], body["video_codec"], body["width"], body["height"]) == \
            ("uploads/e2e.mp4", "h264", 320, 240)
        assert body["duration_seconds"] == pytest.approx(2.0, abs=0.1) and body["size_bytes"] == video.stat().st_size
        # Drop the entry: the API reloads it from PostgreSQL (cache-aside).
        Cache(RedisSettings.from_env(platform.redis.environment()), LogSink()).client.delete(video_key(done["id"]))
        assert get_json(f"{base}/videos/{done['id']}")[1]["X-Cache"] == "MISS"
        popular = get_json(f"{base}/videos/popular")[2]["items"]
        assert popular[0]["id"] == done["id"] and popular[0]["views"] == 2
        listing = get_json(f"{base}/videos?limit=5")[2]
        assert done["id"] in [v["id"] for v in listing["items"]]
        assert rows(platform, "uploads/e2e.mp4") == [(done["id"], version, 1)], \
            [(r.get("event"), r.get("key"), r.get("version_id")) for r in worker.records if "event" in r]
        assert queue_empty(platform)
        assert all(r.get("service") == "video-worker" for r in worker.records if "event" in r and "_aws" not in r)
        assert worker.stop() == 0 and worker.events("shutdown_requested") and worker.events("worker_stopped")
    finally:  # a failed assertion above: its worker must not take the module's later tests' jobs
        if worker.process.poll() is None:
            worker.stop()


def test_a_corrupt_upload_lands_in_the_dead_letter_queue(platform, sample_video, tmp_path):
    worker = unmeasured_worker(platform)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(sample_video.read_bytes()[:2000])
    platform.upload(broken, "uploads/broken.mp4")
    rejected = worker.wait_for(lambda r: r.get("event") in STORED_OR_REJECTED, 60)  # the only job queued
    assert rejected["event"] == "job_rejected" and rejected["reason"].startswith("unreadable video")
    dlq = platform.client("sqs").get_queue_url(QueueName=platform.outputs["IntakeDeadLetterQueueName"])["QueueUrl"]
    dead = platform.client("sqs").receive_message(QueueUrl=dlq, MessageAttributeNames=["All"], WaitTimeSeconds=1)
    assert "unreadable video" in dead["Messages"][0]["MessageAttributes"]["reason"]["StringValue"]
    assert rows(platform, "uploads/broken.mp4") == [] and queue_empty(platform)
    assert worker.stop() == 0, worker.records[-30:]


def test_a_worker_killed_after_storing_leaves_exactly_one_row_once_restarted(platform, sample_video):
    key = "uploads/crash.mp4"
    # The message comes back once the visibility the crashed worker received it with lapses: 1 s, the least the
    # worker takes. The restarted one keeps its default (900 s): its job never comes back while the test runs.
    crashing = unmeasured_worker(platform, STREAMTECH_FAILPOINTS="crash_after_store", WORKER_VISIBILITY_SECONDS="1")
    platform.upload(sample_video, key)
    crashing.process.wait(60)
    assert crashing.process.returncode == EXIT_KILLED  # died between the commit and the acknowledgement
    assert len(rows(platform, key)) == 1 and not queue_empty(platform)
    restarted = unmeasured_worker(platform)
    again = restarted.wait_for(lambda r: r.get("event") == "job_stored" and r.get("key") == key, 60)
    assert again["inserted"] is False
    [(vid, _, processed)] = rows(platform, key)
    assert vid == again["id"] and processed == 2
    assert queue_empty(platform)
    assert restarted.stop() == 0, restarted.records[-30:]


def test_a_worker_that_crashes_in_native_code_leaves_every_threads_python_stack_in_its_log(platform):
    """A fatal signal of native code (FFmpeg's decoders, libpq: here SIGABRT, as abort() raises it) is not an exit
    that says nothing of where: the service's faulthandler prints each thread's Python stack on stderr, the task's
    log. The main thread's is short and always whole: it waits for the job loops in Worker.run (a job loop's, deep
    in botocore's long poll, may be cut at faulthandler's 100 frames)."""
    import os
    import signal

    worker = unmeasured_worker(platform)
    worker.wait_for(lambda r: r.get("event") == "worker_started", 60)
    os.kill(worker.process.pid, signal.SIGABRT)
    assert worker.process.wait(30) == -signal.SIGABRT
    worker.wait_for(lambda r: re.search(r"video_worker/worker\.py\", line \d+ in run$", r.get("line", "")), 30)
    lines = [r["line"] for r in worker.records if r.get("event") == "non_json_output"]
    assert "Fatal Python error: Aborted" in lines and sum(line.startswith("Thread 0x") for line in lines) >= 2, lines


def test_a_worker_sigkilled_mid_job_leaves_exactly_one_row_once_restarted(platform, tmp_path):
    key = "uploads/sigkill.mp4"
    worker = unmeasured_worker(platform, WORKER_VISIBILITY_SECONDS="1")  # as the crash's above
    platform.upload(make_video(tmp_path / "sigkill.mp4", seconds=4), key)  # a longer job: killed in its midst
    started = worker.wait_for(lambda r: r.get("event") == "worker_started", 60)
    worker.wait_for(lambda r: r.get("event") == "job_started" and r.get("key") == key, 60)
    assert worker.kill() == -9
    killed_dir = Path(started["scratch"])
    assert killed_dir.is_dir()  # what the killed task left on the scratch mount
    restarted = unmeasured_worker(platform)
    swept = restarted.wait_for(lambda r: r.get("event") == "scratch_swept", 30)
    assert killed_dir.name in swept["directories"] and not killed_dir.exists()
    if not (queue_empty(platform) and rows(platform, key)):  # the job's message comes back once its visibility lapses
        # the worker deletes a message before it logs its job stored
        restarted.wait_for(lambda r: r.get("event") == "job_stored" and r.get("key") == key, 60)
    assert len(rows(platform, key)) == 1 and queue_empty(platform)
    assert restarted.stop() == 0, restarted.records[-30:]
    assert [p.name for p in platform.scratch.iterdir()] == []  # a clean stop leaves nothing behind


def test_a_misconfigured_worker_exits_2_with_a_clear_log_line(platform):
    worker = platform.start_worker(DB_SSLMODE="require")
    assert worker.process.wait(30) == 2
    assert "DB_SSLMODE must be verify-full" in worker.events("configuration_error")[0]["error"]


def test_redis_down_the_api_serves_from_postgres_and_says_so(platform, api):
    api_process, base = api
    # The row as the worker stores it (the worker's own run: test_a_video_goes_through_the_whole_pipeline).
    with db.connect(DatabaseSettings.from_env(platform.postgres.environment()), "tests") as conn:
        vid = videos.upsert(conn, {**record(0), "object_key": "uploads/nocache.mp4"})[0]["id"]
    platform.redis.kill()
    try:
        mark = len(api_process.records)
        status, headers, body = get_json(f"{base}/videos/{vid}")
        assert status == 200 and headers["X-Cache"] == "BYPASS" and body["id"] == vid
        outage = api_process.wait_for(lambda r: r.get("event") == "cache_unavailable", 10, start=mark)
        assert outage["retry_in_s"] == 1  # the `api` fixture's CACHE_BREAKER_SECONDS reached the process's breaker
        api_process.wait_for(lambda r: "CacheBypass" in r, 10, start=mark)
        assert get_json(f"{base}/videos/popular")[0] == 503
    finally:
        platform.redis.start()
    # The API left as it was found: its breaker keeps it off Redis for a while after a failure, and the module's
    # other tests expect the cache in use (a whole pipeline run right after this one was served BYPASS, not HIT).
    # /health pings through the breaker and counts no view.
    poll(lambda: get_json(f"{base}/health")[2]["cache"] == "ok", "the API back on its cache", 30, every=0.1)


def test_postgres_down_the_api_answers_503_quickly_then_recovers(platform, api):
    _api_process, base = api
    platform.postgres.kill()
    try:
        # A hang would end in the client's own timeout (an error, not a 503): the answer itself is the proof.
        status, headers, body = get_json(f"{base}/videos?limit=1", timeout=60)
        assert status == 503 and body["error"] == "database unavailable" and headers["Retry-After"] == "5"
        assert get_json(f"{base}/health")[2]["database"] == "unavailable"
    finally:
        platform.postgres.start()
    poll(lambda: get_json(f"{base}/videos?limit=1")[0] == 200, "the API answering 200 once PostgreSQL is back", 30,
         every=0.1)


def test_a_worker_without_a_reachable_database_exits_3_after_its_start_up_window(platform):
    worker = platform.start_worker(DB_PORT=str(free_port()), STARTUP_TIMEOUT_SECONDS="1")  # a try, a retry, then 3
    assert worker.process.wait(30) == 3
    assert worker.events("database_not_ready") and worker.events("database_unreachable")


def test_the_api_stops_gracefully_on_sigterm(api):
    api_process, _ = api
    assert api_process.stop() == 0 and api_process.events("api_stopped"), api_process.records
