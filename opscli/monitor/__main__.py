"""The posture monitor as a local process: a consumer of its SQS queue that runs what the Lambda function runs.

    python -m opscli.monitor --suffix S --queue-url URL [--endpoint-url URL] [--region R] [--bucket B]
                             [--namespace N] [--window SECONDS] [--batch-size N] [--visibility SECONDS]
                             [--poll SECONDS] [--dead-letter-queue-url URL [--max-receives N]]

It long-polls the queue and gathers a batch as the function's SQS event source mapping does: from the first message
for --window seconds (every change to one resource in a batch is one read), up to --batch-size messages, and never
past the 6 MB of payload Lambda takes in one invocation (what does not fit waits, held, for the next batch). It
hands the batch to opscli.monitor.process, deletes what was judged or dead-lettered and leaves the rest: with
--dead-letter-queue-url, a poison message (and, with --max-receives, a change still failing on its last receive) is
sent there with its reason and deleted; what is left becomes visible again, poison at once (SQS dead-letters it after
maxReceiveCount), a change whose resources could not be read after RETRY_DELAY. A message it holds is hidden for
--visibility seconds, renewed every quarter of that while its batch is collected, judged and published: a consumer
killed mid-batch leaves its messages to the next one within --visibility seconds. Log lines (JSON) go to stderr.
SIGTERM or Ctrl-C stops it after the batch in hand, or once the receive under way (a long poll of --poll seconds)
has answered: a receive cut short could leave a message it was given hidden for --visibility seconds.
Exit codes: 0 stopped by a signal; 2 usage error; 3 it cannot go on (the queue could not be read CONSECUTIVE_FAILURES
times in a row, or the monitor's session could not be made).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import urllib.parse
from typing import Any

import botocore.exceptions

from opscli.aws import Aws
from opscli.errors import OpsError, UsageError
from opscli.monitor import handler
from opscli.monitor.messages import EVENT_OVERHEAD, Record, payload_bytes
from opscli.monitor.run import Outcome, Settings
from opscli.targets import from_suffix
from platform_spec import monitor
from platform_spec.exit_codes import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE
from platform_spec.result import CouldNotLook
from platform_spec.stacks import ALLOWED_REGION
from platform_utils.numbers import whole
from platform_utils.signals import on_signals

# The consumer's calls to its queue (what the function's event source mapping does with the role), and the IAM
# action that authorizes each: IAM authorizes the batch calls under the single-message actions.
QUEUE_CALLS = {"sqs:ReceiveMessage": "sqs:ReceiveMessage", "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
               "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}
QUEUE_WRITES = frozenset(QUEUE_CALLS)
POLL = 5  # seconds a receive waits for the first message of a batch (SQS long polling: 1-20); --poll
RETRY_DELAY = 5  # seconds before a change that could not be read is delivered again
# Seconds a received message stays hidden unless renewed: the consumer renews it every quarter of that while its
# batch is in hand (Heartbeat), so a consumer that dies (kill -9, a crash) holds its messages this long at most,
# not for the longest a batch may take.
VISIBILITY = 20
HEARTBEAT_JOIN = 30.0  # seconds `stop` waits for a renewal under way (a call's timeouts bound it)
CONSECUTIVE_FAILURES = 5
_QUEUE_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, CouldNotLook, OpsError)


def _endpoint(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise argparse.ArgumentTypeError(f"{url!r} has a port that is not a number") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{url!r} is not an http(s) URL with a host (e.g. http://127.0.0.1:5000)")
    return url


def _visibility(text: str) -> int:
    value = whole(text, 2, 43_200)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r}: the visibility is 2 to 43200 whole seconds (SQS's largest is 12 "
                                         "hours)")
    return value


def _poll(text: str) -> int:
    value = whole(text, 1, 20)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r}: the poll is 1 to 20 whole seconds (SQS's long polling)")
    return value


def _batch_size(text: str) -> int:
    value = whole(text, 1, monitor.BATCH_SIZE)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r}: the batch size is 1 to {monitor.BATCH_SIZE} messages (the SQS "
                                         "event source's range for a standard queue)")
    return value


class Heartbeat:
    """Keeps the messages of the batch in hand hidden: every `every` seconds (a quarter of the visibility by
    default) their visibility is set to `visibility` seconds from now, until `stop`. A renewal that fails is logged
    and tried again at the next beat; a message whose renewal keeps failing becomes visible again, and is judged
    twice at worst (the findings are the same)."""

    def __init__(self, queue: Any, queue_url: str, visibility: int, log: handler.Log,
                 every: float | None = None) -> None:
        self.queue, self.queue_url, self.visibility, self.log = queue, queue_url, visibility, log
        self.every = visibility / 4 if every is None else every
        self.beats = 0  # renewals sent (for tests and the log)
        self._records: list[Record] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="monitor-heartbeat", daemon=True)

    def add(self, records: list[Record]) -> None:
        with self._lock:
            self._records += records

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """No renewal after this returns (unless one under way outlasts HEARTBEAT_JOIN, which is logged)."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(HEARTBEAT_JOIN)
            if self._thread.is_alive():
                self.log("heartbeat-late", reason=f"a renewal was still under way after {HEARTBEAT_JOIN:.0f} s")

    def _run(self) -> None:
        while not self._done.wait(self.every):
            with self._lock:
                held = list(self._records)
            if held:
                self.renew(held)

    def renew(self, records: list[Record]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start:start + 10]
            try:
                answer = self.queue.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(n), "ReceiptHandle": r.receipt_handle, "VisibilityTimeout": self.visibility}
                    for n, r in enumerate(chunk)])
            except _QUEUE_ERRORS as exc:
                self.log("heartbeat-failed", messages=len(chunk), reason=f"{type(exc).__name__}: {exc}")
                continue
            self.beats += 1
            failed = answer.get("Failed") if isinstance(answer, dict) else None
            for entry in failed if isinstance(failed, list) else []:
                index = entry.get("Id") if isinstance(entry, dict) else None
                position = whole(index, 0, len(chunk) - 1)
                record = None if position is None else chunk[position]
                self.log("heartbeat-failed", messageId=record.message_id if record else None,
                         reason=str(entry.get("Message") or entry.get("Code")) if isinstance(entry, dict) else
                         "an answer that is not an entry")


