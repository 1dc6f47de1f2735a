"""opscli.monitor.messages: what a queue message is (a change, the schedule, poison and why), read alike from
Lambda's event and from SQS."""

from __future__ import annotations

import pytest

from opscli.monitor import messages
from opscli.monitor.messages import Change, Poison, Record, Schedule
from tests.opscli.monitor.conftest import SUFFIX, cloudtrail_event, record_of


@pytest.mark.parametrize(("body", "reason"), [
    ("", "an empty body"),
    ("not json {", "not JSON"),
    ([1, 2], "a JSON list"),
    ({"detail-type": "Scheduled Event", "detail": {}}, "detail-type 'Scheduled Event'"),
    ({"detail-type": "AWS API Call via CloudTrail"}, "without a detail object"),
    ({"detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "X"}}, "lacks eventSource"),
    (cloudtrail_event(request="a string"), "requestParameters is a str"),
    ({"opscli-monitor": "audit", "suffix": SUFFIX}, "not 'schedule'"),
    ({"opscli-monitor": "schedule", "suffix": "prod"}, "this monitor watches 'unit'"),
    ("{" + " " * (300 * 1024) + "}", "over 262144 bytes"),
])
def test_a_message_the_monitor_cannot_use_is_poison_with_its_reason(body, reason):
    read = messages.read(record_of(body), SUFFIX)
    assert isinstance(read, Poison) and reason in read.reason


def test_a_change_and_the_schedule_are_read():
    change = messages.read(record_of(cloudtrail_event(request={"groupId": "sg-1"}, eventID="id-9")), SUFFIX)
    assert isinstance(change, Change) and change.service == "ec2" and change.request == {"groupId": "sg-1"}
    assert change.event_id == "id-9" and not change.failed
    failed = messages.read(record_of(cloudtrail_event(errorCode="AccessDenied")), SUFFIX)
    assert isinstance(failed, Change) and failed.failed
    assert isinstance(messages.read(record_of({"opscli-monitor": "schedule", "suffix": SUFFIX}), SUFFIX), Schedule)


def test_records_come_from_lambda_and_from_sqs_alike():
    from_lambda = Record.from_lambda({"messageId": "a", "body": "{}", "receiptHandle": "r",
                                      "attributes": {"ApproximateReceiveCount": "2"}})
    from_sqs = Record.from_sqs({"MessageId": "a", "Body": "{}", "ReceiptHandle": "r",
                                "Attributes": {"ApproximateReceiveCount": "2"}})
    assert from_lambda == from_sqs == Record("a", "{}", "r", 2)
    # a count that is no ASCII number (a foreign answer) is a first receive, never int()'s error
    for count in ("\u00b2", "\uff12", "9" * 5000, ""):
        assert Record.from_sqs({"MessageId": "a", "ReceiptHandle": "r",
                                "Attributes": {"ApproximateReceiveCount": count}}).receive_count == 1
    assert Record.from_lambda({"messageId": "b", "body": None, "attributes": "x"}).body == ""
