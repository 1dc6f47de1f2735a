"""The worker in process: moto's S3, EventBridge and SQS (the real event path: upload -> S3 event ->
EventBridge rule -> queue), the real PostgreSQL and Redis."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localenv.emulator import configure_moto, free_port
from services.common import db
from services.common.cache import video_key
from services.common.settings import SettingsError
from services.video_worker.worker import (
    LOCK_FILE,
    Scratch,
    VisibilityExtender,
    Worker,
    WorkerFailed,
    WorkerSettings,
    parse_job,
)
from tests.services.conftest import LogSink, count_rows, settings_for
from tests.services.test_app import down_cache

REGION = "ap-northeast-1"


@functools.cache
def _clients() -> tuple[Any, Any, Any]:
    """S3, SQS and EventBridge clients, made once: a mock answers every client made after moto was imported, so
    each test's fresh mock (its own buckets and queues) answers these too, and none makes three more."""
    s3, sqs, events = (boto3.client(s, region_name=REGION, aws_access_key_id="testing",
                                    aws_secret_access_key="testing") for s in ("s3", "sqs", "events"))
    return s3, sqs, events


@pytest.fixture
def intake(aws_credentials, tmp_path):
    configure_moto()
    with mock_aws():
        s3, sqs, events = _clients()
        s3.create_bucket(Bucket="ingest", CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket="ingest", VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_notification_configuration(Bucket="ingest", NotificationConfiguration={
            "EventBridgeConfiguration": {}})
        dlq = sqs.create_queue(QueueName="intake-dlq")["QueueUrl"]
        queue = sqs.create_queue(QueueName="intake-queue", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="intake-rule", EventPattern=json.dumps({
            "source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": ["ingest"]}}}))
        events.put_targets(Rule="intake-rule", Targets=[{"Id": "queue", "Arn": queue_arn}])
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        settings = WorkerSettings(queue_url=queue, dead_letter_queue_url=dlq, bucket="ingest", scratch_dir=scratch,
                                  wait_s=0, visibility_s=60, retry_base_s=0, heartbeat_file=tmp_path / "beat")
        yield {"s3": s3, "sqs": sqs, "settings": settings}


@pytest.fixture
def worker(intake, pool, cache, log) -> Worker:
    return Worker(intake["settings"], sqs=intake["sqs"], s3=intake["s3"], db=pool, cache=cache, logger=log)


def upload(intake, body: bytes, key: str = "uploads/clip.mp4") -> str:
    return intake["s3"].put_object(Bucket="ingest", Key=key, Body=body)["VersionId"]


