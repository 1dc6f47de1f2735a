"""The residency predicates (STK-RES-001..004) case by case: every way a path leaves ap-northeast-1 or the stack's
account fails, named; what the stack declares, and what provably stays, passes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from platform_spec.context import Context
from platform_spec.registry import BY_ID
from platform_spec.result import Result, Status
from platform_spec.rules import stk_res as res
from tests.property.strategies import account_ids, other_regions

OWN = "123456789012"
OTHER = "999999999999"


def judge(rule_id: str, resource_type: str, properties: dict, account: str | None = OWN,
          regions: dict | None = None) -> Result:
    context = Context(account=account, bucket_regions=tuple(sorted((regions or {}).items())))
    return BY_ID[rule_id].evaluate(resource_type, properties, context)


def target(arn, dead_letter=None) -> dict:
    return {"Targets": [{"Id": "T", "Arn": arn, **({"DeadLetterConfig": {"Arn": dead_letter}} if dead_letter else {})}]}


@pytest.mark.parametrize(("arn", "account", "status"), [
    ({"Fn::GetAtt": ["Queue", "Arn"]}, None, Status.PASS),  # a resource the stack declares
    ({"Ref": "Function"}, None, Status.PASS),
    ({"Fn::ImportValue": "shared-queue-arn"}, None, Status.PASS),  # exports are of this account and region only
    ({"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:work"}, None, Status.PASS),
    ({"Fn::Join": [":", ["arn:aws:sqs", {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}, "work"]]}, None,
     Status.PASS),
    (f"arn:aws:sqs:ap-northeast-1:{OWN}:work", OWN, Status.PASS),
    (f"arn:aws:sqs:ap-northeast-1:{OWN}:work", None, Status.FAIL),  # its account cannot be shown to be the stack's
    (f"arn:aws:sqs:us-east-1:{OWN}:work", OWN, Status.FAIL),
    (f"arn:aws:sqs:ap-northeast-1:{OTHER}:work", OWN, Status.FAIL),
    ({"Fn::Sub": "arn:aws:sqs:us-east-1:${AWS::AccountId}:work"}, None, Status.FAIL),
    ({"Fn::Sub": "arn:aws:sqs:${Region}:${AWS::AccountId}:work"}, None, Status.FAIL),  # a parameter's region
    (f"arn:aws:events:ap-northeast-1:{OWN}:api-destination/hook/1a2b", OWN, Status.FAIL),  # to an HTTP endpoint
    ("https://collector.example.com/events", OWN, Status.FAIL),
    ({"Fn::If": ["Prod", {"Fn::GetAtt": ["Queue", "Arn"]}, f"arn:aws:sqs:us-west-2:{OWN}:x"]}, OWN, Status.FAIL),
    ({"Fn::If": ["Prod", {"Fn::GetAtt": ["Queue", "Arn"]}, {"Ref": "AWS::NoValue"}]}, OWN, Status.PASS),
])
def test_an_event_target(arn, account, status):
    assert judge(res.EVENTS_ID, res.RULE, target(arn), account).status is status


def test_a_targets_dead_letter_queue_is_a_destination_too():
    found = judge(res.EVENTS_ID, res.RULE, target({"Fn::GetAtt": ["Queue", "Arn"]},
                                                  f"arn:aws:sqs:eu-west-1:{OWN}:dlq"))
    assert found.status is Status.FAIL and "dead-letter queue" in found.reason and "in eu-west-1" in found.reason


def test_the_finding_names_the_destination_and_where_it_is():
    found = judge(res.EVENTS_ID, res.RULE, target(f"arn:aws:events:us-east-1:{OTHER}:event-bus/default"))
    assert f"arn:aws:events:us-east-1:{OTHER}:event-bus/default" in found.reason
    assert "in us-east-1, not ap-northeast-1" in found.reason and f"in account {OTHER}, not this stack's {OWN}" \
        in found.reason


def replication(destination: dict, status: str = "Enabled") -> dict:
    return {"ReplicationConfiguration": {"Role": "r", "Rules": [{"Id": "copy", "Status": status,
                                                                  "Destination": destination}]}}


@pytest.mark.parametrize(("properties", "regions", "status", "words"), [
    ({}, {}, Status.PASS, "nothing is copied"),
    (replication({"Bucket": {"Fn::GetAtt": ["Replica", "Arn"]}}), {}, Status.PASS, ""),
    # a bucket ARN carries no region: at the template stage only a declared bucket proves where copies go
    (replication({"Bucket": "arn:aws:s3:::copy"}), {}, Status.FAIL, "does not declare"),
    # live: asked as this account's bucket
    (replication({"Bucket": "arn:aws:s3:::copy"}), {"copy": "ap-northeast-1"}, Status.PASS, ""),
    (replication({"Bucket": "arn:aws:s3:::copy"}), {"copy": "us-east-1"}, Status.FAIL, "in us-east-1"),
    (replication({"Bucket": "arn:aws:s3:::copy"}), {"copy": None}, Status.FAIL, "was refused"),
    (replication({"Bucket": {"Fn::GetAtt": ["Replica", "Arn"]}, "Account": OTHER,
                  "AccessControlTranslation": {"Owner": "Destination"}}), {}, Status.FAIL,
     f"owned by account {OTHER}"),
    (replication({"Bucket": "arn:aws:s3:::copy"}, status="Disabled"), {}, Status.PASS, ""),  # copies nothing
    ({"InventoryConfigurations": [{"Id": "i", "Enabled": True, "Destination": {
        "BucketArn": {"Fn::GetAtt": ["Replica", "Arn"]}, "BucketAccountId": OTHER, "Format": "CSV"}}]}, {},
     Status.FAIL, f"owned by account {OTHER}"),
    ({"InventoryConfigurations": [{"Id": "i", "Enabled": False, "Destination": {
        "BucketArn": "arn:aws:s3:::elsewhere", "Format": "CSV"}}]}, {}, Status.PASS, ""),
    ({"AnalyticsConfigurations": [{"Id": "a", "StorageClassAnalysis": {"DataExport": {
        "OutputSchemaVersion": "V_1", "Destination": {"BucketArn": "arn:aws:s3:::stats", "Format": "CSV"}}}}]},
     {"stats": "eu-central-1"}, Status.FAIL, "in eu-central-1"),
    ({"LoggingConfiguration": {"DestinationBucketName": {"Ref": "Logs"}}}, {}, Status.PASS, ""),
    ({"LoggingConfiguration": {"DestinationBucketName": "access-logs"}}, {"access-logs": "ap-northeast-1"},
     Status.PASS, ""),
    ({"NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}, "QueueConfigurations": [
        {"Event": "s3:ObjectCreated:*", "Queue": f"arn:aws:sqs:ap-northeast-1:{OTHER}:q"}]}}, {}, Status.FAIL,
     f"notification to queue arn:aws:sqs:ap-northeast-1:{OTHER}:q"),
])
def test_a_bucket(properties, regions, status, words):
    found = judge(res.BUCKET_ID, res.BUCKET, properties, regions=regions)
    assert found.status is status and words in found.reason, found


@pytest.mark.parametrize(("protocol", "endpoint", "status"), [
    ("sqs", {"Fn::GetAtt": ["Queue", "Arn"]}, Status.PASS),
    ("lambda", f"arn:aws:lambda:ap-northeast-1:{OWN}:function:f", Status.PASS),
    ("firehose", f"arn:aws:firehose:us-east-1:{OWN}:deliverystream/s", Status.FAIL),
    ("sqs", f"arn:aws:sqs:ap-northeast-1:{OTHER}:q", Status.FAIL),
    ("email", "oncall@example.com", Status.FAIL),
    ("https", "https://hooks.example.com/alarms", Status.FAIL),
    ("sms", "+81312345678", Status.FAIL),
    ("application", f"arn:aws:sns:ap-northeast-1:{OWN}:endpoint/APNS/app/1", Status.FAIL),  # to a phone
])
def test_a_subscription_inline_or_declared_on_its_own(protocol, endpoint, status):
    inline = {"Subscription": [{"Protocol": protocol, "Endpoint": endpoint}]}
    assert judge(res.TOPIC_ID, res.TOPIC, inline).status is status
    assert judge(res.TOPIC_ID, res.SUBSCRIPTION, {"TopicArn": {"Ref": "T"}, "Protocol": protocol,
                                                   "Endpoint": endpoint}).status is status


def test_a_subscription_filter_in_the_template_and_live():
    assert judge(res.LOGS_ID, res.SUBSCRIPTION_FILTER, {"DestinationArn": {"Fn::GetAtt": ["Stream", "Arn"]}}).status \
        is Status.PASS
    assert judge(res.LOGS_ID, res.SUBSCRIPTION_FILTER, {
        "DestinationArn": f"arn:aws:logs:us-east-1:{OTHER}:destination:central"}).status is Status.FAIL
    group = f"arn:aws:logs:ap-northeast-1:{OWN}:log-group:/ecs/worker"
    ok = res.log_group_subscriptions({}, {"Arn": group, "SubscriptionFilters": [
        {"FilterName": "f", "DestinationArn": f"arn:aws:kinesis:ap-northeast-1:{OWN}:stream/s"}]})
    assert ok.status is Status.PASS
    out = res.log_group_subscriptions({}, {"Arn": group, "SubscriptionFilters": [
        {"FilterName": "ship", "DestinationArn": f"arn:aws:logs:us-east-1:{OTHER}:destination:central"}]})
    assert out.status is Status.FAIL
    assert "subscription filter ship" in out.reason and f"in account {OTHER}" in out.reason


def test_what_stk_stack_002_leaves_to_the_residency_rules():
    """A live child delivering outside is named by its residency rule alone; one that stays is STK-STACK-002's."""
    assert res.target_leaves({"Id": "x", "Arn": f"arn:aws:sqs:ap-northeast-1:{OTHER}:q"}, OWN)
    assert res.target_leaves({"Id": "x", "Arn": f"arn:aws:sqs:ap-northeast-1:{OWN}:q",
                              "DeadLetterConfig": {"Arn": f"arn:aws:sqs:us-east-1:{OWN}:d"}}, OWN)
    assert not res.target_leaves({"Id": "x", "Arn": f"arn:aws:sqs:ap-northeast-1:{OWN}:q"}, OWN)
    assert res.subscription_leaves("email", "someone@example.com", OWN)
    assert not res.subscription_leaves("sqs", f"arn:aws:sqs:ap-northeast-1:{OWN}:q", OWN)


@given(region=other_regions, owner=account_ids, service=st.sampled_from(["sqs", "sns", "lambda", "kinesis",
                                                                          "firehose", "events", "logs"]))
def test_any_literal_destination_outside_tokyo_or_the_account_fails_and_only_the_stacks_own_place_passes(
        region, owner, service):
    """Whatever the service, a literal ARN in another region, or of another account, fails the event-target rule
    and names that region or account; in ap-northeast-1 and the stack's own account it passes."""
    elsewhere = judge(res.EVENTS_ID, res.RULE, target(f"arn:aws:{service}:{region}:{OWN}:x"))
    assert elsewhere.status is Status.FAIL and f"in {region}" in elsewhere.reason
    home = judge(res.EVENTS_ID, res.RULE, target(f"arn:aws:{service}:ap-northeast-1:{owner}:x"))
    assert home.status is (Status.PASS if owner == OWN else Status.FAIL)
