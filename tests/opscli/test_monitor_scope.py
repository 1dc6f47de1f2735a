"""Whose change the monitor reads for: only an event of its own account and region (EventBridge's envelope and
CloudTrail's record agree), naming a resource of its stack by an ARN or queue URL that is the stack's own, from a
service that changes that resource's type. Hostile events (another account's or region's, a same-named resource
elsewhere, the wrong service) name nothing; malformed ones are poison with their reason; genuine ones still resolve."""

from __future__ import annotations

import json

import pytest

from opscli.monitor import messages, resolve, run
from opscli.monitor.messages import Change, Poison, Record
from opscli.stack import build

SUFFIX = "unit"
OURS, THEIRS = "123456789012", "999999999999"
REGION = "ap-northeast-1"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{OURS}/queue-prod"

# A queue and a bucket of one name (each in its own service's namespace), the project key, a log group, a topic.
TEMPLATE = {"Resources": {
    "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "queue-prod"}},
    "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "queue-prod"}},
    "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
    "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/streamtech/unit/api"}},
    "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alarms-unit"}},
}}
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
PHYSICAL = {"Queue": QUEUE_URL, "Bucket": "queue-prod", "Key": KEY_ID, "Logs": "/streamtech/unit/api",
            "Topic": f"arn:aws:sns:{REGION}:{OURS}:alarms-unit"}


@pytest.fixture(scope="module")
def idx() -> resolve.Index:
    summaries = [{"LogicalResourceId": lid, "ResourceType": TEMPLATE["Resources"][lid]["Type"],
                  "PhysicalResourceId": pid, "ResourceStatus": "CREATE_COMPLETE"} for lid, pid in PHYSICAL.items()]
    return resolve.index(build(f"TapStack{SUFFIX}", TEMPLATE, summaries, "test"), region=REGION, account=OURS)


def _event(source: str = "sqs.amazonaws.com", request: object = None, *, envelope: dict | None = None,
           **detail: object) -> dict:
    """An EventBridge event of a CloudTrail record as AWS delivers it: our account and region unless told."""
    return {"version": "0", "id": "e-1", "detail-type": "AWS API Call via CloudTrail",
            "source": f"aws.{source.split('.')[0]}", "account": OURS, "time": "2026-01-02T03:04:05Z",
            "region": REGION, "resources": [], **(envelope or {}),
            "detail": {"eventVersion": "1.09", "eventSource": source, "eventName": "SetQueueAttributes",
                       "awsRegion": REGION, "recipientAccountId": OURS, "requestParameters": request,
                       "responseElements": None, **detail}}


def _read(event: dict) -> Change | Poison:
    return messages.read(Record("m-1", json.dumps(event)), SUFFIX)


def _named(idx: resolve.Index, event: dict) -> set[str]:
    change = _read(event)
    assert isinstance(change, Change), change
    return resolve.named(idx, change)


# --- whose event: the account and region it states -------------------------------------------------------------

@pytest.mark.parametrize(("envelope", "detail", "reason"), [
    ({"account": THEIRS}, {"recipientAccountId": THEIRS}, f"account {THEIRS}"),
    ({}, {"recipientAccountId": THEIRS}, f"account {THEIRS}"),  # delivered here, received by another account
    ({"account": THEIRS}, {}, f"account {THEIRS}"),  # another account's event routed to our bus
    ({"region": "us-west-2"}, {"awsRegion": "us-west-2"}, "region us-west-2"),
    ({}, {"awsRegion": "us-west-2"}, "region us-west-2"),
    ({"region": "us-west-2"}, {}, "region us-west-2"),  # another region's event routed to our bus
])
def test_an_event_of_another_account_or_region_is_ignored_not_poison_and_names_nothing(idx, envelope, detail,
                                                                                     reason):
    event = _event(request={"queueUrl": QUEUE_URL}, envelope=envelope, **detail)
    change = _read(event)
    assert isinstance(change, Change)  # not poison: a well-formed event, just not ours
    assert reason in messages.foreign(change, region=REGION, account=OURS)
    assert resolve.named(idx, change) == set()  # never a read
    batch = messages.within(messages.sort([Record("m-1", json.dumps(event))], SUFFIX), region=REGION,
                            account=OURS)
    assert not batch.changes and not batch.poison and [r for _, r in batch.ignored] == [
        messages.foreign(change, region=REGION, account=OURS)]


