"""Readers of Lambda functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import Call, ReadContext, ask, need, no_reader, reader, tag_list
from opscli.stack import Present

# The functions CloudFormation names for the stack, and the posture monitor's, which has a name of its own.
FUNCTION = ("arn:aws:lambda:{region}:{account}:function:{stack}-*",
            "arn:aws:lambda:{region}:{account}:function:{function}")

no_reader("AWS::Lambda::LayerVersion", "an immutable code bundle; the function that uses it is read")


@reader("AWS::Lambda::Function", (Call("lambda:GetFunction", FUNCTION),),
        "Runtime Handler MemorySize Timeout Role Description Tags",
        derived=lambda p: {"Arn": p.arn("lambda", f"function:{p.id}")})
def lambda_function(ctx: ReadContext, r: Present) -> dict[str, Any]:
    op = "GetFunction"
    answer = ask(op, ctx.aws.client("lambda").get_function, "ResourceNotFoundException", FunctionName=r.physical_id)
    config = need(answer, "Configuration", Mapping, operation=op)
    props = {k: config[k] for k in ("Runtime", "Handler", "MemorySize", "Timeout", "Role", "Description")
             if k in config}
    props["Tags"] = tag_list(answer.get("Tags") or {})
    return props


@reader("AWS::Lambda::EventSourceMapping",
        (Call("lambda:GetEventSourceMapping", ("arn:aws:lambda:{region}:{account}:event-source-mapping:*",)),),
        "EventSourceArn BatchSize MaximumBatchingWindowInSeconds FunctionResponseTypes")
def event_source_mapping(ctx: ReadContext, r: Present) -> dict[str, Any]:
    """Which queue feeds which function, and how (the posture monitor's queue: STK-SQS-003 passes a queue a
    function consumes, since Lambda scales its pollers on the backlog)."""
    op = "GetEventSourceMapping"
    answer = ask(op, ctx.aws.client("lambda").get_event_source_mapping, "ResourceNotFoundException",
                 UUID=r.physical_id)
    props: dict[str, Any] = {"EventSourceArn": need(answer, "EventSourceArn", str, operation=op)}
    for key in ("BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes"):
        if key in answer:
            props[key] = answer[key]
    return props
