"""Residency, live: every way AWS copies the stack's data elsewhere, aimed outside ap-northeast-1 or outside the
stack's account on the shared local deployment, one at a time. `opscli audit` alone fails each with its residency
rule, on the resource changed, naming the destination and where it is; each is restored and the deployment is then
as it was. Never run against a real account.

The other account (999999999999) is the emulator's: its resources are made with credentials of a role assumed in
it (moto keys every resource by the caller's account)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator

import boto3
import pytest

from opscli.cli import main
from opscli.model import path_status
from platform_spec.result import Status
from platform_spec.rules import stk_res
from tests.integration.changes import Judged

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("residency")]

OTHER_ACCOUNT = "999999999999"
ELSEWHERE = "us-east-1"



def _account(d) -> str:
    return d.outputs["KmsKeyArn"].split(":")[4]


def _other(d, service: str, region: str = "ap-northeast-1"):
    """A client acting as the other account (a role assumed in it)."""
    credentials = d.client("sts").assume_role(RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/outsider",
                                              RoleSessionName="residency-test")["Credentials"]
    return boto3.client(service, region_name=region, endpoint_url=d.endpoint_url,
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])


def _replicate(d, destination: dict) -> None:
    bucket = d.outputs["IngestBucketName"]
    d.client("s3").put_bucket_replication(Bucket=bucket, ReplicationConfiguration={
        "Role": f"arn:aws:iam::{_account(d)}:role/replication-by-hand",
        "Rules": [{"ID": "copy-everything", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
                   "DeleteMarkerReplication": {"Status": "Disabled"}, "Destination": destination}]})


@contextlib.contextmanager
def bucket_replicated_to_virginia(d) -> Iterator[str]:
    """The intake bucket replicating every upload to a bucket of this account in us-east-1."""
    copy = f"videos-copy-{d.suffix}-{ELSEWHERE}"
    s3_elsewhere = boto3.client("s3", region_name=ELSEWHERE, endpoint_url=d.endpoint_url)
    s3_elsewhere.create_bucket(Bucket=copy)
    s3_elsewhere.put_bucket_versioning(Bucket=copy, VersioningConfiguration={"Status": "Enabled"})
    try:
        _replicate(d, {"Bucket": f"arn:aws:s3:::{copy}"})
        yield f"arn:aws:s3:::{copy}"
    finally:
        d.client("s3").delete_bucket_replication(Bucket=d.outputs["IngestBucketName"])
        s3_elsewhere.delete_bucket(Bucket=copy)


@contextlib.contextmanager
def bucket_replicated_to_another_accounts_bucket(d) -> Iterator[str]:
    """Replication to a bucket in ap-northeast-1 that another account owns, the account left unnamed: only asking
    as the bucket's owner (refused) shows it is not this account's."""
    theirs, other = f"videos-copy-{d.suffix}-theirs", _other(d, "s3")
    other.create_bucket(Bucket=theirs, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    try:
        _replicate(d, {"Bucket": f"arn:aws:s3:::{theirs}"})
        yield f"arn:aws:s3:::{theirs}"
    finally:
        d.client("s3").delete_bucket_replication(Bucket=d.outputs["IngestBucketName"])
        other.delete_bucket(Bucket=theirs)


@contextlib.contextmanager
def bucket_inventory_to_another_account(d) -> Iterator[str]:
    """A daily inventory of every object (keys, sizes, versions) delivered to another account's bucket."""
    bucket, theirs = d.outputs["IngestBucketName"], f"arn:aws:s3:::inventories-{d.suffix}-theirs"
    d.client("s3").put_bucket_inventory_configuration(Bucket=bucket, Id="daily-list", InventoryConfiguration={
        "Id": "daily-list", "IsEnabled": True, "IncludedObjectVersions": "All", "Schedule": {"Frequency": "Daily"},
        "Destination": {"S3BucketDestination": {"Bucket": theirs, "AccountId": OTHER_ACCOUNT, "Format": "CSV"}}})
    try:
        yield theirs
    finally:
        d.client("s3").delete_bucket_inventory_configuration(Bucket=bucket, Id="daily-list")


