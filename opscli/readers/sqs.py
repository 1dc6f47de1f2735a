"""Readers of the intake queues and their policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import (
    Call,
    MalformedAnswer,
    NotFound,
    Physical,
    ReadContext,
    ask,
    boolean_text,
    json_value,
    need,
    reader,
    tag_list,
)
from opscli.stack import Present

QUEUE = ("arn:aws:sqs:{region}:{account}:{queue}",)
GET_QUEUE_ATTRIBUTES = Call("sqs:GetQueueAttributes", QUEUE)

_QUEUE_MISSING = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")

_INT_ATTRIBUTES = ("KmsDataKeyReusePeriodSeconds", "MessageRetentionPeriod", "VisibilityTimeout",
                   "DelaySeconds", "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds")


def _derived(p: Physical) -> dict[str, str]:
    """A queue's physical id is its URL, which ends in its name."""
    name = p.id.rsplit("/", 1)[-1]
    return {"Arn": p.arn("sqs", name), "QueueUrl": p.id, "QueueName": name}


@reader("AWS::SQS::Queue", (GET_QUEUE_ATTRIBUTES, Call("sqs:ListQueueTags", QUEUE)),
        "QueueName KmsMasterKeyId KmsDataKeyReusePeriodSeconds MessageRetentionPeriod VisibilityTimeout "
        "RedrivePolicy SqsManagedSseEnabled Tags", derived=_derived)
def queue(ctx: ReadContext, r: Present) -> dict[str, Any]:
    sqs = ctx.aws.client("sqs")
    attributes = _queue_attributes(ctx, r.physical_id)
    props: dict[str, Any] = {"QueueName": need(attributes, "QueueArn", str,
                                               operation="GetQueueAttributes").rsplit(":", 1)[-1]}
    for key in _INT_ATTRIBUTES:
        if key in attributes:
            try:
                props[key] = int(attributes[key])
            except (TypeError, ValueError):
                raise MalformedAnswer(f"GetQueueAttributes answered {key} that is not a number") from None
    # GetQueueAttributes(All) leaves out what is not set: absent is a definite "not set" (None).
    props["KmsMasterKeyId"] = attributes.get("KmsMasterKeyId") or None
    if "SqsManagedSseEnabled" in attributes:
        props["SqsManagedSseEnabled"] = boolean_text(attributes["SqsManagedSseEnabled"], "SqsManagedSseEnabled",
                                                     "GetQueueAttributes")
    props["RedrivePolicy"] = json_value(attributes["RedrivePolicy"], "GetQueueAttributes", "RedrivePolicy") \
        if attributes.get("RedrivePolicy") else None
    tags = ask("ListQueueTags", sqs.list_queue_tags, *_QUEUE_MISSING, QueueUrl=r.physical_id)
    props["Tags"] = tag_list(tags.get("Tags", {}))
    return props


def _queue_attributes(ctx: ReadContext, url: str) -> Mapping[str, Any]:
    """Every attribute of a queue (GetQueueAttributes "All"), asked once per read: the queue's reader and its
    policy's share the answer."""
    answer = ctx.once("GetQueueAttributes", url, lambda: ask(
        "GetQueueAttributes", ctx.aws.client("sqs").get_queue_attributes, *_QUEUE_MISSING, QueueUrl=url,
        AttributeNames=["All"]))
    return need(answer, "Attributes", Mapping, operation="GetQueueAttributes")


@reader("AWS::SQS::QueuePolicy", (GET_QUEUE_ATTRIBUTES,), "Queues PolicyDocument")
def queue_policy(ctx: ReadContext, r: Present) -> dict[str, Any]:
    urls = ctx.resolve(r.properties.get("Queues"))
    if not isinstance(urls, list) or len(urls) != 1:
        raise MalformedAnswer("the declared QueuePolicy names more or less than one queue; read one at a time")
    attributes = _queue_attributes(ctx, urls[0])
    if "Policy" not in attributes:
        raise NotFound(f"queue {urls[0]} has no policy")
    return {"Queues": urls, "PolicyDocument": json_value(attributes["Policy"], "GetQueueAttributes", "Policy")}
