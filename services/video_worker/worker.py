"""The video worker: intake queue -> EFS scratch -> probe -> PostgreSQL -> Redis.

At-least-once, idempotent: a message is deleted only after its row is committed, so a crash anywhere before
that makes SQS deliver it again after the visibility timeout, and the upsert keyed by (bucket, key, version)
rewrites the same row. Unreadable files and malformed events go to the dead-letter queue at once, with the
reason as a message attribute and in the log; transient failures (database, S3) are retried with backoff, and
on the last receive the redrive policy allows (contract.INTAKE_MAX_RECEIVES) the worker dead-letters the message
itself, so every dead letter carries its reason.

One message never ends a job loop: whatever a job raises sends that message to its fate (retry, or the
dead-letter queue) and the loop goes on. If a loop dies all the same, the worker stops and the process exits
non-zero (WorkerFailed), so ECS replaces the task. Scratch files live in a directory of this task's own, locked
while the task lives; at start the worker removes the directories of tasks that died mid-job (kill -9, a lost
host), which nothing else would ever delete."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from botocore.exceptions import BotoCoreError, ClientError
from psycopg_pool import ConnectionPool, PoolTimeout

from platform_spec import contract
from platform_spec.strict_json import parse
from platform_utils.numbers import quoted
from services.common import failpoints, videos
from services.common.cache import Cache, CacheUnavailable
from services.common.log import JsonLogger
from services.common.runtime import ServiceFailed
from services.common.settings import SettingsError, integer, require
from services.video_worker.probe import UnreadableVideo, probe

GONE_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NoSuchBucket"})


class PoisonMessage(ValueError):
    """The message is not an S3 Object Created event this worker can act on."""


class WorkerFailed(ServiceFailed):
    """A job loop died: the worker stopped, so the task can be replaced (a non-zero exit)."""


TASK_DIR_PREFIX = "task-"
LOCK_FILE = ".lock"
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,15}")


class Scratch:
    """This task's directory on the shared scratch mount (EFS): `<root>/task-<id>`, with a POSIX lock on its
    `.lock` file flock-ed for the task's life (on NFS, as EFS is, Linux maps flock to an NFSv4 lock: released
    when the process dies, or when a lost host's lease expires). `open()` first removes every sibling whose
    lock can be taken: its task is gone."""

    def __init__(self, root: Path, logger: JsonLogger) -> None:
        self.root, self.logger = root, logger
        self.directory = root / f"{TASK_DIR_PREFIX}{uuid.uuid4().hex}"
        self._lock: Any = None

    def open(self) -> Scratch:
        self.sweep()
        self.directory.mkdir()
        self._lock = (self.directory / LOCK_FILE).open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return self

    def sweep(self) -> None:
        """Remove what dead tasks left behind (a directory nobody holds the lock of)."""
        removed, freed = [], 0
        for entry in sorted(self.root.glob(f"{TASK_DIR_PREFIX}*")):
            if entry == self.directory or not entry.is_dir() or not self._abandoned(entry):
                continue
            freed += sum(f.stat().st_size for f in entry.rglob("*") if f.is_file() and not f.is_symlink())
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
        if removed:
            self.logger.warning("scratch_swept", directories=removed, bytes=freed,
                                note="left by tasks that stopped mid-job")

    @staticmethod
    def _abandoned(directory: Path) -> bool:
        lock = directory / LOCK_FILE
        try:
            with lock.open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
                return True
        except BlockingIOError:
            return False  # a live task holds it
        except FileNotFoundError:
            # No lock file: its task died between mkdir and locking, or is there right now. Give it a minute.
            try:
                return time.time() - directory.stat().st_mtime > 60
            except FileNotFoundError:
                return False
        except OSError:
            return False

    def file_for(self, key: str) -> Path:
        """A fresh file name for `key`'s download: never derived from the key beyond a plain extension. Opens
        the directory on first use (a job handled outside `Worker.run`)."""
        if self._lock is None:
            self.open()
        suffix = Path(key.replace("\0", "")).suffix
        return self.directory / f"{uuid.uuid4().hex}{suffix if _SUFFIX.fullmatch(suffix) else ''}"

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _receive_count(message: Mapping[str, Any]) -> int:
    try:
        return max(1, int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1")))
    except (TypeError, ValueError, AttributeError):
        return 1


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
            raise SettingsError(f"SCRATCH_DIR {quoted(str(scratch))} is not a writable directory (the EFS mount)")
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


def _storable(name: str, value: Any) -> None:
    """A text field of the event that PostgreSQL could not store is the message's fault, found at once: NUL has
    no place in a text column, and a lone surrogate (JSON's \\udXXX escape) is not UTF-8. Left to the database,
    either is an error that looks transient, retried until the last receive."""
    if not isinstance(value, str):
        return
    if "\x00" in value:
        raise PoisonMessage(f"object {name} cannot be stored: it contains a NUL character (at {value.index(chr(0))})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PoisonMessage(f"object {name} cannot be stored: it is not valid UTF-8 (a lone surrogate at "
                            f"{exc.start})") from None


#: The longest object key S3 takes: "a sequence of Unicode characters whose UTF-8 encoding is at most 1,024 bytes
#: long" (Amazon S3 User Guide, "Naming Amazon S3 objects").
MAX_KEY_BYTES = 1024


def _shown(value: Any) -> str:
    """A field of a message as a poison message's reason quotes it: a string quoted, anything else as its JSON,
    either cut short (a body may be 256 KB)."""
    return quoted(value if isinstance(value, str) else json.dumps(value))


def parse_job(message: dict[str, Any]) -> Job:
    """An SQS message carrying EventBridge's S3 "Object Created" event."""
    body = message.get("Body", "")
    try:
        event = parse(body)
    except (ValueError, TypeError, RecursionError) as exc:  # not JSON (or not text), a name given twice in one
        # object (KeyTwice: json keeps the last), a number past int()'s 4,300 digits, nesting past the recursion limit
        raise PoisonMessage(f"malformed event: {type(exc).__name__}: {exc}") from None
    try:
        if event.get("source") != "aws.s3" or event.get("detail-type") != "Object Created":
            raise PoisonMessage(f"not an S3 Object Created event: source={_shown(event.get('source'))} "
                                f"detail-type={_shown(event.get('detail-type'))}")
        detail = event["detail"]
        obj = detail["object"]
        key = obj["key"]
        bucket = detail["bucket"]["name"]
    except (KeyError, TypeError, AttributeError) as exc:
        raise PoisonMessage(f"malformed event: {type(exc).__name__}: {exc}") from None
    if not isinstance(key, str) or not key or not isinstance(bucket, str):
        raise PoisonMessage("malformed event: empty object key or bucket")
    for name, value in (("bucket", bucket), ("key", key), ("version-id", obj.get("version-id")),
                        ("etag", obj.get("etag") or obj.get("eTag")), ("time", event.get("time"))):
        _storable(name, value)
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:  # no such object can exist: S3 would have refused its name
        raise PoisonMessage(f"object key is {size:,} bytes of UTF-8, longer than S3 allows ({MAX_KEY_BYTES:,}): "
                            f"{quoted(key)}")
    return Job(message_id=message["MessageId"], receipt=message["ReceiptHandle"], body=body,
               receive_count=_receive_count(message),
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
        self.scratch = Scratch(settings.scratch_dir, logger)

    def beat(self) -> None:
        """The container health check reads this file's timestamp (healthcheck.py); written atomically."""
        with self._beat_lock:
            partial = self.settings.heartbeat_file.with_suffix(".partial")
            partial.write_text(str(time.time()))
            os.replace(partial, self.settings.heartbeat_file)

    def run(self, stop: threading.Event) -> None:
        """`concurrency` poll loops until `stop`; each finishes its current job before returning. A loop that
        dies stops the others and raises WorkerFailed once they are done."""
        self.scratch.open()
        self.logger.info("worker_started", queue=self.settings.queue_url, scratch=str(self.scratch.directory),
                         concurrency=self.settings.concurrency)
        died: list[str] = []

        def guarded() -> None:
            try:
                self._loop(stop)
            except BaseException as exc:  # noqa: BLE001 - recorded, then the task must be replaced
                died.append(f"{type(exc).__name__}: {exc}")
                self.logger.error("job_loop_died", error=died[-1], trace=traceback.format_exc(limit=8))
                stop.set()

        loops = [threading.Thread(target=guarded, name=f"job-loop-{n}") for n in range(self.settings.concurrency)]
        try:
            for loop in loops:
                loop.start()
            for loop in loops:
                loop.join()
        finally:
            self.scratch.close()
        self.logger.info("worker_stopped")
        if died:
            raise WorkerFailed(f"{len(died)} job loop(s) died: {died[0]}")

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.beat()
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001 - AWS errors, or an answer botocore could not parse: try again
                self.logger.error("receive_failed", error=f"{type(exc).__name__}: {exc}")
                stop.wait(5)

    def poll_once(self) -> list[str]:
        answer = self.sqs.receive_message(
            QueueUrl=self.settings.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=self.settings.wait_s,
            VisibilityTimeout=self.settings.visibility_s, MessageSystemAttributeNames=["ApproximateReceiveCount"])
        return [self.handle(message) for message in answer.get("Messages", [])]

    def handle(self, message: dict[str, Any]) -> str:
        """Process one message; returns "stored", "rejected" or "retry". Never raises: an exception nobody
        foresaw is that message's failure (retried, dead-lettered with its reason on the last receive)."""
        try:
            return self._handle(message)
        except Exception as exc:  # noqa: BLE001 - one message must not end the loop
            reason = f"unexpected {type(exc).__name__}: {exc}"
            self.logger.error("job_crashed", message_id=str(message.get("MessageId")), error=reason,
                              trace=traceback.format_exc(limit=8))
            try:
                return self._retry(str(message.get("MessageId")), str(message.get("ReceiptHandle")),
                                   str(message.get("Body", "")), _receive_count(message), None, reason)
            except Exception as again:  # noqa: BLE001 - the message reappears after its visibility timeout
                self.logger.error("job_crash_unhandled", message_id=str(message.get("MessageId")),
                                  error=f"{type(again).__name__}: {again}")
                return "retry"

    def _handle(self, message: dict[str, Any]) -> str:
        started = time.perf_counter()
        try:
            job = parse_job(message)
        except PoisonMessage as exc:
            return self._reject(message["MessageId"], message["ReceiptHandle"], message.get("Body", ""), str(exc))
        if job.bucket != self.settings.bucket:
            return self._reject(job.message_id, job.receipt, job.body,
                                f"event for bucket {quoted(job.bucket)}, this worker serves {self.settings.bucket}")
        self.logger.info("job_started", message_id=job.message_id, key=job.key, version_id=job.version_id,
                         receive_count=job.receive_count)
        scratch = self.scratch.file_for(job.key)
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
                                    f"object is gone ({code}): s3://{job.bucket}/{job.key} version {job.version_id}")
            return self._retry_job(job, f"download failed: {code}: {exc}")
        except BotoCoreError as exc:
            return self._retry_job(job, f"download failed: {type(exc).__name__}: {exc}")
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
            return self._retry_job(job, f"database: {type(exc).__name__}: {exc}")
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

    def _retry_job(self, job: Job, reason: str) -> str:
        return self._retry(job.message_id, job.receipt, job.body, job.receive_count, job.key, reason)

    def _retry(self, message_id: str, receipt: str, body: str, receive_count: int, key: str | None,
               reason: str) -> str:
        """Transient: leave the message, visible again after a backoff that grows with each receive. On the
        last receive the redrive policy allows, dead-letter it here instead, so the reason goes with it."""
        if receive_count >= contract.INTAKE_MAX_RECEIVES:
            return self._reject(message_id, receipt, body, f"failed {receive_count} times; last: {reason}")
        delay = min(self.settings.retry_base_s * 2 ** (receive_count - 1), self.settings.visibility_s)
        try:
            self.sqs.change_message_visibility(QueueUrl=self.settings.queue_url, ReceiptHandle=receipt,
                                               VisibilityTimeout=delay)
        except (ClientError, BotoCoreError):
            delay = self.settings.visibility_s
        self.logger.warning("job_failed", message_id=message_id, key=key, reason=reason,
                            receive_count=receive_count, retry_in_s=delay)
        self.logger.metric("VideosRetried", 1)
        return "retry"