def test_a_batch_says_each_reason_once_with_how_many_it_holds():
    records = [Record(f"m-{n}", json.dumps(_event(envelope={"account": THEIRS}, recipientAccountId=THEIRS)))
               for n in range(3)] + [Record("ours", json.dumps(_event(request={"queueUrl": QUEUE_URL})))]
    batch = messages.within(messages.sort(records, SUFFIX), region=REGION, account=OURS)
    assert [c.record.message_id for c in batch.changes] == ["ours"]
    assert batch.reasons() == {f"an event of account {THEIRS}, not this monitor's {OURS}": 3}


def test_a_global_service_is_judged_by_its_account_alone():
    """IAM's calls are recorded in us-east-1 whatever region served them: an IAM event of our account is ours
    (the whole-account re-read runs), another account's is not."""
    ours = _read(_event("iam.amazonaws.com", {"roleName": "r"}, envelope={"region": "us-east-1"},
                        awsRegion="us-east-1"))
    assert isinstance(ours, Change) and messages.foreign(ours, region=REGION, account=OURS) is None
    assert run.asks_for_whole(ours, run.Settings(suffix=SUFFIX))
    theirs = _read(_event("iam.amazonaws.com", {"roleName": "r"}, envelope={"region": "us-east-1", "account": THEIRS},
                          awsRegion="us-east-1", recipientAccountId=THEIRS))
    assert isinstance(theirs, Change) and f"account {THEIRS}" in messages.foreign(theirs, region=REGION, account=OURS)
    # a regional service's event recorded in us-east-1 is that region's
    s3 = _read(_event("s3.amazonaws.com", {"bucketName": "queue-prod"}, envelope={"region": "us-east-1"},
                      awsRegion="us-east-1"))
    assert "region us-east-1" in messages.foreign(s3, region=REGION, account=OURS)


@pytest.mark.parametrize(("envelope", "detail", "reason"), [
    ({"account": None}, {}, "without EventBridge's account"),
    ({"region": None}, {}, "without EventBridge's region"),
    ({"account": "12345"}, {}, "account (the event's) is '12345', not an account id"),
    ({"account": 123456789012}, {}, "not an account id"),
    ({"account": f"{OURS}\n"}, {}, "not an account id"),
    ({"region": "ap-northeast-1; x"}, {}, "not a region code"),
    ({"region": ["ap-northeast-1"]}, {}, "not a region code"),
    ({}, {"recipientAccountId": "arn:aws:iam::1:root"}, "recipientAccountId (the record's)"),
    ({}, {"awsRegion": ""}, "awsRegion (the record's) is ''"),
    ({}, {"awsRegion": 7}, "not a region code"),
    ({"resources": "arn:aws:sqs:ap-northeast-1:1:q"}, {}, "resources are"),
    ({"resources": [{"ARN": "x"}]}, {}, "not a list of ARNs"),
    ({}, {"resources": ["arn:aws:sqs:ap-northeast-1:1:q"]}, "record's resources"),
])
def test_a_garbled_envelope_or_record_is_poison_with_its_reason(envelope, detail, reason):
    event = _event(request={"queueUrl": QUEUE_URL}, envelope=envelope, **detail)
    event.update({k: v for k, v in envelope.items() if v is not None})
    for key in [k for k, v in envelope.items() if v is None]:
        del event[key]
    read = _read(event)
    assert isinstance(read, Poison) and reason in read.reason, read


def test_a_record_without_its_optional_fields_is_judged_by_what_is_present(idx):
    """CloudTrail does not write recipientAccountId in every record: the envelope's account decides (and a
    missing awsRegion, its region)."""
    event = _event(request={"queueUrl": QUEUE_URL})
    for key in ("recipientAccountId", "awsRegion"):
        del event["detail"][key]
    change = _read(event)
    assert isinstance(change, Change) and change.accounts == {OURS} and change.regions == {REGION}
    assert change.region == REGION and resolve.named(idx, change) == {"Queue"}
    event["account"] = THEIRS
    assert resolve.named(idx, _read(event)) == set()


# --- what a value names: ARNs and URLs only as the stack's own -------------------------------------------------

