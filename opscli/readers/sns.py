"""Readers of the alarm topic and its policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import (
    FACTS,
    UNDECLARED,
    Call,
    MalformedAnswer,
    NotFound,
    ReadContext,
    ask,
    json_value,
    listed_tags,
    need,
    pages,
    reader,
    resolved,
)
from opscli.stack import Present
from platform_spec.rules import stk_res

TOPIC = ("arn:aws:sns:{region}:{account}:{topic}",)
GET_TOPIC_ATTRIBUTES = Call("sns:GetTopicAttributes", TOPIC)


@reader("AWS::SNS::Topic", (GET_TOPIC_ATTRIBUTES, Call("sns:ListTagsForResource", TOPIC),
                            Call("sns:ListSubscriptionsByTopic", TOPIC)),
        "TopicName KmsMasterKeyId Tags Subscription",
        derived=lambda p: {"TopicArn": p.id, "TopicName": p.id.rsplit(":", 1)[-1]})
def topic(ctx: ReadContext, r: Present) -> dict[str, Any]:
    sns = ctx.aws.client("sns")
    answer = ask("GetTopicAttributes", sns.get_topic_attributes, "NotFound", TopicArn=r.physical_id)
    attributes = need(answer, "Attributes", Mapping, operation="GetTopicAttributes")
    props: dict[str, Any] = {"TopicName": r.physical_id.rsplit(":", 1)[-1],
                             "KmsMasterKeyId": attributes.get("KmsMasterKeyId") or None}
    props["Tags"] = listed_tags(sns.list_tags_for_resource, "Tags", ResourceArn=r.physical_id)
    declared = {(str(resolved(ctx, d.properties.get("Protocol"))), str(resolved(ctx, d.properties.get("Endpoint"))))
                for d in ctx.scope.of_type("AWS::SNS::Subscription")
                if resolved(ctx, d.properties.get("TopicArn")) == r.physical_id}
    declared |= {(str(resolved(ctx, s.get("Protocol"))), str(resolved(ctx, s.get("Endpoint"))))
                 for s in r.properties.get("Subscription") or [] if isinstance(s, Mapping)}
    subscriptions = [x for page in pages(sns, "list_subscriptions_by_topic", "ListSubscriptionsByTopic",
                                         TopicArn=r.physical_id)
                     for x in need(page, "Subscriptions", list, operation="ListSubscriptionsByTopic")
                     if isinstance(x, Mapping)]
    # Every subscription, declared here, as an AWS::SNS::Subscription, or not at all: where it delivers is judged
    # by the residency rule, which also names an undeclared one delivering outside (STK-STACK-002 does not).
    op = "ListSubscriptionsByTopic"
    props["Subscription"] = sorted(({"Endpoint": need(x, "Endpoint", str, operation=op),
                                     "Protocol": need(x, "Protocol", str, operation=op)} for x in subscriptions),
                                   key=lambda x: (x["Protocol"], x["Endpoint"])) or None
    account = ctx.resolve({"Ref": "AWS::AccountId"})
    props[FACTS] = {UNDECLARED: [f"subscription {x.get('Protocol')}:{x.get('Endpoint')}" for x in subscriptions
                                 if (str(x.get("Protocol")), str(x.get("Endpoint"))) not in declared
                                 and not stk_res.subscription_leaves(x.get("Protocol"), x.get("Endpoint"), account)]}
    return props


@reader("AWS::SNS::TopicPolicy", (GET_TOPIC_ATTRIBUTES,), "Topics PolicyDocument")
def topic_policy(ctx: ReadContext, r: Present) -> dict[str, Any]:
    arns = ctx.resolve(r.properties.get("Topics"))
    if not isinstance(arns, list) or len(arns) != 1:
        raise MalformedAnswer("the declared TopicPolicy names more or less than one topic; read one at a time")
    answer = ask("GetTopicAttributes", ctx.aws.client("sns").get_topic_attributes, "NotFound", TopicArn=arns[0])
    attributes = need(answer, "Attributes", Mapping, operation="GetTopicAttributes")
    if "Policy" not in attributes:
        raise NotFound(f"topic {arns[0]} has no policy")
    return {"Topics": arns, "PolicyDocument": json_value(attributes["Policy"], "GetTopicAttributes", "Policy")}
