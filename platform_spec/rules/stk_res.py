"""STK-RES-001..004: the stack's data stays in ap-northeast-1 and in the stack's account, on every path AWS copies
it by, not only where the resources are created.

Each declared resource of these types is judged on every destination AWS delivers its data to:
- STK-RES-001, an S3 bucket: its replication rules, inventory and analytics exports, server access logs, and
  event notifications (queues, topics, functions); analytics exports (aggregate statistics, no object keys) are
  judged where a template declares them, the live reader does not read them;
- STK-RES-002, CloudWatch Logs: subscription filters (a template's AWS::Logs::SubscriptionFilter; live, every
  filter on a declared log group, judged by the live half below);
- STK-RES-003, an EventBridge rule: its targets and their dead-letter queues;
- STK-RES-004, an SNS topic: its subscriptions (inline, AWS::SNS::Subscription, and live every subscription).

A destination passes when it is a resource the stack declares (a Ref or Fn::GetAtt; the live picture names a
declared resource's physical id or ARN that way too), an export of this account and region (Fn::ImportValue reads
no other), or when its ARN shows ap-northeast-1 and this stack's account. Everything else fails, with what makes
it so: another region, another account, or a place that cannot be proven. A bucket's name and ARN carry neither
region nor account: at the template stage only a declared bucket proves where the copies go; live, the reader
asks GetBucketLocation as this account's bucket (ExpectedBucketOwner) and the answer, or its refusal, comes in
through Context.bucket_regions. An HTTP(S), email, SMS or mobile-push subscription delivers outside AWS, where no
region is kept: it fails whether or not the stack declares it (an alarm e-mail is a deviation to accept, with
its reason, not a path to wave through). Disabled replication rules and disabled inventory exports copy nothing
and are not judged; enabling one is a change the audit then sees.

A Ref is taken as a declared resource (a resource predicate cannot tell a parameter from a resource: the live
stage judges the value a parameter gave)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, as_list, is_true, ref_target
from platform_spec.path import OUT, Path
from platform_spec.result import Result
from platform_spec.rule import live_rule, resource_rule
from platform_spec.stacks import ALLOWED_REGION

BUCKET_ID = "STK-RES-001"
LOGS_ID = "STK-RES-002"
EVENTS_ID = "STK-RES-003"
TOPIC_ID = "STK-RES-004"

BUCKET = "AWS::S3::Bucket"
LOG_GROUP = "AWS::Logs::LogGroup"
SUBSCRIPTION_FILTER = "AWS::Logs::SubscriptionFilter"
RULE = "AWS::Events::Rule"
TOPIC = "AWS::SNS::Topic"
SUBSCRIPTION = "AWS::SNS::Subscription"

# SNS protocols whose endpoint is an AWS resource (its ARN says where it is); every other protocol delivers outside
# AWS: http, https, email, email-json, sms, application (a phone or browser through its push service).
ARN_PROTOCOLS = ("sqs", "lambda", "firehose")

# Markers for the stack's own region and account and for any other intrinsic, in rendered text (no colon: an ARN
# is read by splitting on colons).
_REGION = "<AWS.Region>"
_ACCOUNT = "<AWS.AccountId>"
_UNKNOWN = "<token>"
_PSEUDO = {"AWS::Region": _REGION, "AWS::AccountId": _ACCOUNT, "AWS::Partition": "aws",
           "AWS::URLSuffix": "amazonaws.com"}


def _text(value: Any) -> str | None:
    """A string value with intrinsics rendered: the stack's region and account as their markers, every other
    intrinsic as _UNKNOWN; None if it is not string-like."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping) or len(value) != 1:
        return None
    if isinstance(value.get("Ref"), str):
        return _PSEUDO.get(value["Ref"], _UNKNOWN)
    join = value.get("Fn::Join")
    if isinstance(join, list) and len(join) == 2 and isinstance(join[0], str) and isinstance(join[1], list):
        parts = [_text(part) for part in join[1]]
        return join[0].join(_UNKNOWN if part is None else part for part in parts)
    sub = value.get("Fn::Sub")
    if isinstance(sub, list) and sub and isinstance(sub[0], str):
        sub = sub[0]  # the variables a list form defines are unknown here, like any other name
    if isinstance(sub, str):
        return re.sub(r"\$\{([^}!]+)\}", lambda m: _PSEUDO.get(m.group(1), _UNKNOWN), sub)
    return _UNKNOWN


