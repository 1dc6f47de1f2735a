"""Deployers of SQS queues and queue policies."""

from __future__ import annotations

import json

from localenv.deployers.base import DeployContext, deployer, tag_map


@deployer("AWS::SQS::Queue")
def sqs_queue(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    attributes = {k: str(p[k]) for k in ("KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "VisibilityTimeout",
                                         "MessageRetentionPeriod") if k in p}
    if p.get("RedrivePolicy"):
        attributes["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
    sqs = ctx.client("sqs")
    url = sqs.create_queue(QueueName=p["QueueName"], Attributes=attributes, tags=tag_map(p))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, {"Arn": arn, "QueueName": p["QueueName"], "QueueUrl": url}


@deployer("AWS::SQS::QueuePolicy")
def sqs_queue_policy(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    for url in p["Queues"]:
        ctx.client("sqs").set_queue_attributes(QueueUrl=url,
                                                Attributes={"Policy": json.dumps(p["PolicyDocument"])})
    return lid, {}
