"""Readers of the intake bucket and its policy."""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from typing import Any

import botocore.exceptions

from opscli.readers.base import (
    FACTS,
    Call,
    MalformedAnswer,
    ReadContext,
    ask,
    ask_optional,
    json_value,
    need,
    no_reader,
    reader,
    tag_list,
)
from opscli.stack import Present
from platform_spec.context import BUCKET_REGIONS
from platform_spec.rules import stk_res

BUCKET = ("arn:aws:s3:::{bucket}",)
# Asked of the buckets a declared bucket copies to that the stack does not declare, as their owner
# (ExpectedBucketOwner): whose they are and where is the question, so any bucket name.
GET_BUCKET_LOCATION = Call("s3:GetBucketLocation", ("arn:aws:s3:::*",))

no_reader("Custom::S3AutoDeleteObjects", "a deployment-time custom resource; no live resource")


@reader("AWS::S3::Bucket", (Call("s3:GetBucketEncryption", BUCKET, action="s3:GetEncryptionConfiguration"),
                            Call("s3:GetPublicAccessBlock", BUCKET, action="s3:GetBucketPublicAccessBlock"),
                            Call("s3:GetBucketVersioning", BUCKET), Call("s3:GetBucketTagging", BUCKET),
                            Call("s3:GetBucketOwnershipControls", BUCKET),
                            Call("s3:GetBucketNotificationConfiguration", BUCKET, action="s3:GetBucketNotification"),
                            Call("s3:GetBucketReplication", BUCKET, action="s3:GetReplicationConfiguration"),
                            Call("s3:ListBucketInventoryConfigurations", BUCKET,
                                 action="s3:GetInventoryConfiguration"),
                            Call("s3:GetBucketLogging", BUCKET), GET_BUCKET_LOCATION),
        "BucketName BucketEncryption PublicAccessBlockConfiguration VersioningConfiguration OwnershipControls "
        "NotificationConfiguration Tags ReplicationConfiguration InventoryConfigurations LoggingConfiguration",
        derived=lambda p: {"Arn": f"arn:aws:s3:::{p.id}"})
def bucket(ctx: ReadContext, r: Present) -> dict[str, Any]:
    s3 = ctx.aws.client("s3")
    name = r.physical_id
    props: dict[str, Any] = {"BucketName": name}
    missing = ("NoSuchBucket",)
    enc = ask_optional("GetBucketEncryption", s3.get_bucket_encryption,
                       "ServerSideEncryptionConfigurationNotFoundError", *missing, Bucket=name)
    if enc is None:
        props["BucketEncryption"] = None
    else:
        rules = need(need(enc, "ServerSideEncryptionConfiguration", Mapping, operation="GetBucketEncryption"),
                     "Rules", list, operation="GetBucketEncryption")
        # The API says ApplyServerSideEncryptionByDefault where CloudFormation says ServerSideEncryptionByDefault.
        props["BucketEncryption"] = {"ServerSideEncryptionConfiguration": [
            {("ServerSideEncryptionByDefault" if k == "ApplyServerSideEncryptionByDefault" else k): v
             for k, v in rule.items()} for rule in rules if isinstance(rule, Mapping)]}
    block = ask_optional("GetPublicAccessBlock", s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration",
                         *missing, Bucket=name)
    props["PublicAccessBlockConfiguration"] = None if block is None else need(
        block, "PublicAccessBlockConfiguration", Mapping, operation="GetPublicAccessBlock")
    versioning = ask("GetBucketVersioning", s3.get_bucket_versioning, *missing, Bucket=name)
    if "Status" in versioning:
        props["VersioningConfiguration"] = {"Status": versioning["Status"]}
    tags = ask_optional("GetBucketTagging", s3.get_bucket_tagging, "NoSuchTagSet", *missing, Bucket=name)
    props["Tags"] = [] if tags is None else tag_list(need(tags, "TagSet", list, operation="GetBucketTagging"))
    owner = ask_optional("GetBucketOwnershipControls", s3.get_bucket_ownership_controls,
                         "OwnershipControlsNotFoundError", *missing, Bucket=name)
    props["OwnershipControls"] = None if owner is None else need(owner, "OwnershipControls", Mapping,
                                                                  operation="GetBucketOwnershipControls")
    notification = ask("GetBucketNotificationConfiguration", s3.get_bucket_notification_configuration, *missing,
                       Bucket=name)
    props["NotificationConfiguration"] = _notifications(notification)
    props.update(_copies(s3, name))
    props[FACTS] = {BUCKET_REGIONS: _destination_regions(ctx, props)}
    return props


