"""The video worker: intake queue -> EFS scratch -> probe -> PostgreSQL -> Redis.

At-least-once, idempotent: a message is deleted only after its row is committed, so a crash anywhere before
that makes SQS deliver it again after the visibility timeout, and the upsert keyed by (bucket, key, version)
rewrites the same row. Unreadable files and malformed events go to the dead-letter queue at once, with the
reason as a message attribute and in the log; transient failures (database, S3) are retried with backoff and
reach the dead-letter queue through the queue's redrive policy after its receive limit."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from botocore.exceptions import BotoCoreError, ClientError
from psycopg_pool import ConnectionPool, PoolTimeout

from platform_spec import contract
from services.common import failpoints, videos
from services.common.cache import Cache, CacheUnavailable
from services.common.log import JsonLogger
from services.common.settings import SettingsError, integer, require
from services.video_worker.probe import UnreadableVideo, probe

GONE_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NoSuchBucket"})


class PoisonMessage(ValueError):
    """The message is not an S3 Object Created event this worker can act on."""


@dataclass(frozen=True)
class WorkerSettings:
    queue_url: str
    dead_letter_queue_url: str
    bucket: str
    scratch_dir: Path
    wait_s: int = 20
    visibility_s: int = 900
    retry_base_s: int = 30
    heartbeat_file: Path = Path("/tmp/heartbeat")
    concurrency: int = 1  # jobs at once per process (each its own poll loop); I/O-bound jobs share the vCPUs

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WorkerSettings:
        scratch = Path(require(env, contract.SCRATCH_DIR))
        if not scratch.is_dir() or not os.access(scratch, os.W_OK):
            raise SettingsError(f"SCRATCH_DIR {scratch} is not a writable directory (the EFS mount)")
        return cls(queue_url=require(env, contract.INTAKE_QUEUE_URL),
                   dead_letter_queue_url=require(env, contract.INTAKE_DLQ_URL),
                   bucket=require(env, contract.INGEST_BUCKET), scratch_dir=scratch,
                   wait_s=integer(env, "WORKER_WAIT_SECONDS", 20, 0, 20),
                   visibility_s=integer(env, "WORKER_VISIBILITY_SECONDS", 900, 1, 43200),
                   retry_base_s=integer(env, "WORKER_RETRY_BASE_SECONDS", 30, 0, 900),
                   concurrency=integer(env, contract.WORKER_CONCURRENCY, 1, 1, 16),
                   heartbeat_file=Path(env.get("HEARTBEAT_FILE", "/tmp/heartbeat")))


@dataclass(frozen=True)
class Job:
    message_id: str
    receipt: str
    body: str
    receive_count: int
    bucket: str
    key: str
    version_id: str
    size: int | None
    etag: str | None
    event_time: str | None


def parse_job(message: dict[str, Any]) -> Job:
    """An SQS message carrying EventBridge's S3 "Object Created" event."""
    body = message.get("Body", "")
    try:
        event = json.loads(body)
        if event.get("source") != "aws.s3" or event.get("detail-type") != "Object Created":
            raise PoisonMessage(f"not an S3 Object Created event: source={event.get('source')!r} "
                                f"detail-type={event.get('detail-type')!r}")
        detail = event["detail"]
        obj = detail["object"]
        key = obj["key"]
        bucket = detail["bucket"]["name"]
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise PoisonMessage(f"malformed event: {type(exc).__name__}: {exc}") from None
    if not isinstance(key, str) or not key or not isinstance(bucket, str):
        raise PoisonMessage("malformed event: empty object key or bucket")
    return Job(message_id=message["MessageId"], receipt=message["ReceiptHandle"], body=body,
               receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
               bucket=bucket, key=key, version_id=str(obj.get("version-id") or "null"),
               size=obj.get("size"), etag=obj.get("etag") or obj.get("eTag"), event_time=event.get("time"))


class VisibilityExtender:
    """While a job runs: keeps its message invisible (extends the visibility every half timeout) and keeps
    the container's heartbeat fresh (a long video is progress, not a hang)."""

    def __init__(self, sqs: Any, queue_url: str, receipt: str, visibility_s: int, logger: JsonLogger,
                 beat: Any, tick_s: float = 20.0) -> None:
        self.sqs, self.queue_url, self.receipt, self.visibility_s, self.logger, self.beat = (
            sqs, queue_url, receipt, visibility_s, logger, beat)
        self.tick_s = min(tick_s, max(visibility_s / 2, 0.5))
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        extended = time.monotonic()
        while not self._done.wait(self.tick_s):
            self.beat()
            if time.monotonic() - extended < self.visibility_s / 2:
                continue
            try:
                self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=self.receipt,
                                                   VisibilityTimeout=self.visibility_s)
                extended = time.monotonic()
            except (ClientError, BotoCoreError) as exc:
                self.logger.warning("visibility_extension_failed", error=str(exc))

    def __enter__(self) -> VisibilityExtender:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