def _shown(value: Any) -> str:
    target = ref_target(value)
    if target is not None:
        return f"the stack's {target}"
    text = _text(value)
    return text if text is not None else "an unreadable value"


def _account_problem(account_field: str, account: str | None) -> str | None:
    if account_field == _ACCOUNT or (account is not None and account_field == account):
        return None
    if not account_field:
        return "it names no account"
    if _UNKNOWN in account_field:
        return "its account is not known here"
    if account is None:
        return f"in account {account_field}, which this template cannot show is its own (its own is AWS::AccountId)"
    return f"in account {account_field}, not this stack's {account}"


def arn_problems(value: Any, account: str | None) -> list[str]:
    """Why a destination given as an ARN (or an intrinsic making one) is not provably in ap-northeast-1 and in
    this stack's account; [] when it is, or when it is a resource the stack declares."""
    if isinstance(value, Mapping) and "Fn::If" in value:
        branches = as_list(value["Fn::If"])[1:3]
        return [p for branch in branches if branch != {"Ref": "AWS::NoValue"} for p in arn_problems(branch, account)]
    if ref_target(value) is not None or (isinstance(value, Mapping) and "Fn::ImportValue" in value):
        return []  # a declared resource, or an export of this account and region
    text = _text(value)
    if text is None:
        return ["not an ARN: where it delivers cannot be read"]
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return ["not an ARN: where it delivers cannot be proven"]
    service, region, owner, resource = parts[2], parts[3], parts[4], parts[5]
    problems = []
    if service == "events" and resource.startswith("api-destination/"):
        problems.append("an API destination: it delivers to an HTTP endpoint outside AWS")
    if region != _REGION and region != ALLOWED_REGION:
        problems.append("it names no region" if not region else "its region is not known here"
                        if _UNKNOWN in region else f"in {region}, not {ALLOWED_REGION}")
    account_problem = _account_problem(owner, account)
    if account_problem:
        problems.append(account_problem)
    return problems


def target_leaves(target: Any, account: str | None) -> bool:
    """Whether a live EventBridge target (or its dead-letter queue) delivers outside ap-northeast-1 or this account:
    the residency rule reports it, naming where, and STK-STACK-002 leaves such a child to it (one finding, not
    two)."""
    target = as_dict(target)
    arns = (target.get("Arn"), as_dict(target.get("DeadLetterConfig")).get("Arn"))
    return any(isinstance(arn, str) and bool(arn_problems(arn, account)) for arn in arns)


def subscription_problems(protocol: Any, endpoint: Any, account: str | None) -> list[str]:
    """Why an SNS subscription delivers outside ap-northeast-1 or this account; [] when it does not."""
    kind = _text(protocol)
    if kind in ARN_PROTOCOLS:
        return arn_problems(endpoint, account)
    if kind is None or _UNKNOWN in kind:
        return ["its protocol is not known here"]
    return [f"{kind} delivery leaves AWS, where no region is kept"]


def subscription_leaves(protocol: Any, endpoint: Any, account: str | None) -> bool:
    """Whether a live SNS subscription delivers outside ap-northeast-1 or this account (as target_leaves)."""
    return isinstance(protocol, str) and isinstance(endpoint, str) and \
        bool(subscription_problems(protocol, endpoint, account))


# --- S3 ---------------------------------------------------------------------------------------------------------

def _bucket_name(value: Any) -> str | None:
    text = _text(value)
    if text is None or _UNKNOWN in text or _REGION in text or _ACCOUNT in text:
        return None
    return text.removeprefix("arn:aws:s3:::")


