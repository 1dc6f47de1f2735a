"""`python -m opscli.monitor` (opscli/monitor/__main__.py), the local consumer of the queue: a batch in hand
hidden and renewed until it is settled, bounded as the event source mapping bounds one, what does not fit held for
the next batch; its usage errors; a queue it cannot read stops it with exit 3."""

from __future__ import annotations

import json

import pytest

from opscli.monitor import run
from opscli.monitor.messages import Record
from platform_spec import monitor
from tests.opscli.monitor.conftest import SUFFIX, cloudtrail_event


class FakeQueue:
    """An SQS client that answers one message, then nothing; or fails every receive. `calls` is every call in
    order: (operation, its arguments)."""

    def __init__(self, *, failing: bool = False) -> None:
        self.failing, self.deleted, self.returned, self.calls = failing, [], [], []
        self.messages = [{"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": json.dumps(cloudtrail_event()),
                          "Attributes": {"ApproximateReceiveCount": "1"}}]

    def receive_message(self, **kwargs: object) -> dict:
        self.calls.append(("ReceiveMessage", kwargs))
        if self.failing:
            import botocore.exceptions

            raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        found, self.messages = self.messages, []
        return {"Messages": found}

    def delete_message_batch(self, Entries: list, **_: object) -> dict:  # noqa: N803 - botocore's names
        self.calls.append(("DeleteMessageBatch", {"Entries": Entries}))
        self.deleted += Entries
        return {"Successful": Entries, "Failed": []}

    def change_message_visibility_batch(self, Entries: list, **_: object) -> dict:  # noqa: N803
        self.calls.append(("ChangeMessageVisibilityBatch", {"Entries": Entries}))
        self.returned += Entries
        return {"Successful": Entries, "Failed": []}


def _consumer(queue: FakeQueue, log: list, **options: object) -> object:
    import threading

    from opscli.aws import Aws, new_session
    from opscli.monitor.__main__ import Consumer

    aws = Aws(session=new_session(region_name="ap-northeast-1"), allowed=frozenset())
    return Consumer(queue, "http://127.0.0.1:1/q", aws, run.Settings(suffix=SUFFIX),
                    log=lambda event, **fields: log.append({"event": event, **fields}), stop=threading.Event(),
                    poll=0, backoff=0, **{"window": 0, "heartbeat": 3600.0, **options})


def test_a_batch_in_hand_is_hidden_for_seconds_and_renewed_until_it_is_settled(monkeypatch):
    """The consumer receives with a short visibility (a consumer killed mid-batch holds its messages that long at
    most) and renews it from a heartbeat while the batch is judged; the heartbeat stops before the batch is
    settled, so no renewal follows the delete."""
    import threading

    from opscli.monitor import handler
    from opscli.monitor.__main__ import VISIBILITY

    queue, log = FakeQueue(), []
    renewed = threading.Event()
    original = queue.change_message_visibility_batch

    def renew(Entries: list, **kwargs: object) -> dict:  # noqa: N803
        answer = original(Entries, **kwargs)
        if sum(name == "ChangeMessageVisibilityBatch" for name, _ in queue.calls) >= 2:
            renewed.set()
        return answer

    queue.change_message_visibility_batch = renew

    def slow(aws: object, settings: object, records: list, **_: object) -> run.Outcome:
        assert renewed.wait(60), "the heartbeat renewed nothing while the batch was judged"
        return run.Outcome(kind="change", messages=len(records))

    monkeypatch.setattr(handler, "process", slow)
    outcome = _consumer(queue, log, heartbeat=0.01).step()
    assert outcome.kind == "change" and not outcome.retry
    names = [name for name, _ in queue.calls]
    assert names[0] == "ReceiveMessage" and queue.calls[0][1]["VisibilityTimeout"] == VISIBILITY <= 20
    assert names[-1] == "DeleteMessageBatch" and queue.deleted == [{"Id": "0", "ReceiptHandle": "r-1"}]
    renewals = [args["Entries"] for name, args in queue.calls if name == "ChangeMessageVisibilityBatch"]
    assert len(renewals) >= 2 and all(entries == [{"Id": "0", "ReceiptHandle": "r-1",
                                                   "VisibilityTimeout": VISIBILITY}] for entries in renewals)
    assert not [e for e in log if e["event"].startswith("heartbeat")]