@contextlib.contextmanager
def bucket_notifying_another_accounts_queue(d) -> Iterator[str]:
    """Every upload's event also sent to another account's queue (in Tokyo: S3 refuses another region)."""
    s3, bucket = d.client("s3"), d.outputs["IngestBucketName"]
    declared = s3.get_bucket_notification_configuration(Bucket=bucket)
    declared.pop("ResponseMetadata", None)
    queue = f"arn:aws:sqs:ap-northeast-1:{OTHER_ACCOUNT}:uploads-elsewhere"
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        **declared, "QueueConfigurations": [{"QueueArn": queue, "Events": ["s3:ObjectCreated:*"]}]})
    try:
        yield queue
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=declared)


@contextlib.contextmanager
def log_group_streamed_to_another_account(d) -> Iterator[str]:
    """The API's access log streamed, as it is written, to another account's log destination in us-east-1.
    (moto checks a logs destination as a log group of that name in its account and region: it is made there.)"""
    logs, group = d.client("logs"), d.outputs["ApiAccessLogGroup"]
    theirs = _other(d, "logs", ELSEWHERE)
    theirs.create_log_group(logGroupName="central-audit")
    destination = f"arn:aws:logs:{ELSEWHERE}:{OTHER_ACCOUNT}:destination:central-audit"
    logs.put_subscription_filter(logGroupName=group, filterName="ship-everything", filterPattern="",
                                 destinationArn=destination)
    try:
        yield destination
    finally:
        logs.delete_subscription_filter(logGroupName=group, filterName="ship-everything")
        theirs.delete_log_group(logGroupName="central-audit")


@contextlib.contextmanager
def intake_rule_targets_another_accounts_bus(d) -> Iterator[str]:
    """Every upload event also sent to another account's default event bus in us-east-1."""
    events, rule = d.client("events"), f"intake-rule-{d.suffix}"
    bus = f"arn:aws:events:{ELSEWHERE}:{OTHER_ACCOUNT}:event-bus/default"
    events.put_targets(Rule=rule, Targets=[{"Id": "copy-of-uploads", "Arn": bus,
                                            "RoleArn": f"arn:aws:iam::{_account(d)}:role/events-by-hand"}])
    try:
        yield bus
    finally:
        events.remove_targets(Rule=rule, Ids=["copy-of-uploads"])