def dead_letters(intake) -> list[dict]:
    answer = intake["sqs"].receive_message(QueueUrl=intake["settings"].dead_letter_queue_url,
                                           MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return answer.get("Messages", [])


def scratch_files(intake) -> list[Path]:
    """Downloads left on the scratch mount (a task's directory holds only its lock file between jobs)."""
    return [f for f in intake["settings"].scratch_dir.rglob("*") if f.is_file() and f.name != LOCK_FILE]


def queue_depth(intake) -> int:
    attributes = intake["sqs"].get_queue_attributes(
        QueueUrl=intake["settings"].queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(v) for v in attributes.values())


def test_an_uploaded_video_is_probed_stored_cached_and_acknowledged(worker, intake, sample_video, clean_db, cache,
                                                                    log):
    version = upload(intake, sample_video.read_bytes())
    assert worker.poll_once() == ["stored"]
    with db.connect(clean_db, "tests") as conn:
        key, stored_version, codec, size = conn.execute(
            "SELECT object_key, version_id, video_codec, size_bytes FROM videos").fetchone()
    assert (key, stored_version, codec, size) == ("uploads/clip.mp4", version, "h264", sample_video.stat().st_size)
    stored = log.events("job_stored")[0]
    assert json.loads(cache.client.get(video_key(stored["id"])))["version_id"] == version
    assert queue_depth(intake) == 0 and scratch_files(intake) == []
    assert {"VideosProcessed", "ProcessingSeconds"} <= {k for r in log.events("metric") for k in r}


def test_a_redelivered_message_rewrites_the_same_row(worker, intake, sample_video, clean_db):
    upload(intake, sample_video.read_bytes())
    message = intake["sqs"].receive_message(QueueUrl=intake["settings"].queue_url,
                                            VisibilityTimeout=0)["Messages"][0]
    assert worker.handle(message) == "stored"
    assert worker.handle({**message, "ReceiptHandle": message["ReceiptHandle"]}) == "stored"
    with db.connect(clean_db, "tests") as conn:
        assert conn.execute("SELECT count(*), max(processed_count) FROM videos").fetchone() == (1, 2)


def test_a_corrupt_video_goes_to_the_dead_letter_queue_with_its_reason(worker, intake, sample_video, clean_db, log):
    upload(intake, sample_video.read_bytes()[:2500], key="uploads/broken.mp4")
    assert worker.poll_once() == ["rejected"]
    [dead] = dead_letters(intake)
    assert dead["MessageAttributes"]["reason"]["StringValue"].startswith("unreadable video:")
    assert json.loads(dead["Body"])["detail"]["object"]["key"] == "uploads/broken.mp4"
    assert queue_depth(intake) == 0 and count_rows(clean_db) == 0
    assert log.events("job_rejected")[0]["reason"].startswith("unreadable video")
    assert scratch_files(intake) == []


@pytest.mark.parametrize("body, reason", [
    ("not json", "malformed event"),
    (json.dumps({"source": "aws.ec2", "detail-type": "Instance State-change"}), "not an S3 Object Created event"),
    pytest.param(json.dumps({"source": "x" * 100_000, "detail-type": {"a": 1}}),
                 "not an S3 Object Created event: source='" + "x" * 40 + "'... (100,000 characters) "
                 "detail-type='{\"a\": 1}'", id="a-long-source"),
    (json.dumps({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}), "malformed event"),
    # json.loads raises ValueError (not JSONDecodeError) past int()'s 4,300 digits, RecursionError past its nesting
    pytest.param("1" * 5000, "malformed event: ValueError: Exceeds the limit (4300 digits)", id="a-5000-digit-number"),
    pytest.param("[" * 100_000 + "]" * 100_000, "malformed event: RecursionError", id="nested-100000-deep"),
    pytest.param('{"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "ingest"}, '
                 '"object": {"key": "uploads/a.mp4", "key": "uploads/b.mp4"}}}',
                 "malformed event: KeyTwice: the key 'key' twice in one object", id="a-key-given-twice"),
    pytest.param('{"source": "aws.ec2", "source": "aws.s3", "detail-type": "Object Created", '
                 '"detail": {"bucket": {"name": "ingest"}, "object": {"key": "k"}}}',
                 "malformed event: KeyTwice: the key 'source' twice", id="a-source-given-twice"),
    (json.dumps({"source": "aws.s3", "detail-type": "Object Created",
                 "detail": {"bucket": {"name": "ingest"}, "object": {"key": ""}}}), "empty object key"),
    (json.dumps({"source": "aws.s3", "detail-type": "Object Created",
                 "detail": {"bucket": {"name": "other"}, "object": {"key": "k"}}}), "this worker serves ingest"),
    pytest.param(json.dumps({"source": "aws.s3", "detail-type": "Object Created",
                             "detail": {"bucket": {"name": "\u202e" + "b" * 4999}, "object": {"key": "k"}}}),
                 "event for bucket '\\u202e" + "b" * 39 + "'... (5,000 characters), this worker serves ingest",
                 id="a-long-bucket"),
    pytest.param(json.dumps({"source": "aws.s3", "detail-type": "Object Created",
                             "detail": {"bucket": {"name": "ingest"}, "object": {"key": "uploads/" + "\u52d5" * 339}}}),
                 "object key is 1,025 bytes of UTF-8, longer than S3 allows (1,024): 'uploads/",
                 id="a-key-past-s3s-limit"),
    (json.dumps({"source": "aws.s3", "detail-type": "Object Created",
                 "detail": {"bucket": {"name": "ingest"}, "object": {"key": "uploads/a\x00b.mp4"}}}),
     "object key cannot be stored: it contains a NUL character (at 9)"),
    (json.dumps({"source": "aws.s3", "detail-type": "Object Created",
                 "detail": {"bucket": {"name": "ingest"}, "object": {"key": "uploads/\udcff.mp4"}}}),
     "object key cannot be stored: it is not valid UTF-8 (a lone surrogate at 8)"),
    (json.dumps({"source": "aws.s3", "detail-type": "Object Created",
                 "detail": {"bucket": {"name": "ingest"}, "object": {"key": "k", "etag": "\x00"}}}),
     "object etag cannot be stored"),
])
def test_malformed_or_foreign_events_are_rejected(worker, intake, body, reason):
    """Rejected on the first receive (dead-lettered with the reason, not retried as a transient failure)."""
    intake["sqs"].send_message(QueueUrl=intake["settings"].queue_url, MessageBody=body)
    assert worker.poll_once() == ["rejected"]
    [dead] = dead_letters(intake)
    assert reason in dead["MessageAttributes"]["reason"]["StringValue"]
    assert queue_depth(intake) == 0


def test_an_object_deleted_before_processing_is_rejected_as_gone(worker, intake, sample_video):
    version = upload(intake, sample_video.read_bytes())
    intake["s3"].delete_object(Bucket="ingest", Key="uploads/clip.mp4", VersionId=version)
    assert worker.poll_once() == ["rejected"]
    assert "is gone" in dead_letters(intake)[0]["MessageAttributes"]["reason"]["StringValue"]


def test_database_down_leaves_the_message_for_a_retry(intake, postgres, cache, sample_video):
    log = LogSink()
    settings = settings_for(postgres, DB_PORT=str(free_port()), DB_CONNECT_TIMEOUT="1")
    with db.pool(settings, "tests", timeout=1) as dead_pool:
        worker = Worker(intake["settings"], sqs=intake["sqs"], s3=intake["s3"], db=dead_pool, cache=cache,
                        logger=log)
        upload(intake, sample_video.read_bytes())
        assert worker.poll_once() == ["retry"]
        assert log.events("job_failed")[0]["reason"].startswith("database:")
        assert queue_depth(intake) == 1 and dead_letters(intake) == []
        again = intake["sqs"].receive_message(QueueUrl=intake["settings"].queue_url,
                                              MessageSystemAttributeNames=["ApproximateReceiveCount"])
        assert again["Messages"][0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_redis_down_the_row_is_still_stored_and_the_miss_logged(intake, pool, redis_settings, sample_video,
                                                                 clean_db):
    log = LogSink()
    worker = Worker(intake["settings"], sqs=intake["sqs"], s3=intake["s3"], db=pool,
                    cache=down_cache(redis_settings, log), logger=log)
    upload(intake, sample_video.read_bytes())
    assert worker.poll_once() == ["stored"]
    assert count_rows(clean_db) == 1 and log.events("cache_refresh_failed")


def test_the_loop_beats_and_stops_when_asked(worker, intake):
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    beat = intake["settings"].heartbeat_file
    started = time.time()
    deadline = time.monotonic() + 60  # the first beat, however busy the machine (a fixed 0.3 s lost that race)
    while not beat.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert float(beat.read_text()) >= started - 1  # a beat of this run (the clock's resolution aside)
    assert [r["event"] for r in worker.logger.records if r["event"].startswith("worker_")] == [
        "worker_started", "worker_stopped"]


class RecordingSqs:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def change_message_visibility(self, **kwargs) -> None:
        self.calls.append(kwargs)


def test_a_long_job_keeps_its_message_invisible_and_its_heartbeat_fresh():
    """While the job runs, the extender beats every tick and extends the visibility every half timeout: waited
    for as events (five beats and two extensions), however slowly the machine runs the ticks."""
    sqs, beats, enough = RecordingSqs(), [], threading.Event()

    def beat() -> None:
        beats.append(1)
        if len(beats) >= 5 and len(sqs.calls) >= 2:
            enough.set()

    with VisibilityExtender(sqs, "q", "r", 1, LogSink(), beat, tick_s=0.2):
        assert enough.wait(120), (len(beats), sqs.calls)
    assert sqs.calls[0] == {"QueueUrl": "q", "ReceiptHandle": "r", "VisibilityTimeout": 1}


def test_worker_settings_need_a_writable_scratch_directory(tmp_path):
    env = {"SCRATCH_DIR": str(tmp_path / "missing"), "INTAKE_QUEUE_URL": "q", "INTAKE_DLQ_URL": "d",
           "INGEST_BUCKET": "b"}
    with pytest.raises(SettingsError, match="not a writable directory"):
        WorkerSettings.from_env(env)
    with pytest.raises(SettingsError, match=r"^SCRATCH_DIR '/nonexistent/\\u202e" + "d" * 26 + r"'\.\.\. \(100 "):
        WorkerSettings.from_env({**env, "SCRATCH_DIR": "/nonexistent/\u202e" + "d" * 86})  # escaped, cut
    settings = WorkerSettings.from_env({**env, "SCRATCH_DIR": str(tmp_path), "WORKER_WAIT_SECONDS": "5"})
    assert settings.wait_s == 5 and settings.visibility_s == 900
    with pytest.raises(SettingsError, match="WORKER_WAIT_SECONDS must be between 0 and 20"):
        WorkerSettings.from_env({**env, "SCRATCH_DIR": str(tmp_path), "WORKER_WAIT_SECONDS": "60"})


def test_an_s3_event_from_eventbridge_is_parsed():
    body = json.dumps({"source": "aws.s3", "detail-type": "Object Created", "time": "2026-11-27T00:00:00Z",
                       "detail": {"bucket": {"name": "b"}, "object": {"key": "a b.mp4", "size": 3, "etag": "e"}}})
    job = parse_job({"MessageId": "m", "ReceiptHandle": "r", "Body": body})
    assert (job.key, job.version_id, job.etag, job.size, job.receive_count) == ("a b.mp4", "null", "e", 3, 1)
    longest = "uploads/" + "\u52d5" * 338 + "xx"  # 1,024 bytes of UTF-8: the longest key S3 takes is a job
    assert len(longest.encode()) == 1024
    assert parse_job({"MessageId": "m", "ReceiptHandle": "r", "Body": s3_event(longest)}).key == longest


def test_concurrent_job_loops_share_the_queue_without_doing_a_video_twice(intake, pool, cache, sample_video,
                                                                          clean_db):
    from dataclasses import replace

    log = LogSink()
    worker = Worker(replace(intake["settings"], concurrency=3), sqs=intake["sqs"], s3=intake["s3"], db=pool,
                    cache=cache, logger=log)
    for n in range(6):
        upload(intake, sample_video.read_bytes(), key=f"uploads/parallel-{n}.mp4")
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + 60
    while len(log.events("job_stored")) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(30)
    assert len(log.events("job_stored")) == 6 and count_rows(clean_db) == 6 and queue_depth(intake) == 0
    with db.connect(clean_db, "tests") as conn:
        assert conn.execute("SELECT max(processed_count) FROM videos").fetchone() == (1,)
    assert log.events("worker_started")[0]["concurrency"] == 3 and len(log.events("worker_stopped")) == 1
    float(intake["settings"].heartbeat_file.read_text())  # a whole timestamp, never interleaved writes


def s3_event(key: str, bucket: str = "ingest", version: str | None = None) -> str:
    obj = {"key": key, "size": 1}
    if version:
        obj["version-id"] = version
    return json.dumps({"source": "aws.s3", "detail-type": "Object Created", "time": "2026-11-27T00:00:00Z",
                       "detail": {"bucket": {"name": bucket}, "object": obj}})


def test_an_exception_nobody_foresaw_is_that_messages_failure_not_the_loops(worker, intake, sample_video,
                                                                           monkeypatch):
    """Issue 12: the loop caught only AWS errors, so one odd message ended the thread (and, redelivered, the
    next one). Now it is retried with backoff and, on the last receive, dead-lettered with its reason."""
    upload(intake, sample_video.read_bytes())

    def boom(*_args, **_kwargs):
        raise AttributeError("'NoneType' object has no attribute 'name'")

    monkeypatch.setattr(worker, "_process", boom)
    outcomes = []
    for _ in range(3):
        [message] = intake["sqs"].receive_message(QueueUrl=intake["settings"].queue_url, VisibilityTimeout=0,
                                                  MessageSystemAttributeNames=["ApproximateReceiveCount"],
                                                  )["Messages"]
        outcomes.append(worker.handle(message))
    assert outcomes == ["retry", "retry", "rejected"]
    [dead] = dead_letters(intake)
    reason = dead["MessageAttributes"]["reason"]["StringValue"]
    assert reason.startswith("failed 3 times; last: unexpected AttributeError"), reason
    assert len(worker.logger.events("job_crashed")) == 3 and queue_depth(intake) == 0


@pytest.mark.parametrize("key", ["uploads/nul\x00.mp4", "uploads/clip.mp4\x00", "../../etc/passwd",
                                 "uploads/" + "x" * 1000 + ".mp4", "uploads/\u52d5\u753b .m\u00e4v", "."])
def test_hostile_keys_never_end_the_loop(worker, intake, key):
    """A key with a NUL made the scratch clean-up raise ValueError and ended the loop. The scratch name is
    never taken from the key beyond a plain extension; each is dead-lettered (a NUL at once, the others because
    the object does not exist)."""
    intake["sqs"].send_message(QueueUrl=intake["settings"].queue_url, MessageBody=s3_event(key))
    assert worker.poll_once() == ["rejected"]
    reason = dead_letters(intake)[0]["MessageAttributes"]["reason"]["StringValue"]
    # A NUL could never be stored: rejected with that reason before the object is even looked for.
    assert ("contains a NUL character" if "\x00" in key else "is gone") in reason, reason
    assert scratch_files(intake) == []
    assert all(p.parent.parent == intake["settings"].scratch_dir
               for p in intake["settings"].scratch_dir.rglob("*") if p.is_file())


def test_a_loop_that_dies_stops_the_worker_with_a_failure(worker, intake):
    """If a loop dies all the same (here: the heartbeat cannot be written), the other loops stop and run()
    raises WorkerFailed, which run_service turns into exit 4 so ECS replaces the task (it returned 0)."""
    from dataclasses import replace

    broken = Worker(replace(intake["settings"], concurrency=2,
                            heartbeat_file=intake["settings"].scratch_dir / "missing" / "beat"),
                    sqs=intake["sqs"], s3=intake["s3"], db=worker.db, cache=worker.cache, logger=LogSink())
    stop = threading.Event()
    with pytest.raises(WorkerFailed, match="job loop"):
        broken.run(stop)
    assert stop.is_set() and broken.logger.events("job_loop_died")
    assert [r["event"] for r in broken.logger.records if r["event"].startswith("worker_")] == [
        "worker_started", "worker_stopped"]


HOLD_LOCK = """
import fcntl, sys, time
handle = open(sys.argv[1], "a")
fcntl.flock(handle, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""


def test_scratch_left_by_a_killed_task_is_removed_at_start_and_a_live_tasks_is_kept(tmp_path):
    """After a kill -9 mid-download the partial file stayed on EFS forever (151 MB in one try). At start a
    worker removes every task directory whose lock nobody holds; a live task's directory stays."""
    root = tmp_path / "scratch"
    dead, live = root / "task-dead", root / "task-live"
    for directory in (dead, live):
        directory.mkdir(parents=True)
        (directory / LOCK_FILE).write_text("")
    (dead / "partial.mp4").write_bytes(b"x" * 4096)
    (live / "downloading.mp4").write_bytes(b"y" * 10)
    with subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(live / LOCK_FILE)], stdout=subprocess.PIPE,
                          text=True) as holder:  # its pipe closed on the way out
        try:
            assert holder.stdout.readline().strip() == "locked"
            log = LogSink()
            scratch = Scratch(root, log).open()
            assert not dead.exists() and (live / "downloading.mp4").exists() and scratch.directory.is_dir()
            [swept] = log.events("scratch_swept")
            assert swept["directories"] == ["task-dead"] and swept["bytes"] == 4096
            assert Scratch(root, LogSink())._abandoned(scratch.directory) is False  # held while it lives
            scratch.close()
            assert not scratch.directory.exists()
        finally:
            holder.kill()
            holder.wait()
    Scratch(root, LogSink()).open().close()  # the holder died: its directory goes at the next start
    assert not live.exists()