def test_a_renewal_that_fails_is_logged_and_the_heartbeat_goes_on():
    import botocore.exceptions

    from opscli.monitor.__main__ import Heartbeat
    from opscli.monitor.messages import Record

    class Refusing:
        def __init__(self) -> None:
            self.tries = 0

        def change_message_visibility_batch(self, Entries: list, **_: object) -> dict:  # noqa: N803
            self.tries += 1
            if self.tries == 1:
                raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
            return {"Successful": [], "Failed": [{"Id": "1", "Code": "ReceiptHandleIsInvalid", "SenderFault": True},
                                                 {"Id": "x"}, {"Id": "\u00b2", "Code": "Foreign"}, "junk"]}

    log: list = []
    beat = Heartbeat(Refusing(), "http://127.0.0.1:1/q", 20, lambda event, **fields: log.append(
        {"event": event, **fields}))
    records = [Record("a", "{}", "r-a"), Record("b", "{}", "r-b")]
    beat.renew(records)
    beat.renew(records)
    assert [e["event"] for e in log] == ["heartbeat-failed"] * 5 and beat.beats == 1
    assert "EndpointConnectionError" in log[0]["reason"]
    assert log[1]["messageId"] == "b" and log[1]["reason"] == "ReceiptHandleIsInvalid"
    # an Id that is no ASCII index (a superscript two, which int() refuses) names no message
    assert log[2]["messageId"] is None and log[3]["messageId"] is None and log[3]["reason"] == "Foreign"
    assert log[4]["reason"] == "an answer that is not an entry"
    beat.stop()  # never started: nothing to wait for


class StreamQueue(FakeQueue):
    """A queue holding `count` messages of `body_bytes` each, answering at most MaxNumberOfMessages a receive; it
    counts each message's receives as SQS does."""

    def __init__(self, count: int, body_bytes: int = 100) -> None:
        super().__init__()
        self.messages = [{"MessageId": f"m-{n}", "ReceiptHandle": f"r-{n}", "Body": "x" * body_bytes}
                         for n in range(count)]
        self.receives: dict[str, int] = {}

    def receive_message(self, MaxNumberOfMessages: int = 1, **kwargs: object) -> dict:  # noqa: N803
        self.calls.append(("ReceiveMessage", {"MaxNumberOfMessages": MaxNumberOfMessages, **kwargs}))
        assert 1 <= MaxNumberOfMessages <= 10
        found, self.messages = self.messages[:MaxNumberOfMessages], self.messages[MaxNumberOfMessages:]
        for m in found:
            self.receives[m["MessageId"]] = self.receives.get(m["MessageId"], 0) + 1
        return {"Messages": [{**m, "Attributes": {"ApproximateReceiveCount": str(self.receives[m["MessageId"]])}}
                             for m in found]}


def test_the_consumer_bounds_a_batch_as_the_event_source_mapping_does(monkeypatch):
    """A batch closes at the mapping's batch size, or before the message that would take its payload past Lambda's
    6 MB (the real bound: 240 KB bodies, 26 of them fit); what did not fit is held for the next batch, never
    returned to the queue (which would count one more receive towards the dead-letter queue), and received once."""
    from opscli.monitor import handler
    from opscli.monitor.messages import RECORD_OVERHEAD, payload_bytes

    batches: list[list[str]] = []

    def judged(aws: object, settings: object, records: list, **_: object) -> run.Outcome:
        batches.append([r.message_id for r in records])
        return run.Outcome(kind="change", messages=len(records))

    monkeypatch.setattr(handler, "process", judged)
    queue = StreamQueue(60, body_bytes=240_000)
    consumer = _consumer(queue, [], window=300.0)  # only the payload closes these batches
    assert consumer.payload_limit == monitor.BATCH_PAYLOAD_BYTES == 6 * 1024 * 1024
    consumer.step(), consumer.step()
    consumer.window = 0  # the rest: the window closes it
    while consumer.step() is not None:
        pass
    weight = payload_bytes(Record("m-0", "x" * 240_000, "r-0"))
    assert 240_000 + RECORD_OVERHEAD < weight < 240_000 + RECORD_OVERHEAD + 50
    fit = (monitor.BATCH_PAYLOAD_BYTES - 16) // weight
    assert fit == 26 and [len(b) for b in batches] == [fit, fit, 60 - 2 * fit]
    assert [m for batch in batches for m in batch] == [f"m-{n}" for n in range(60)]  # each once, in order
    assert set(queue.receives.values()) == {1} and not [e for e in queue.returned if e["VisibilityTimeout"] == 0]
    assert len(queue.deleted) == 60
    # by count: a batch size of 25 (any, up to the mapping's 10,000) closes each batch at 25; no receive asks for
    # more than the batch still takes
    batches.clear()
    queue = StreamQueue(60)
    consumer = _consumer(queue, [], window=300.0, batch_size=25)
    consumer.step(), consumer.step()
    consumer.window = 0
    while consumer.step() is not None:
        pass
    assert [len(b) for b in batches] == [25, 25, 10] and set(queue.receives.values()) == {1}
    assert [args["MaxNumberOfMessages"] for name, args in queue.calls if name == "ReceiveMessage"][:3] == [10, 10, 5]


def test_what_a_stopping_consumer_holds_for_its_next_batch_is_returned_at_once(monkeypatch):
    from opscli.monitor import handler
    from opscli.monitor.messages import EVENT_OVERHEAD, payload_bytes

    monkeypatch.setattr(handler, "process", lambda aws, settings, records, **_: run.Outcome(
        kind="change", messages=len(records)))
    queue, log = StreamQueue(10), []
    eight = EVENT_OVERHEAD + 8 * payload_bytes(Record("m-0", "x" * 100, "r-0"))
    consumer = _consumer(queue, log, payload_limit=eight)
    consumer.stop.set()
    consumer.step()
    assert [r.message_id for r in consumer.held] == ["m-8", "m-9"] and len(queue.deleted) == 8
    assert consumer.run() == 0 and consumer.held == []
    assert [(e["ReceiptHandle"], e["VisibilityTimeout"]) for e in queue.returned] == [("r-8", 0), ("r-9", 0)]
    assert log[-1] == {"event": "stopped", "reason": "signal"}