class Worker:
    def __init__(self, settings: WorkerSettings, *, sqs: Any, s3: Any, db: ConnectionPool, cache: Cache,
                 logger: JsonLogger) -> None:
        self.settings, self.sqs, self.s3, self.db, self.cache, self.logger = settings, sqs, s3, db, cache, logger
        self._beat_lock = threading.Lock()

    def beat(self) -> None:
        """The container health check reads this file's timestamp (healthcheck.py); written atomically."""
        with self._beat_lock:
            partial = self.settings.heartbeat_file.with_suffix(".partial")
            partial.write_text(str(time.time()))
            os.replace(partial, self.settings.heartbeat_file)

    def run(self, stop: threading.Event) -> None:
        """`concurrency` poll loops until `stop`; each finishes its current job before returning."""
        self.logger.info("worker_started", queue=self.settings.queue_url, scratch=str(self.settings.scratch_dir),
                         concurrency=self.settings.concurrency)
        loops = [threading.Thread(target=self._loop, args=(stop,), name=f"job-loop-{n}")
                 for n in range(self.settings.concurrency)]
        for loop in loops:
            loop.start()
        for loop in loops:
            loop.join()
        self.logger.info("worker_stopped")

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.beat()
            try:
                self.poll_once()
            except (ClientError, BotoCoreError) as exc:
                self.logger.error("receive_failed", error=f"{type(exc).__name__}: {exc}")
                stop.wait(5)

    def poll_once(self) -> list[str]:
        answer = self.sqs.receive_message(
            QueueUrl=self.settings.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=self.settings.wait_s,
            VisibilityTimeout=self.settings.visibility_s, MessageSystemAttributeNames=["ApproximateReceiveCount"])
        return [self.handle(message) for message in answer.get("Messages", [])]

    def handle(self, message: dict[str, Any]) -> str:
        """Process one message; returns "stored", "rejected" or "retry"."""
        started = time.perf_counter()
        try:
            job = parse_job(message)
        except PoisonMessage as exc:
            return self._reject(message["MessageId"], message["ReceiptHandle"], message.get("Body", ""), str(exc))
        if job.bucket != self.settings.bucket:
            return self._reject(job.message_id, job.receipt, job.body,
                                f"event for bucket {job.bucket}, this worker serves {self.settings.bucket}")
        self.logger.info("job_started", message_id=job.message_id, key=job.key, version_id=job.version_id,
                         receive_count=job.receive_count)
        scratch = self.settings.scratch_dir / f"{uuid.uuid4().hex}{Path(job.key).suffix[:16]}"
        try:
            with VisibilityExtender(self.sqs, self.settings.queue_url, job.receipt, self.settings.visibility_s,
                                    self.logger, self.beat):
                return self._process(job, scratch, started)
        finally:
            scratch.unlink(missing_ok=True)

    def _process(self, job: Job, scratch: Path, started: float) -> str:
        try:
            self.s3.download_file(job.bucket, job.key, str(scratch), ExtraArgs={"VersionId": job.version_id}
                                  if job.version_id != "null" else None)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if code in GONE_CODES:
                return self._reject(job.message_id, job.receipt, job.body,
                                    f"object s3://{job.bucket}/{job.key} version {job.version_id} is gone ({code})")
            return self._retry(job, f"download failed: {code}: {exc}")
        except BotoCoreError as exc:
            return self._retry(job, f"download failed: {type(exc).__name__}: {exc}")
        try:
            meta = probe(scratch)
        except UnreadableVideo as exc:
            return self._reject(job.message_id, job.receipt, job.body, f"unreadable video: {exc}")
        record = {"bucket": job.bucket, "object_key": job.key, "version_id": job.version_id,
                  "size_bytes": scratch.stat().st_size, "etag": job.etag, "uploaded_at": job.event_time, **meta}
        try:
            with self.db.connection() as conn:
                row, inserted = videos.upsert(conn, record)
        except (psycopg.Error, PoolTimeout) as exc:
            return self._retry(job, f"database: {type(exc).__name__}: {exc}")
        failpoints.hit("crash_after_store")
        try:
            self.cache.put_video(row)  # write-through: readers never see the previous version's entry
        except CacheUnavailable as exc:
            self.logger.warning("cache_refresh_failed", id=row["id"], error=str(exc),
                                note="the entry expires within the cache TTL")
        self._delete(job.receipt)
        seconds = round(time.perf_counter() - started, 3)
        self.logger.info("job_stored", message_id=job.message_id, id=row["id"], key=job.key,
                         version_id=job.version_id, inserted=inserted, seconds=seconds,
                         duration_seconds=row["duration_seconds"], video_codec=row["video_codec"])
        self.logger.metric("VideosProcessed", 1)
        self.logger.metric("ProcessingSeconds", seconds, unit="Seconds")
        return "stored"

    def _delete(self, receipt: str) -> None:
        self.sqs.delete_message(QueueUrl=self.settings.queue_url, ReceiptHandle=receipt)

    def _reject(self, message_id: str, receipt: str, body: str, reason: str) -> str:
        """Poison: to the dead-letter queue now (with the reason), then off the intake queue."""
        try:
            self.sqs.send_message(QueueUrl=self.settings.dead_letter_queue_url, MessageBody=body or "(empty)",
                                  MessageAttributes={
                                      "reason": {"DataType": "String", "StringValue": reason[:1000]},
                                      "source_message_id": {"DataType": "String", "StringValue": message_id}})
            self._delete(receipt)
        except (ClientError, BotoCoreError) as exc:
            self.logger.error("reject_failed", message_id=message_id, reason=reason, error=str(exc),
                              note="the message stays on the intake queue; redrive moves it after the receive limit")
            return "retry"
        self.logger.error("job_rejected", message_id=message_id, reason=reason)
        self.logger.metric("VideosRejected", 1)
        return "rejected"

    def _retry(self, job: Job, reason: str) -> str:
        """Transient: leave the message, visible again after a backoff that grows with each receive."""
        delay = min(self.settings.retry_base_s * 2 ** (job.receive_count - 1), self.settings.visibility_s)
        try:
            self.sqs.change_message_visibility(QueueUrl=self.settings.queue_url, ReceiptHandle=job.receipt,
                                               VisibilityTimeout=delay)
        except (ClientError, BotoCoreError):
            delay = self.settings.visibility_s
        self.logger.warning("job_failed", message_id=job.message_id, key=job.key, reason=reason,
                            receive_count=job.receive_count, retry_in_s=delay)
        self.logger.metric("VideosRetried", 1)
        return "retry"
