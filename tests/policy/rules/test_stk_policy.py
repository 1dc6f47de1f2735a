"""The cases of platform_spec/rules/stk_policy.py (STK-POLICY-001), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import outsider, props, statements
from tests.policy.templates import queue_with_policy, template, tls_deny

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-POLICY-001": {"pass": template(queue_with_policy(
                           tls_deny("sqs", {"Fn::GetAtt": ["Queue", "Arn"]}),
                           {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                            "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:events:ap-northeast-1:1:rule/r"}}})),
                       "fail": template(queue_with_policy(
                           {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": ["Queue", "Arn"]}}))},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "queue-open-to-everyone": (lambda t: props(t, "AWS::SQS::QueuePolicy")["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}), "STK-POLICY-001"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-POLICY-001", "queue policy", lambda p: statements(props(p, "AWS::SQS::QueuePolicy"), "PolicyDocument")
     .append(outsider())),
    ("STK-POLICY-001", "topic policy", lambda p: statements(props(p, "AWS::SNS::TopicPolicy"), "PolicyDocument")
     .append(outsider())),
    ("STK-POLICY-001", "bucket policy", lambda p: statements(props(p, "AWS::S3::BucketPolicy"), "PolicyDocument")
     .append(outsider())),
    ("STK-POLICY-001", "bucket policy all outside", lambda p: props(p, "AWS::S3::BucketPolicy").update(
        PolicyDocument={"Version": "2012-10-17", "Statement": [outsider()]})),
    ("STK-POLICY-001", "key policy", lambda p: statements(props(p, "AWS::KMS::Key"), "KeyPolicy").append(outsider())),
    ("STK-POLICY-001", "file system policy", lambda p: statements(props(p, "AWS::EFS::FileSystem"),
                                                                  "FileSystemPolicy").append(outsider())),
    ("STK-POLICY-001", "file system policy all outside", lambda p: props(p, "AWS::EFS::FileSystem").update(
        FileSystemPolicy={"Version": "2012-10-17", "Statement": [outsider()]})),
    ("STK-POLICY-001", "API policy", lambda p: props(p, "AWS::ApiGateway::RestApi").update(Policy={
        "Version": "2012-10-17", "Statement": [outsider(), {"Effect": "Deny", "Principal": "*",
                                                             "Action": "execute-api:Invoke", "Resource": "*"}]})),
]