# --- where the bucket's data is copied to (judged by the residency rules) ----------------------------------------

def _notifications(answer: Mapping[str, Any]) -> dict[str, Any] | None:
    """GetBucketNotificationConfiguration in CloudFormation's shape: one configuration per event, the
    destination under Queue/Topic/Function, the key filter under S3Key."""
    op = "GetBucketNotificationConfiguration"
    found: dict[str, Any] = {}
    if "EventBridgeConfiguration" in answer:
        found["EventBridgeConfiguration"] = {"EventBridgeEnabled": True}
    for api_key, arn_key, cfn_key, field in (("QueueConfigurations", "QueueArn", "QueueConfigurations", "Queue"),
                                             ("TopicConfigurations", "TopicArn", "TopicConfigurations", "Topic"),
                                             ("LambdaFunctionConfigurations", "LambdaFunctionArn",
                                              "LambdaConfigurations", "Function")):
        items = []
        for item in need(answer, api_key, list, operation=op) if api_key in answer else []:
            destination = need(item, arn_key, str, operation=op)
            rules = need(need(item["Filter"], "Key", Mapping, operation=op), "FilterRules", list, operation=op) \
                if isinstance(item, Mapping) and "Filter" in item else None
            for event in need(item, "Events", list, operation=op):
                entry: dict[str, Any] = {"Event": event, field: destination}
                if rules is not None:
                    entry["Filter"] = {"S3Key": {"Rules": rules}}
                items.append(entry)
        if items:
            found[cfn_key] = items
    return found or None


_FILTER_KEYS = {"Tag": "TagFilter", "Tags": "TagFilters"}


def _filter(value: Any) -> Any:
    """A replication rule's API filter (Prefix, Tag, And{Prefix, Tags}) in CloudFormation's names."""
    if isinstance(value, Mapping):
        return {_FILTER_KEYS.get(k, k): _filter(v) for k, v in value.items()}
    return value


def _bucket_destination(destination: Mapping[str, Any], op: str) -> dict[str, Any]:
    """An inventory's S3BucketDestination in CloudFormation's Destination shape."""
    s3 = need(need(destination, "S3BucketDestination", Mapping, operation=op), "Bucket", str, operation=op)
    found = {"BucketArn": s3, "Format": destination["S3BucketDestination"].get("Format")}
    for api_key, cfn_key in (("AccountId", "BucketAccountId"), ("Prefix", "Prefix")):
        if api_key in destination["S3BucketDestination"]:
            found[cfn_key] = destination["S3BucketDestination"][api_key]
    return {k: v for k, v in found.items() if v is not None}


def _listed(fn: Any, op: str, key: str, bucket: str) -> list[Mapping[str, Any]]:
    """Every configuration of a ListBucket*Configurations answer (paged by continuation token)."""
    items: list[Mapping[str, Any]] = []
    token: str | None = None
    seen: set[str] = set()
    while True:
        answer = ask(op, fn, "NoSuchBucket", Bucket=bucket, **({"ContinuationToken": token} if token else {}))
        items += [i for i in need(answer, key, list, operation=op) if isinstance(i, Mapping)] if key in answer else []
        if not answer.get("IsTruncated"):
            return items
        token = need(answer, "NextContinuationToken", str, operation=op)
        if token in seen:  # a circle (A, B, A ...) would hold the read forever
            raise MalformedAnswer(f"{op} answered the continuation token {token[:40]!r} a second time")
        seen.add(token)