def test_fuzz_damaged_uploads_and_hostile_keys_through_the_running_loop(intake, pool, cache, sample_video,
                                                                         clean_db):
    """Mutated videos (byte flips, truncations, splices) and hostile keys through Worker.run's loop: the loop
    survives, the queue drains, and every message ends stored or dead-lettered with a reason. A dozen mutants hold
    each kind of damage and both outcomes; what damage does to the probe itself is test_probe.py's (300 mutants
    per container)."""
    from tests.services.test_probe import mutants

    log = LogSink()
    worker = Worker(intake["settings"], sqs=intake["sqs"], s3=intake["s3"], db=pool, cache=cache, logger=log)
    keys = ["uploads/a\x00b.mp4", "uploads/" + "k" * 900 + ".mp4", "../escape.mp4", "uploads/sp ace.mkv\x00"]
    bodies = mutants(sample_video.read_bytes(), 12, seed=12)
    for n, body in enumerate(bodies):
        upload(intake, body, key=f"uploads/fuzz-{n}.mp4")
    for key in keys:
        intake["sqs"].send_message(QueueUrl=intake["settings"].queue_url, MessageBody=s3_event(key))
    total = len(bodies) + len(keys)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + 120
    while len(log.events("job_stored")) + len(log.events("job_rejected")) < total and time.monotonic() < deadline:
        assert thread.is_alive()
        time.sleep(0.05)
    stop.set()
    thread.join(30)
    stored, rejected = log.events("job_stored"), log.events("job_rejected")
    assert len(stored) + len(rejected) == total and queue_depth(intake) == 0, (len(stored), len(rejected))
    assert stored and rejected and not log.events("job_crashed") and not log.events("job_loop_died")
    dead = []
    while batch := dead_letters(intake):
        dead += batch
        for message in batch:
            intake["sqs"].delete_message(QueueUrl=intake["settings"].dead_letter_queue_url,
                                         ReceiptHandle=message["ReceiptHandle"])
    assert len(dead) == len(rejected) and all(m["MessageAttributes"]["reason"]["StringValue"] for m in dead)
    # both outcomes among the mutants themselves (the hostile keys alone are always rejected)
    assert any("fuzz-" in m["Body"] for m in dead), "every mutant was stored: only the hostile keys were rejected"
    assert count_rows(clean_db) == len(stored) and scratch_files(intake) == []
