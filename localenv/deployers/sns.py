"""Deployers of SNS topics and topic policies."""

from __future__ import annotations

import json

from localenv.deployers.base import DeployContext, deployer, tags


@deployer("AWS::SNS::TopicPolicy")
def sns_topic_policy(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    for arn in p["Topics"]:
        ctx.client("sns").set_topic_attributes(TopicArn=arn, AttributeName="Policy",
                                                AttributeValue=json.dumps(p["PolicyDocument"]))
    return lid, {}


@deployer("AWS::SNS::Topic")
def sns_topic(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    attributes = {"KmsMasterKeyId": p["KmsMasterKeyId"]} if p.get("KmsMasterKeyId") else {}
    arn = ctx.client("sns").create_topic(Name=p["TopicName"], Attributes=attributes, Tags=tags(p))["TopicArn"]
    return arn, {"TopicArn": arn, "TopicName": p["TopicName"]}