def bucket_problems(value: Any, owner: Any, account: str | None, regions: Mapping[str, str | None]) -> list[str]:
    """Why a destination bucket (an ARN or a name; `owner` the account the configuration names for it, if any)
    is not provably in ap-northeast-1 and this stack's account. `regions`: where the live read found undeclared
    buckets this account owns (None: asked as their owner, refused)."""
    problems = []
    owner_text = _text(owner) if owner is not None else None
    if owner_text is not None and _UNKNOWN in owner_text:
        problems.append("its owner account is not known here")
    elif owner_text:
        problem = _account_problem(owner_text, account)
        if problem:
            problems.append(f"owned by {problem.removeprefix('in ')}")
    if ref_target(value) is not None:
        return problems
    name = _bucket_name(value)
    if name is None:
        return [*problems, "a bucket the stack does not declare, whose name is not known here"]
    if name not in regions:
        return [*problems, "a bucket the stack does not declare: a bucket's name says neither its region nor its "
                           "account (reference the declared bucket, or the live audit looks it up)"]
    region = regions[name]
    if region is None:
        return [*problems, "a bucket the stack does not declare, and GetBucketLocation as this account's bucket was "
                           "refused: another account's bucket, or none at all"]
    if region != ALLOWED_REGION:
        problems.append(f"in {region}, not {ALLOWED_REGION}")
    return problems


def bucket_destinations(properties: Mapping[str, Any]) -> Iterator[tuple[str, Any, Any, tuple[str, Any]]]:
    """(what, bucket, owner account or None, how a fix names it) for every bucket an enabled path of this bucket
    copies data to: the last is (evidence key, id): ("replication", None), ("inventories", its Id),
    ("analytics", its Id) or ("logging", None)."""
    replication = as_dict(properties.get("ReplicationConfiguration"))
    for rule in as_list(replication.get("Rules")):
        rule = as_dict(rule)
        if rule.get("Status") == "Disabled":
            continue
        destination = as_dict(rule.get("Destination"))
        translated = as_dict(destination.get("AccessControlTranslation")).get("Owner") == "Destination"
        what = f"replication rule {rule.get('Id', '(no id)')}" + (" (ownership handed to the destination's account)"
                                                                  if translated else "")
        yield what, destination.get("Bucket"), destination.get("Account"), ("replication", None)
    for inventory in as_list(properties.get("InventoryConfigurations")):
        inventory = as_dict(inventory)
        if inventory.get("Enabled") is not None and not is_true(inventory.get("Enabled")):
            continue
        destination = as_dict(inventory.get("Destination"))
        yield f"inventory {inventory.get('Id', '(no id)')}", destination.get("BucketArn"), \
            destination.get("BucketAccountId"), ("inventories", inventory.get("Id"))
    for analytics in as_list(properties.get("AnalyticsConfigurations")):
        analytics = as_dict(analytics)
        export = as_dict(as_dict(analytics.get("StorageClassAnalysis")).get("DataExport"))
        if export:
            destination = as_dict(export.get("Destination"))
            yield f"analytics export {analytics.get('Id', '(no id)')}", destination.get("BucketArn"), \
                destination.get("BucketAccountId"), ("analytics", analytics.get("Id"))
    logging = as_dict(properties.get("LoggingConfiguration"))
    if logging.get("DestinationBucketName") is not None:
        yield "server access logs", logging["DestinationBucketName"], None, ("logging", None)


NOTIFICATIONS = (("QueueConfigurations", "Queue", "queue"), ("TopicConfigurations", "Topic", "topic"),
                 ("LambdaConfigurations", "Function", "function"))


def _kind(value: Any) -> str:
    return "stack" if ref_target(value) is not None else "resource"


def _crossings(found: list[tuple[Path, str]]) -> list[str]:
    """The finding's words for each path that is outside."""
    return [said for path, said in found if path.outside]