@pytest.mark.parametrize("value", [
    f"arn:aws:sqs:us-west-2:{THEIRS}:queue-prod",  # the reviewer's: another region and account, our name
    f"arn:aws:sqs:{REGION}:{THEIRS}:queue-prod",  # another account
    f"arn:aws:sqs:us-west-2:{OURS}:queue-prod",  # another region
    f"arn:aws-cn:sqs:{REGION}:{OURS}:queue-prod",  # another partition
    f"arn:aws:sqs::{OURS}:queue-prod",  # no region, where SQS's format has one
    f"arn:aws:sqs:{REGION}::queue-prod",  # no account
    f"arn:aws:sns:{REGION}:{OURS}:queue-prod",  # another service's resource of that name
    f"arn:aws:sqs:{REGION}:{OURS}:queue-prod-2",  # a longer name is another queue
    f"arn:aws:sqs:{REGION}:{OURS}",  # not an ARN
    f"https://sqs.{REGION}.amazonaws.com/{THEIRS}/queue-prod",  # another account's queue URL
    f"https://sqs.us-west-2.amazonaws.com/{OURS}/queue-prod",  # another region's
    f"https://eu-west-1.queue.amazonaws.com/{OURS}/queue-prod",  # the legacy endpoint of another region
    f"https://queue.amazonaws.com/{OURS}/queue-prod",  # the legacy endpoint: us-east-1
    f"https://vpce-0a1-b2.sqs.us-west-2.vpce.amazonaws.com/{OURS}/queue-prod",  # an interface endpoint elsewhere
    f"https://sqs.{REGION}.amazonaws.com/{OURS}/queue-prod/extra",  # not a queue URL
    f"https://example.com/x/{OURS}/queue-prod",  # a URL is not cut into names
    f"http://[::1/{OURS}/queue-prod",  # a malformed URL
])
def test_an_arn_or_url_of_a_same_named_resource_elsewhere_names_nothing(idx, value):
    assert _named(idx, _event(request={"queueUrl": value})) == set()
    assert _named(idx, _event(request={"policy": json.dumps({"Statement": [{"Resource": value}]})})) == set()


def test_a_huge_arn_shaped_value_is_looked_up_by_our_arns_lengths_not_by_each_of_its_prefixes(idx):
    value = f"arn:aws:sqs:{REGION}:{OURS}:other" + "/q" * 100_000  # 200 KB: 100,000 separators
    assert _named(idx, _event(request={"queueUrl": value})) == set()


@pytest.mark.parametrize("value", [
    QUEUE_URL,
    f"arn:aws:sqs:{REGION}:{OURS}:queue-prod",
    f"https://{REGION}.queue.amazonaws.com/{OURS}/queue-prod",  # SQS's legacy endpoint of our region
    f"https://vpce-0a1-b2.sqs.{REGION}.vpce.amazonaws.com/{OURS}/queue-prod",  # an interface endpoint here
    f"http://127.0.0.1:4566/{OURS}/queue-prod",  # a host that is no AWS endpoint states no region: the account
    "queue-prod",  # a bare name, as before
])
def test_our_queue_is_named_by_its_arn_its_urls_and_its_name(idx, value):
    assert _named(idx, _event(request={"queueUrl": value})) == {"Queue"}


def test_an_event_names_only_resources_its_service_changes(idx):
    """The queue and the bucket share a name: an SQS call names the queue, an S3 call the bucket, an EC2 call
    neither."""
    assert _named(idx, _event("sqs.amazonaws.com", {"bucketName": "queue-prod"})) == {"Queue"}
    assert _named(idx, _event("s3.amazonaws.com", {"queueUrl": QUEUE_URL, "bucketName": "queue-prod"})) == {"Bucket"}
    assert _named(idx, _event("ec2.amazonaws.com", {"groupName": "queue-prod"})) == set()
    # a log group's ARN names it, not the key the call associates with it (the key is read as its relation)
    key_arn = f"arn:aws:kms:{REGION}:{OURS}:key/{KEY_ID}"
    assert _named(idx, _event("logs.amazonaws.com", {"logGroupName": "/streamtech/unit/api",
                                                      "kmsKeyId": key_arn})) == {"Logs"}
    assert _named(idx, _event("kms.amazonaws.com", {"keyId": key_arn})) == {"Key"}


