"""The cases of platform_spec/rules/stk_res.py (STK-RES-001, STK-RES-002, STK-RES-003, STK-RES-004), run by
the shared tests (tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import OUTSIDER, props
from tests.policy.templates import replicated_bucket, streamed_log_group, subscribed_topic, targeted_rule, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    # residency of every path the data is copied by: to a bucket, stream, bus or subscriber outside Tokyo and the
    # account, against the stack's own
    "STK-RES-001": {"pass": template(replicated_bucket({"Bucket": {"Fn::GetAtt": ["Replica", "Arn"]}})),
                    "fail": template(replicated_bucket({"Bucket": "arn:aws:s3:::videos-copy-us-east-1",
                                                        "Account": "999999999999",
                                                        "AccessControlTranslation": {"Owner": "Destination"}}))},
    "STK-RES-002": {"pass": template(streamed_log_group({"Fn::GetAtt": ["Stream", "Arn"]})),
                    "fail": template(streamed_log_group("arn:aws:logs:us-east-1:999999999999:destination:central"))},
    "STK-RES-003": {"pass": template(targeted_rule({"Fn::GetAtt": ["Work", "Arn"]})),
                    "fail": template(targeted_rule("arn:aws:events:us-east-1:999999999999:event-bus/default"))},
    "STK-RES-004": {"pass": template(subscribed_topic("sqs", {"Fn::GetAtt": ["Work", "Arn"]})),
                    "fail": template(subscribed_topic("email", "oncall@example.com"))},
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-RES-001", "copies elsewhere", lambda p: props(p, "AWS::S3::Bucket").update(
        ReplicationConfiguration={"Role": OUTSIDER, "Rules": [{"Id": "out", "Status": "Enabled", "Destination": {
            "Bucket": "arn:aws:s3:::elsewhere", "Account": "111122223333"}}]},
        InventoryConfigurations=[{"Id": "list-all", "Enabled": True, "Destination": {
            "BucketArn": "arn:aws:s3:::elsewhere", "BucketAccountId": "111122223333", "Format": "CSV"}}],
        AnalyticsConfigurations=[{"Id": "classes", "StorageClassAnalysis": {"DataExport": {"Destination": {
            "BucketArn": "arn:aws:s3:::elsewhere", "BucketAccountId": "111122223333", "Format": "CSV"}}}}],
        LoggingConfiguration={"DestinationBucketName": "elsewhere-logs"})),
    ("STK-RES-003", "target elsewhere", lambda p: props(p, "AWS::Events::Rule")["Targets"].append(
        {"Id": "exfil", "Arn": "arn:aws:sqs:us-east-1:111122223333:copies"})),
]