@contextlib.contextmanager
def _subscribed(d, protocol: str, endpoint: str) -> Iterator[str]:
    sns = d.client("sns")
    arn = sns.subscribe(TopicArn=d.outputs["AlarmTopicArn"], Protocol=protocol, Endpoint=endpoint,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    try:
        yield endpoint
    finally:
        sns.unsubscribe(SubscriptionArn=arn)


def alarm_topic_to_a_web_hook(d):
    """An HTTPS subscriber: the alarms leave AWS, where no region is kept."""
    return _subscribed(d, "https", "https://collector.example.com/alarms")


def alarm_topic_to_another_accounts_queue(d):
    return _subscribed(d, "sqs", f"arn:aws:sqs:{ELSEWHERE}:{OTHER_ACCOUNT}:alarms-elsewhere")


# name -> (the change, its rule, the type of the resource it fails, the output naming that resource, the words the
# finding must hold beside the destination)
CASES: dict[str, tuple[Callable, str, str, str, tuple[str, ...]]] = {
    "bucket-replicated-to-virginia": (bucket_replicated_to_virginia, stk_res.BUCKET_ID,
                                      stk_res.BUCKET, "IngestBucketName", (f"in {ELSEWHERE}",)),
    "bucket-replicated-to-another-accounts-bucket": (
        bucket_replicated_to_another_accounts_bucket, stk_res.BUCKET_ID, stk_res.BUCKET,
        "IngestBucketName", ("GetBucketLocation as this account's bucket was refused",)),
    "bucket-inventory-to-another-account": (bucket_inventory_to_another_account, stk_res.BUCKET_ID,
                                            stk_res.BUCKET, "IngestBucketName",
                                            (f"owned by account {OTHER_ACCOUNT}",)),
    "bucket-notifying-another-accounts-queue": (bucket_notifying_another_accounts_queue, stk_res.BUCKET_ID,
                                                stk_res.BUCKET, "IngestBucketName",
                                                (f"in account {OTHER_ACCOUNT}",)),
    "log-group-streamed-to-another-account": (log_group_streamed_to_another_account, stk_res.LOGS_ID,
                                              stk_res.LOG_GROUP, "ApiAccessLogGroup",
                                              (f"in {ELSEWHERE}", f"in account {OTHER_ACCOUNT}")),
    "intake-rule-targets-another-accounts-bus": (intake_rule_targets_another_accounts_bus, stk_res.EVENTS_ID,
                                                 stk_res.RULE, "", (f"in {ELSEWHERE}", f"in account {OTHER_ACCOUNT}")),
    "alarm-topic-to-a-web-hook": (alarm_topic_to_a_web_hook, stk_res.TOPIC_ID, stk_res.TOPIC,
                                  "AlarmTopicArn", ("https delivery leaves AWS",)),
    "alarm-topic-to-another-accounts-queue": (alarm_topic_to_another_accounts_queue, stk_res.TOPIC_ID,
                                              stk_res.TOPIC, "AlarmTopicArn",
                                              (f"in {ELSEWHERE}", f"in account {OTHER_ACCOUNT}")),
}


def audited(judged: Judged) -> tuple[list, list]:
    """What a monitor run judged for a case's writes, as the audit of the whole deployment has it: (its FAILs, its
    paths across the perimeter). The rest of the deployment is the session's baseline, every check PASS, and every
    path there in Japan (test_a_fresh_deployment_keeps_every_path_in_japan)."""
    from opscli import stackcheck

    return [f for f in judged.audit if f.status is Status.FAIL], \
        stackcheck.perimeter_paths(judged.live) if judged.live else []


def test_a_fresh_deployment_keeps_every_path_in_japan(monitor, all_restored):
    """The audit's judgement of the deployment as declared (the read the restores are compared with)."""
    from opscli import stackcheck

    audit = stackcheck.judge(monitor.before, expected_tags=monitor.tags)
    assert [f for f in audit if f.status is not Status.PASS] == []
    residency = {stk_res.BUCKET_ID, stk_res.LOGS_ID, stk_res.EVENTS_ID, stk_res.TOPIC_ID}
    assert {f.rule_id for f in audit if f.rule_id in residency} == residency
    # every log group read is judged on its live subscription filters (the template declares none)
    groups = [f for f in audit if f.check_id == f"stack.{stk_res.LOG_GROUP}"]
    judged = [f for f in audit if f.rule_id == stk_res.LOGS_ID]
    assert groups and len(judged) == len(groups)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_path_out_of_japan_fails_its_residency_rule_alone(local, monitor, all_restored, baseline_posture, name):
    """What is judged is what the posture monitor reads for the case's writes (their CloudTrail records, its
    planner): each case also proves the monitor catches that path out, and that it sees it closed again."""
    change, rule_id, resource_type, output, words = CASES[name]
    with monitor.restoring(local.session, baseline_posture) as writes, change(local) as destination:
        failed, paths = audited(monitor.judge(list(writes)))
    assert [f.rule_id for f in failed] == [rule_id], [(f.rule_id, f.resource, f.reason) for f in failed]
    [finding] = failed
    # the same path, as data for the picture: out of the resource the finding names, to the destination, red
    [path] = [p for p in paths if p.outside]
    assert (path.direction, path.rule_id, path.resource_type) == ("out", rule_id, resource_type)
    assert destination in path.other and path_status(path, failed) is Status.FAIL, path
    assert finding.resource.startswith(f"{resource_type} {path.resource} "), (finding.resource, path)
    assert finding.resource.startswith(resource_type + " "), finding.resource
    if output:
        assert local.outputs[output] in finding.resource, finding.resource
    assert destination in finding.reason and all(word in finding.reason for word in words), finding.reason
    # restored: `monitor.restoring` compares what the writes touched with the session's start, when all passed


def test_opscli_audit_names_the_rule_the_resource_and_the_destination(local, monitor, all_restored, baseline_posture):
    """The command an operator runs: exit 1, the finding in the JSON report as the audit above found it."""
    with monitor.restoring(local.session, baseline_posture) as writes, \
            bucket_replicated_to_virginia(local) as destination:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), monitor.traced_for(writes):
            code = main(["audit", "--outputs", str(local.outputs_file), "--endpoint-url", local.endpoint_url,
                         "-o", "json"])
    failed = [f for f in json.loads(out.getvalue())["findings"] if f["status"] == "FAIL"]
    assert code == 1 and [f["rule_id"] for f in failed] == [stk_res.BUCKET_ID], failed
    assert local.outputs["IngestBucketName"] in failed[0]["resource"] and destination in failed[0]["reason"]