@pytest.mark.parametrize(("source", "value", "named"), [
    ("s3", "arn:aws:s3:::queue-prod", {"Bucket"}),  # a bucket's ARN has no region or account
    ("s3", "arn:aws:s3:::queue-prod/reports/*", {"Bucket"}),  # its objects
    ("s3", "arn:aws:s3:::queue-prod-logs", set()),
    ("logs", f"arn:aws:logs:{REGION}:{OURS}:log-group:/streamtech/unit/api:*", {"Logs"}),
    ("logs", f"arn:aws:logs:{REGION}:{OURS}:log-group:/streamtech/unit/api", {"Logs"}),
    ("logs", f"arn:aws:logs:{REGION}:{OURS}:log-group:/streamtech/other:*", set()),  # not every log group
    ("logs", f"arn:aws:logs:{REGION}:{THEIRS}:log-group:/streamtech/unit/api:*", set()),
    ("sns", f"arn:aws:sns:{REGION}:{OURS}:alarms-unit", {"Topic"}),
    ("sns", f"arn:aws:sns:{REGION}:{OURS}:alarms-unit:0f1e2d3c-sub", {"Topic"}),  # a subscription of it
    ("sns", f"arn:aws:sns:{REGION}:{THEIRS}:alarms-unit", set()),
    ("kms", f"arn:aws:kms:{REGION}:{THEIRS}:key/{KEY_ID}", set()),
])
def test_an_arn_names_what_is_ours_in_its_services_format(idx, source, value, named):
    assert _named(idx, _event(f"{source}.amazonaws.com", {"resourceArn": value})) == named


def test_the_arns_a_record_lists_name_what_is_ours(idx):
    """CloudTrail's resources[] (KMS lists the key it used) and EventBridge's resources[]: ARNs, judged as ARNs."""
    key_arn = f"arn:aws:kms:{REGION}:{OURS}:key/{KEY_ID}"
    listed = [{"accountId": OURS, "type": "AWS::KMS::Key", "ARN": key_arn}]
    assert _named(idx, _event("kms.amazonaws.com", None, resources=listed)) == {"Key"}
    assert _named(idx, _event("kms.amazonaws.com", None, envelope={"resources": [key_arn]})) == {"Key"}
    theirs = [{"accountId": THEIRS, "type": "AWS::KMS::Key", "ARN": key_arn.replace(OURS, THEIRS)}]
    assert _named(idx, _event("kms.amazonaws.com", None, resources=theirs)) == set()


def test_a_foreign_batch_is_never_read(idx, monkeypatch, moto_env):
    """Through the run: a batch of another account's and another region's changes, each naming our queue by its
    bare name, reads nothing and counts each as ignored."""
    from opscli.aws import Aws, new_session

    def no_read(*_: object, **__: object) -> None:
        raise AssertionError("read for a change that is not ours")

    monkeypatch.setattr(run.core, "stack_scope", lambda *_: idx.scope)
    monkeypatch.setattr(run, "read_stack", no_read)
    aws = Aws(session=new_session(region_name=REGION), max_attempts=1)
    records = [Record("account", json.dumps(_event(request={"queueName": "queue-prod"},
                                                   envelope={"account": THEIRS}, recipientAccountId=THEIRS))),
               Record("region", json.dumps(_event(request={"queueName": "queue-prod"},
                                                  envelope={"region": "us-west-2"}, awsRegion="us-west-2")))]
    outcome = run.judge_batch(aws, run.Settings(suffix=SUFFIX), records)
    assert outcome.kind == "none" and outcome.ignored == 2 and not outcome.retry and not outcome.poison


def test_another_accounts_iam_change_runs_no_audit_and_the_reason_is_said_once(idx, monkeypatch, moto_env):
    """IAM's changes run the whole audit, but only our account's: another account's is ignored, and the run's
    summary (the one log line a batch has) says why once, with how many."""
    from opscli.aws import Aws, new_session

    def no_read(*_: object, **__: object) -> None:
        raise AssertionError("read for a change that is not ours")

    monkeypatch.setattr(run.core, "stack_scope", lambda *_: idx.scope)
    monkeypatch.setattr(run, "read_stack", no_read)
    aws = Aws(session=new_session(region_name=REGION), max_attempts=1)
    event = _event("iam.amazonaws.com", {"roleName": "r"}, envelope={"region": "us-east-1", "account": THEIRS},
                   awsRegion="us-east-1", recipientAccountId=THEIRS)
    outcome = run.judge_batch(aws, run.Settings(suffix=SUFFIX), [Record(f"m-{n}", json.dumps(event))
                                                                 for n in range(2)])
    assert outcome.kind == "none" and outcome.ignored == 2 and not outcome.retry
    assert outcome.summary()["why_ignored"] == {f"an event of account {THEIRS}, not this monitor's {OURS}": 2}