def _copies(s3: Any, name: str) -> dict[str, Any]:
    """Replication, inventory exports and server access logging, in CloudFormation's shape (None: the answer says
    there is none). Storage-class analytics exports are judged in the template only: they carry aggregate
    statistics, not object keys, and reading them would cost a call per bucket that the emulator cannot answer."""
    props: dict[str, Any] = {}
    op = "GetBucketReplication"
    answer = ask_optional(op, s3.get_bucket_replication, "ReplicationConfigurationNotFoundError", "NoSuchBucket",
                          Bucket=name)
    if answer is None:
        props["ReplicationConfiguration"] = None
    else:
        config = need(answer, "ReplicationConfiguration", Mapping, operation=op)
        rules = []
        for rule in need(config, "Rules", list, operation=op):
            need(rule, "Destination", Mapping, operation=op)
            need(rule, "Status", str, operation=op)
            rules.append({("Id" if k == "ID" else k): (_filter(v) if k == "Filter" else v) for k, v in rule.items()
                          if k != "ExistingObjectReplication"})  # not a CloudFormation property
        props["ReplicationConfiguration"] = {**({"Role": config["Role"]} if "Role" in config else {}),
                                             "Rules": rules}
    op = "ListBucketInventoryConfigurations"
    inventories = []
    for item in _listed(s3.list_bucket_inventory_configurations, op, "InventoryConfigurationList", name):
        entry = {"Id": need(item, "Id", str, operation=op), "Enabled": need(item, "IsEnabled", bool, operation=op),
                 "Destination": _bucket_destination(need(item, "Destination", Mapping, operation=op), op)}
        for api_key, cfn_key in (("IncludedObjectVersions", "IncludedObjectVersions"),
                                 ("OptionalFields", "OptionalFields")):
            if api_key in item:
                entry[cfn_key] = item[api_key]
        if isinstance(item.get("Schedule"), Mapping) and "Frequency" in item["Schedule"]:
            entry["ScheduleFrequency"] = item["Schedule"]["Frequency"]
        if isinstance(item.get("Filter"), Mapping) and "Prefix" in item["Filter"]:
            entry["Prefix"] = item["Filter"]["Prefix"]
        inventories.append(entry)
    props["InventoryConfigurations"] = inventories or None
    op = "GetBucketLogging"
    logging = ask(op, s3.get_bucket_logging, "NoSuchBucket", Bucket=name).get("LoggingEnabled")
    props["LoggingConfiguration"] = None if logging is None else {
        "DestinationBucketName": need(logging, "TargetBucket", str, operation=op),
        **({"LogFilePrefix": logging["TargetPrefix"]} if logging.get("TargetPrefix") else {})}
    return props


# GetBucketLocation's LocationConstraint for the regions that predate it (S3 answers none for us-east-1).
_LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}


def _destination_regions(ctx: ReadContext, props: Mapping[str, Any]) -> dict[str, str | None]:
    """The region of every bucket a path of this bucket copies to that the stack does not declare, asked as this
    account's bucket (ExpectedBucketOwner): a bucket's name and ARN carry neither. Refused (another owner, or no
    such bucket): None, and the rule fails it as unproven."""
    declared = {d.physical_id for d in ctx.scope.of_type("AWS::S3::Bucket") if d.physical_id}
    account = ctx.resolve({"Ref": "AWS::AccountId"})
    wanted = {b.removeprefix("arn:aws:s3:::") for _, b, _, _ in stk_res.bucket_destinations(props)
              if isinstance(b, str)}
    s3 = ctx.aws.client("s3")

    def locate(bucket: str) -> str | None:
        try:
            answer = ask("GetBucketLocation", s3.get_bucket_location, Bucket=bucket, ExpectedBucketOwner=account)
        except botocore.exceptions.ClientError as exc:
            # Refused as its owner (403 AccessDenied), or no such bucket (404): not provably this account's. The
            # same codes in a document sent with another status are no answer (S3 sends these with these).
            code = (exc.response.get("Error", {}).get("Code"), exc.response.get("ResponseMetadata", {}).get(
                "HTTPStatusCode"))
            if code in (("AccessDenied", 403), ("NoSuchBucket", 404)):
                return None
            raise
        except ElementTree.ParseError:  # botocore parses this one answer itself, outside its model
            raise MalformedAnswer("GetBucketLocation answered with a document that is not XML") from None
        location = answer.get("LocationConstraint")
        if location is not None and not isinstance(location, str):
            raise MalformedAnswer(f"GetBucketLocation answered LocationConstraint as {type(location).__name__}")
        return _LEGACY_LOCATIONS.get(location, location)

    return {bucket: ctx.once("GetBucketLocation", bucket, functools.partial(locate, bucket))
            for bucket in sorted(wanted - declared) if _BUCKET_NAME.fullmatch(bucket)}


_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@reader("AWS::S3::BucketPolicy", (Call("s3:GetBucketPolicy", BUCKET),), "Bucket PolicyDocument")
def bucket_policy(ctx: ReadContext, r: Present) -> dict[str, Any]:
    name = ctx.resolve(r.properties.get("Bucket"))
    answer = ask("GetBucketPolicy", ctx.aws.client("s3").get_bucket_policy, "NoSuchBucket", "NoSuchBucketPolicy",
                 Bucket=name)
    return {"Bucket": name, "PolicyDocument": json_value(need(answer, "Policy", str, operation="GetBucketPolicy"),
                                                         "GetBucketPolicy", "Policy")}