def _bucket(properties: Mapping[str, Any], account: str | None,
            regions: Mapping[str, str | None]) -> list[tuple[Path, str]]:
    found = []
    for what, bucket, owner, _fix in bucket_destinations(properties):
        problems = bucket_problems(bucket, owner, account, regions)
        path = Path(OUT, BUCKET_ID, _shown(bucket), what, bool(problems),
                    kind="stack" if ref_target(bucket) is not None else "bucket", why=tuple(problems))
        found.append((path, f"{what} -> {path.other}: {'; '.join(problems)}"))
    notification = as_dict(properties.get("NotificationConfiguration"))
    for key, field, what in NOTIFICATIONS:
        for item in as_list(notification.get(key)):
            destination = as_dict(item).get(field)
            problems = arn_problems(destination, account)
            path = Path(OUT, BUCKET_ID, _shown(destination), f"notification to {what}", bool(problems),
                        kind=_kind(destination), why=tuple(problems))
            found.append((path, f"{path.via} {path.other}: {'; '.join(problems)}"))
    return found


def check_bucket(properties: Mapping[str, Any], account: str | None,
                 regions: Mapping[str, str | None]) -> Result:
    found = _bucket(properties, account, regions)
    evidence: dict[str, Any] = {}
    for _, bucket, owner, (key, named) in bucket_destinations(properties):
        if bucket_problems(bucket, owner, account, regions):
            if named is None:
                evidence[key] = True
            elif isinstance(named, str):
                evidence.setdefault(key, []).append(named)
    return _verdict(_crossings(found), len(found), "copy or notification path", evidence)


# --- CloudWatch Logs, EventBridge, SNS ---------------------------------------------------------------------------

def _subscription_filter(properties: Mapping[str, Any], account: str | None) -> tuple[Path, str]:
    destination = properties.get("DestinationArn")
    problems = arn_problems(destination, account)
    path = Path(OUT, LOGS_ID, _shown(destination), f"subscription filter of {_shown(properties.get('LogGroupName'))}",
                bool(problems), kind=_kind(destination), why=tuple(problems))
    return path, f"{path.via} -> {path.other}: {'; '.join(problems)}"


def check_subscription_filter(properties: Mapping[str, Any], account: str | None) -> Result:
    path, said = _subscription_filter(properties, account)
    if path.outside:
        return Result.fail(said)
    return Result.ok(f"delivers to {path.other}, in {ALLOWED_REGION} and this account")


def _log_group(facts: Mapping[str, Any]) -> list[tuple[Path, str]]:
    parts = str(facts["Arn"]).split(":")
    account = parts[4] if len(parts) > 4 and parts[4] else None
    found = []
    for item in facts["SubscriptionFilters"]:
        problems = arn_problems(item["DestinationArn"], account)
        path = Path(OUT, LOGS_ID, str(item["DestinationArn"]), f"subscription filter {item['FilterName']}",
                    bool(problems), kind="resource", why=tuple(problems))
        found.append((path, f"{path.via} -> {path.other}: {'; '.join(problems)}"))
    return found