@pytest.mark.parametrize(("argv", "message"), [
    (["--batch-size", "0"], "the batch size is 1 to 10000"),
    (["--batch-size", "10001"], "the batch size is 1 to 10000"),
    (["--batch-size", "ten"], "the batch size is 1 to 10000"),
    (["--batch-size", "\uff11\uff10"], "the batch size is 1 to 10000"),  # fullwidth digits: int() reads them
    (["--batch-size", "\u00b2"], "the batch size is 1 to 10000"),
    pytest.param(["--batch-size", "9" * 5000], "the batch size is 1 to 10000", id="5000-digits"),
    (["--batch-size", "11", "--window", "0.5"], "(11) needs a window of at least 1 s"),
    (["--batch-size", "11", "--window", "0.9999999"], "--window 0.9999999: a batch"),  # as given, not rounded to 1
    (["--window", "0.5"], "(10000) needs a window of at least 1 s"),  # the default batch: the deployed mapping's
    (["--window", "301"], "the window is 0 to 300 seconds"),
    (["--window", "-1"], "the window is 0 to 300 seconds"),
    (["--window", "nan"], "the window is 0 to 300 seconds"),
    (["--window", "five"], "is not a number of seconds"),
])
def test_a_batch_the_event_source_mapping_would_refuse_is_a_usage_error(argv, message, capsys):
    from opscli.monitor.__main__ import main

    try:
        code = main(["--suffix", SUFFIX, "--queue-url", "http://127.0.0.1:1/q", *argv])
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code
    assert code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("text", ["0", "21", "2.5", "-1", "five", "", "\uff15", "\u00b2",
                                  pytest.param("9" * 5000, id="5000-digits")])
def test_a_poll_sqs_would_refuse_is_a_usage_error(text, capsys, monkeypatch):
    """--poll is SQS's long polling (WaitTimeSeconds 1 to 20, whole seconds): 0 would be short polling, a busy
    loop against the queue. (A value taken by mistake would not run a consumer: its run is a stand-in.)"""
    from opscli.monitor import __main__ as consumer_main
    from opscli.monitor.__main__ import main

    monkeypatch.setattr(consumer_main.Consumer, "run", lambda consumer: pytest.fail(f"ran with {consumer.poll}"))
    with pytest.raises(SystemExit) as refused:
        main(["--suffix", SUFFIX, "--queue-url", "http://127.0.0.1:1/q", "--poll", text])
    assert refused.value.code == 2 and "the poll is 1 to 20 whole seconds" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "poll"), [([], 5), (["--poll", "1"], 1), (["--poll", "020"], 20)])
def test_each_receive_long_polls_the_seconds_of_poll(argv, poll, monkeypatch):
    """The consumer's first receive of a batch waits --poll seconds (5 unless told) for a first message."""
    from opscli.monitor import __main__ as consumer_main

    asked: list[int] = []

    def run(consumer):
        asked.append(consumer.poll)
        return 0

    monkeypatch.setattr(consumer_main.Consumer, "run", run)
    assert consumer_main.main(["--suffix", SUFFIX, "--queue-url", "http://127.0.0.1:1/q", *argv]) == 0
    assert asked == [poll]
    queue = FakeQueue()
    queue.messages = []
    consumer = _consumer(queue, [])
    consumer.poll = poll
    assert consumer.batch() == [] and [args["WaitTimeSeconds"] for _, args in queue.calls] == [poll]


@pytest.mark.parametrize("text", ["1", "43201", "ten", "2.5", " 5", "1_0", "+5", "\uff15", pytest.param("9" * 5000,
                                                                                         id="5000-digits")])
def test_a_visibility_sqs_would_refuse_is_a_usage_error(text):
    import argparse

    from opscli.monitor.__main__ import _visibility

    with pytest.raises(argparse.ArgumentTypeError):
        _visibility(text)


def test_a_batch_the_monitor_fails_on_is_left_on_the_queue(monkeypatch):
    from opscli.monitor import handler

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(handler, "process", broken)
    queue, log = FakeQueue(), []
    outcome = _consumer(queue, log).step()
    assert outcome.kind == "failed" and "RuntimeError: a bug" in outcome.retry["m-1"]
    assert queue.deleted == [] and [e["VisibilityTimeout"] for e in queue.returned] == [5]  # RETRY_DELAY
    assert log[-1]["event"] == "batch-failed"


def test_a_queue_that_cannot_be_read_stops_the_consumer_with_exit_3():
    log: list = []
    assert _consumer(FakeQueue(failing=True), log).run() == 3
    assert [e["event"] for e in log].count("queue-failed") == 5 and log[-1]["event"] == "stopped"