class Consumer:
    """The queue, read in batching windows and handed to the monitor."""

    def __init__(self, queue: Any, queue_url: str, aws: Aws, settings: Settings, *, window: float,
                 log: handler.Log, stop: threading.Event, poll: int = POLL, backoff: float = 2.0,
                 visibility: int = VISIBILITY, heartbeat: float | None = None,
                 dead_letters: handler.DeadLetters | None = None, batch_size: int = monitor.BATCH_SIZE,
                 payload_limit: int = monitor.BATCH_PAYLOAD_BYTES) -> None:
        self.queue, self.queue_url, self.aws, self.settings = queue, queue_url, aws, settings
        self.window, self.log, self.stop, self.poll = window, log, stop, poll
        self.batch_size, self.payload_limit = batch_size, payload_limit
        self.held: list[Record] = []  # received, but past the last batch's bounds: the next batch's first
        self.backoff = backoff  # seconds before the first try after a queue failure, doubling, at most 30
        self.visibility = visibility  # seconds a received message is hidden; renewed while its batch is in hand
        self.heartbeat = heartbeat  # seconds between renewals (None: a quarter of the visibility)
        self.dead_letters = dead_letters

    def receive(self, wait: int, most: int = 10) -> list[Record]:
        answer = self.queue.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=max(1, min(10, most)),
                                            WaitTimeSeconds=wait, VisibilityTimeout=self.visibility,
                                            MessageSystemAttributeNames=["ApproximateReceiveCount"])
        found = answer.get("Messages", [])
        if not isinstance(found, list) or not all(isinstance(m, dict) and isinstance(m.get("MessageId"), str) and
                                                  isinstance(m.get("ReceiptHandle"), str) for m in found):
            raise CouldNotLook("ReceiveMessage answered messages without a MessageId or ReceiptHandle")
        return [Record.from_sqs(message) for message in found]

    def batch(self, beat: Heartbeat | None = None) -> list[Record]:
        """The next batch, bounded as the event source mapping bounds one: nothing if no message came within
        `poll` seconds (and none was held); else from the first message (or what the last batch held over) until
        the window has closed, the batch holds `batch_size` messages, or the next message would take its payload
        past `payload_limit`. That message, and any received with it, is held for the next batch rather than
        returned to the queue (a return would count as one more receive towards the dead-letter queue); each
        message is handed to `beat` as it comes, the held ones again with their batch."""
        incoming, self.held = self.held, []
        if not incoming:
            incoming = self.receive(self.poll, self.batch_size)
        if not incoming:
            return []
        closes = time.monotonic() + self.window
        records: list[Record] = []
        size = EVENT_OVERHEAD
        while True:
            if beat is not None:
                beat.add(incoming)
            for n, record in enumerate(incoming):
                weight = payload_bytes(record)
                if len(records) >= self.batch_size or (records and size + weight > self.payload_limit):
                    self.held = incoming[n:]
                    return records
                records.append(record)
                size += weight
            remaining = closes - time.monotonic()
            if remaining <= 0 or len(records) >= self.batch_size:
                return records
            incoming = self.receive(1 if remaining >= 1 else 0, self.batch_size - len(records))
            if not incoming and remaining < 1:
                time.sleep(remaining)

    def release(self) -> None:
        """Return what is held for a next batch that will not come (the consumer stops) to the queue at once."""
        held, self.held = self.held, []
        for start in range(0, len(held), 10):
            chunk = held[start:start + 10]
            try:
                self.queue.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(n), "ReceiptHandle": r.receipt_handle, "VisibilityTimeout": 0}
                    for n, r in enumerate(chunk)])
            except _QUEUE_ERRORS as exc:  # they become visible after the visibility timeout all the same
                self.log("release-failed", messages=len(chunk), reason=f"{type(exc).__name__}: {exc}")

    def settle(self, records: list[Record], retry: dict[str, str], poison: set[str]) -> None:
        """Delete what was judged; make what is left visible again (poison at once, the rest after RETRY_DELAY)."""
        done = [r for r in records if r.message_id not in retry]
        left = [r for r in records if r.message_id in retry]
        for start in range(0, len(done), 10):
            chunk = done[start:start + 10]
            answer = self.queue.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(n), "ReceiptHandle": r.receipt_handle} for n, r in enumerate(chunk)])
            for failed in answer.get("Failed", []):
                self.log("delete-failed", reason=str(failed.get("Message") or failed.get("Code")))
        for start in range(0, len(left), 10):
            chunk = left[start:start + 10]
            self.queue.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(n), "ReceiptHandle": r.receipt_handle,
                 "VisibilityTimeout": 0 if r.message_id in poison else RETRY_DELAY} for n, r in enumerate(chunk)])

    def step(self) -> Outcome | None:
        """One batch received, judged and settled; None when no message came. Its messages stay hidden (the
        heartbeat) from the first receive until the batch is judged and published; the heartbeat stops before
        they are settled, so no renewal undoes a message returned to the queue."""
        with Heartbeat(self.queue, self.queue_url, self.visibility, self.log, self.heartbeat) as beat:
            records = self.batch(beat)
            if not records:
                return None
            try:
                outcome = handler.process(self.aws, self.settings, records, log=self.log,
                                          dead_letters=self.dead_letters)
            except Exception as exc:  # noqa: BLE001 - one bad batch must not stop the monitor; the log says why
                outcome = handler.failed_batch(self.aws, records, exc, log=self.log, dead_letters=self.dead_letters)
        self.settle(records, outcome.retry, {p.record.message_id for p in outcome.poison})
        return outcome

    def run(self) -> int:
        failures = 0
        letters = self.dead_letters
        self.log("started", suffix=self.settings.suffix, queue=self.queue_url, window=self.window,
                 batchSize=self.batch_size, payloadLimit=self.payload_limit, visibility=self.visibility, poll=self.poll,
                 deadLetterQueue=letters.queue_url if letters else None,
                 maxReceives=letters.max_receives if letters else None, clients=handler.warm(self.aws))
        while not self.stop.is_set():
            try:
                self.step()
                failures = 0
            except _QUEUE_ERRORS as exc:
                failures += 1
                self.log("queue-failed", attempt=failures, reason=f"{type(exc).__name__}: {exc}")
                if failures >= CONSECUTIVE_FAILURES:
                    self.release()
                    self.log("stopped", reason=f"the queue failed {failures} times in a row")
                    return EXIT_INCOMPLETE
                self.stop.wait(min(30.0, self.backoff * 2 ** (failures - 1)))
        self.release()
        self.log("stopped", reason="signal")
        return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opscli.monitor", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--suffix", default=os.environ.get(monitor.ENV_SUFFIX), help="the stack's suffix")
    parser.add_argument("--queue-url", required=True, help="the monitor's queue (MonitorQueueUrl)")
    parser.add_argument("--endpoint-url", type=_endpoint, default=os.environ.get("AWS_ENDPOINT_URL") or None,
                        help="AWS endpoint (a local emulator); also AWS_ENDPOINT_URL")
    parser.add_argument("--region", default=ALLOWED_REGION)
    parser.add_argument("--bucket", default=os.environ.get(monitor.ENV_BUCKET) or None,
                        help="the report bucket (MonitorBucketName); also OPSCLI_MONITOR_BUCKET")
    parser.add_argument("--namespace", default=os.environ.get(monitor.ENV_NAMESPACE) or None,
                        help="the CloudWatch namespace of FailingFindings; also OPSCLI_MONITOR_NAMESPACE")
    parser.add_argument("--window", type=monitor.window_argument, default=float(monitor.BATCH_WINDOW_SECONDS),
                        help=f"seconds a batch collects (default {monitor.BATCH_WINDOW_SECONDS}, the deployed "
                             "mapping's)")
    parser.add_argument("--batch-size", type=_batch_size, default=monitor.BATCH_SIZE,
                        help=f"messages in a batch at most (default {monitor.BATCH_SIZE}, the deployed mapping's)")
    parser.add_argument("--visibility", type=_visibility, default=VISIBILITY,
                        help=f"seconds a message in hand stays hidden unless renewed (default {VISIBILITY})")
    parser.add_argument("--poll", type=_poll, default=POLL,
                        help=f"seconds a receive waits for a first message (default {POLL}); a stop waits for it")
    parser.add_argument("--dead-letter-queue-url", default=os.environ.get(monitor.ENV_DEAD_LETTER_QUEUE) or None,
                        help="where poison is sent with its reason (MonitorDeadLetterQueueUrl); also "
                             f"{monitor.ENV_DEAD_LETTER_QUEUE}")
    parser.add_argument("--max-receives", default=os.environ.get(monitor.ENV_MAX_RECEIVES) or None,
                        help="the queue's maxReceiveCount: a change still failing on this receive is dead-lettered "
                             f"too; also {monitor.ENV_MAX_RECEIVES}")
    args = parser.parse_args(argv)
    log = handler.json_log()
    try:
        if not args.suffix:
            raise OpsError("missing --suffix")
        settings = Settings(suffix=from_suffix(args.suffix).suffix, bucket=args.bucket, namespace=args.namespace)
        refused = monitor.window_refused(args.window, args.batch_size)
        if refused:
            raise UsageError(f"--batch-size {args.batch_size} --window {monitor.window_text(args.window)}: {refused}")
        if args.max_receives is not None and args.dead_letter_queue_url is None:
            raise UsageError("--max-receives needs --dead-letter-queue-url")
        dead_letters = None if args.dead_letter_queue_url is None else handler.DeadLetters.checked(
            args.dead_letter_queue_url, args.max_receives)
        aws = handler.monitor_session(region=args.region, endpoint_url=args.endpoint_url)
        queue_aws = Aws(region=args.region, endpoint_url=args.endpoint_url, allowed=frozenset(), writes=QUEUE_WRITES)
        queue = queue_aws.client("sqs")
    except OpsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.exit_code == EXIT_USAGE or not args.suffix else exc.exit_code
    stop = threading.Event()
    on_signals((signal.SIGTERM, signal.SIGINT), lambda _signum: stop.set())
    return Consumer(queue, args.queue_url, aws, settings, window=args.window, log=log, stop=stop, poll=args.poll,
                    visibility=args.visibility, dead_letters=dead_letters, batch_size=args.batch_size).run()


if __name__ == "__main__":
    sys.exit(main())
