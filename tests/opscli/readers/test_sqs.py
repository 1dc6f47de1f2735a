"""opscli.readers.sqs on answers stubbed with botocore's Stubber: a queue and its policy share one answer of every
attribute; a policy naming a key twice, or a boolean attribute spelled otherwise than true or false, is ERROR."""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber

from opscli import livestack, stackcheck
from platform_spec.result import Status
from tests.opscli.stubs import ACCOUNT, CMK, read, scope


def test_a_queue_and_its_policy_share_one_answer_of_every_attribute(stubbed):
    url = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/intake-fault"
    declared = scope(Queue=("AWS::SQS::Queue", url, {}),
                     Policy=("AWS::SQS::QueuePolicy", "policy-1", {"Queues": [{"Ref": "Queue"}]}))
    policy = {"Version": "2012-10-17", "Statement": []}
    with Stubber(stubbed.client("sqs")) as stub:
        stub.add_response("get_queue_attributes", {"Attributes": {
            "QueueArn": f"arn:aws:sqs:ap-northeast-1:{ACCOUNT}:intake-fault", "KmsMasterKeyId": CMK,
            "Policy": json.dumps(policy)}}, {"QueueUrl": url, "AttributeNames": ["All"]})
        stub.add_response("list_queue_tags", {"Tags": {"Environment": "fault"}}, {"QueueUrl": url})
        live = livestack.read_stack(stubbed, declared, account=ACCOUNT, max_workers=2)
        stub.assert_no_pending_responses()
    assert live.resources["Queue"].properties["KmsMasterKeyId"] == CMK
    assert live.resources["Policy"].properties == {"Queues": [url], "PolicyDocument": policy}
    assert stubbed.log.calls.count("sqs:GetQueueAttributes") == 1


def test_a_queue_policy_naming_a_key_twice_is_error_not_read_as_its_last_value(stubbed):
    """json keeps the last "Effect" of two (a Deny here), another reader the first (an Allow to everyone): the
    policy has no one meaning, so its checks could not look; the queue's own attributes are still judged."""
    url = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/intake-fault"
    declared = scope(Queue=("AWS::SQS::Queue", url, {}),
                     Policy=("AWS::SQS::QueuePolicy", "policy-1", {"Queues": [{"Ref": "Queue"}]}))
    twice = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:*", '
             '"Resource": "*", "Effect": "Deny"}]}')
    with Stubber(stubbed.client("sqs")) as stub:
        stub.add_response("get_queue_attributes", {"Attributes": {
            "QueueArn": f"arn:aws:sqs:ap-northeast-1:{ACCOUNT}:intake-fault", "KmsMasterKeyId": CMK,
            "Policy": twice}}, {"QueueUrl": url, "AttributeNames": ["All"]})
        stub.add_response("list_queue_tags", {"Tags": {"Environment": "fault"}}, {"QueueUrl": url})
        live = livestack.read_stack(stubbed, declared, account=ACCOUNT, max_workers=2)
    assert live.resources["Policy"].state == livestack.ReadState.ERROR
    assert "GetQueueAttributes answered 'Policy' with the key 'Effect' twice in one object" in \
        live.resources["Policy"].detail
    assert live.resources["Queue"].state == livestack.ReadState.READ
    on_policy = [f for f in stackcheck.judge(live) if "policy-1" in f.resource]
    assert on_policy and {f.status for f in on_policy} == {Status.ERROR}, on_policy


@pytest.mark.parametrize("value", ["TRUE", "1"])
def test_a_queue_boolean_attribute_spelled_otherwise_is_error(stubbed, value):
    url = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/intake-fault"
    with Stubber(stubbed.client("sqs")) as stub:
        stub.add_response("get_queue_attributes", {"Attributes": {
            "QueueArn": f"arn:aws:sqs:ap-northeast-1:{ACCOUNT}:intake-fault", "SqsManagedSseEnabled": value}})
        stub.add_response("list_queue_tags", {"Tags": {}})
        live = read(stubbed, Queue=("AWS::SQS::Queue", url, {}))
    assert live.resources["Queue"].state == livestack.ReadState.ERROR
    assert f"SqsManagedSseEnabled = {value!r}, not true or false" in live.resources["Queue"].detail