def log_group_paths(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> list[Path]:
    """Live half: where every subscription filter on the declared log group delivers."""
    return [path for path, _said in _log_group(facts)]


def log_group_subscriptions(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-RES-002 (live half): every subscription filter on the declared log group delivers within
    ap-northeast-1 and the log group's own account (read from its ARN: the stack's). Facts: Arn,
    SubscriptionFilters ([{FilterName, DestinationArn}])."""
    filters = [str(item["FilterName"])
               for (path, _), item in zip(_log_group(facts), facts["SubscriptionFilters"], strict=True)
               if path.outside]
    return _verdict(_crossings(_log_group(facts)), len(facts["SubscriptionFilters"]), "subscription filter",
                    {"filters": filters})


def _rule(properties: Mapping[str, Any], account: str | None) -> list[tuple[Path, str]]:
    found = []
    for target in as_list(properties.get("Targets")):
        target = as_dict(target)
        for what, arn in (("", target.get("Arn")), (" dead-letter queue", as_dict(target.get("DeadLetterConfig"))
                                                    .get("Arn"))):
            if arn is None and what:
                continue
            problems = arn_problems(arn, account)
            path = Path(OUT, EVENTS_ID, _shown(arn), f"target {_shown(target.get('Id'))}{what}", bool(problems),
                        kind=_kind(arn), why=tuple(problems))
            found.append((path, f"{path.via} -> {path.other}: {'; '.join(problems)}"))
    return found


def check_rule(properties: Mapping[str, Any], account: str | None) -> Result:
    targets = list(dict.fromkeys(
        str(as_dict(target).get("Id")) for target in as_list(properties.get("Targets"))
        if isinstance(as_dict(target).get("Id"), str) and any(path.outside for path, _ in _rule({"Targets": [target]},
                                                                                                   account))))
    return _verdict(_crossings(_rule(properties, account)), len(as_list(properties.get("Targets"))), "target",
                    {"targets": targets})


def _subscriptions(subscriptions: list[Any], account: str | None) -> list[tuple[Path, str]]:
    found = []
    for subscription in subscriptions:
        subscription = as_dict(subscription)
        protocol, endpoint = subscription.get("Protocol"), subscription.get("Endpoint")
        problems = subscription_problems(protocol, endpoint, account)
        kind = _kind(endpoint) if _text(protocol) in ARN_PROTOCOLS else "endpoint"
        path = Path(OUT, TOPIC_ID, _shown(endpoint), f"{_shown(protocol)} subscription", bool(problems),
                    kind=kind, why=tuple(problems))
        found.append((path, f"subscription {_shown(protocol)}:{_shown(endpoint)}: {'; '.join(problems)}"))
    return found


def check_subscriptions(subscriptions: list[Any], account: str | None) -> Result:
    return _verdict(_crossings(_subscriptions(subscriptions, account)), len(subscriptions), "subscription")


def _topic(resource_type: str, properties: Mapping[str, Any]) -> list[Any]:
    return [properties] if resource_type == SUBSCRIPTION else as_list(properties.get("Subscription"))


def check_topic(resource_type: str, properties: Mapping[str, Any], account: str | None) -> Result:
    return check_subscriptions(_topic(resource_type, properties), account)


def paths(resource_type: str, properties: Mapping[str, Any], account: str | None,
          regions: Mapping[str, str | None]) -> list[Path]:
    """Every destination the declared resource's data is delivered to, judged as its rule judges it (none for a
    type these rules do not judge)."""
    if resource_type == BUCKET:
        found = _bucket(properties, account, regions)
    elif resource_type == SUBSCRIPTION_FILTER:
        found = [_subscription_filter(properties, account)]
    elif resource_type == RULE:
        found = _rule(properties, account)
    elif resource_type in (TOPIC, SUBSCRIPTION):
        found = _subscriptions(_topic(resource_type, properties), account)
    else:
        found = []
    return [path for path, _said in found]


def _verdict(found: list[str], judged: int, kind: str, evidence: Mapping[str, Any] | None = None) -> Result:
    if found:
        return Result.fail(f"{len(found)} of {judged} {kind}s deliver outside {ALLOWED_REGION} or this account: "
                           f"{'; '.join(found[:4])}{' ...' if len(found) > 4 else ''}",
                           **{k: v for k, v in (evidence or {}).items() if v})
    if not judged:
        return Result.ok(f"no {kind}s: nothing is copied elsewhere")
    return Result.ok(f"every {kind} ({judged}) delivers within {ALLOWED_REGION} and this account")


resource_rule(BUCKET_ID, {BUCKET}, lambda t, p, c: check_bucket(p, c.account, dict(c.bucket_regions))
              if t == BUCKET else Result.na())
resource_rule(LOGS_ID, {SUBSCRIPTION_FILTER}, lambda t, p, c: check_subscription_filter(p, c.account)
              if t == SUBSCRIPTION_FILTER else Result.na())
resource_rule(EVENTS_ID, {RULE}, lambda t, p, c: check_rule(p, c.account) if t == RULE else Result.na())
resource_rule(TOPIC_ID, {TOPIC, SUBSCRIPTION}, lambda t, p, c: check_topic(t, p, c.account))
live_rule(LOGS_ID, "logs.subscription_destinations", LOG_GROUP, ("Arn", "SubscriptionFilters"),
          log_group_subscriptions, paths=log_group_paths)
