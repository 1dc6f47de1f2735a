"""From a change to what must be read again: the stack's resources a CloudTrail record names, and their relations.

A record names a resource when one of its values (its request parameters and the ARNs it lists, else its response
elements; the documents inside them, such as a policy, too) identifies it, in one of three ways:
- an ARN: only one of the stack's own, which carries its partition, service, region (where the type's format has
  one) and account, or one inside it (a bucket's objects, a log group's streams, a function's versions): the
  ARN of a same-named resource of another account or region names nothing; each ARN of a composite id (a web ACL
  association's RESOURCE_ARN|WEB_ACL_ARN) names the resource whose id it is part of;
- an SQS queue URL: only where its path's account is ours and its host's region, where the host states one
  (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME), is ours;
- any other value: a physical id, a GetAtt value CloudFormation derives from it, or the name at the end of one of
  those (`keyId` 1234abcd-... is the key, `groupId` sg-... the group, `queueName` intake-queue-dev the queue).
Matching by value, not by parameter name, needs no table of parameters per operation; a value that happens to
equal a name only costs a read. One exception: a call that changes an event bus's policy (BUS_CALLS) names every
rule of the stack on that bus, whose verdicts read that policy; the bus is named by its parameter (absent: the
default bus), since "default" is no name a value could be matched by. And only a resource of a type the event's
service changes is named (a `sqs.amazonaws.com` event never names a bucket, whatever its values hold), and only by
an event of the monitor's own account and region (opscli.monitor.messages.foreign).

The relations read with it, so that every rule that judges it sees what it judges with (`plan`):
- what refers to it in the template within its service (its children): the group and its ingress rules, the
  API and its stages and deployment, the key and its alias, the bucket and its policy;
- for each whole-stack rule that judges it, every declared resource of the types the rule reads; and for each
  whole-stack rule that reads its type, the resources that rule judges (their verdict depends on it);
- the project CMK's alias, always: the rules name the project CMK and the environment through it;
- what a judged resource's declaration takes an attribute of (Fn::GetAtt) that only a read supplies (a load
  balancer's DNSName in a method's integration URI): without it the declared value does not resolve, and drift
  cannot compare the property (it is left unverified, so a change to it would go unreported).
Only findings about what the change may have changed are sent: the named resources, their children, and what a
rule reading them judges; what was read for context alone keeps its findings as they were.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opscli import arns
from opscli.livestack import declared_resolver, derived_attributes
from opscli.monitor.messages import Change, foreign
from opscli.stack import StackScope
from platform_spec.intrinsics import Unresolvable, references
from platform_spec.monitor import event_source
from platform_spec.registry import ACCOUNT_RULES_BY_ID, STACK_RULES_BY_ID

ALIAS_TYPE = "AWS::KMS::Alias"
MIN_FORM = 3  # a part of an id shorter than this names nothing; a whole id always counts
MAX_DEPTH = 12  # how deep a record's values are searched (documents inside strings included)
ARN_SEPARATORS = "/:"  # what follows an ARN inside one that extends it (bucket/key, log-group:NAME:*)
# SQS's queue URL: /ACCOUNT/NAME (a name: up to 80 letters, digits, - and _, a FIFO queue's ending in .fifo).
QUEUE_PATH = re.compile(r"/(?P<account>\d{12})/(?P<name>[A-Za-z0-9_-]{1,80}(?:\.fifo)?)/?")
AWS_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
# SQS's legacy endpoints that name no region: us-east-1's.
US_EAST_1_HOSTS = frozenset({"queue.amazonaws.com", "sqs.amazonaws.com"})
RULE_TYPE = "AWS::Events::Rule"
DEFAULT_BUS = "default"
# EventBridge's calls that change a bus's resource policy (or the bus), and the parameter that names the bus.
BUS_CALLS = {"PutPermission": "eventBusName", "RemovePermission": "eventBusName", "UpdateEventBus": "name"}


def service_of(resource_type: str) -> str:
    """'AWS::EC2::SecurityGroup' -> 'AWS::EC2'."""
    return "::".join(resource_type.split("::")[:2])


def _name_like(part: str) -> bool:
    """Whether a part of an id can name something by itself: a letter and a digit or separator in it, so a
    route's destination (0.0.0.0/0), a port or a scope word (REGIONAL) does not."""
    return len(part) >= MIN_FORM and any(c.isalpha() for c in part) and \
        any(c.isdigit() or c in "-_." for c in part)


def _url(text: str) -> urllib.parse.SplitResult | None:
    try:
        parsed = urllib.parse.urlsplit(text)
        return parsed if parsed.scheme in ("http", "https") and parsed.hostname else None
    except ValueError:  # a malformed host or port
        return None


@dataclass(frozen=True)
class QueueUrl:
    """What an SQS queue URL says: the queue's account and name, and its region where the host states one (None
    for a host that is no AWS endpoint, such as an emulator's; "" for an AWS host that states none we know)."""

    account: str
    name: str
    region: str | None


def queue_url(text: str) -> QueueUrl | None:
    parsed = _url(text)
    match = QUEUE_PATH.fullmatch(parsed.path) if parsed else None
    if parsed is None or match is None or parsed.query or parsed.fragment:
        return None
    host = (parsed.hostname or "").lower()
    region: str | None = None
    if host.endswith(AWS_DOMAINS):
        stated = [label for label in host.split(".") if arns.REGION.fullmatch(label)]
        region = "us-east-1" if host in US_EAST_1_HOSTS else stated[0] if len(stated) == 1 else ""
    return QueueUrl(match["account"], match["name"], region)


def forms(text: str) -> set[str]:
    """The ways a record may write one id that is neither an ARN nor a URL: whole; each part of a composite id
    (name|id|scope); the last segment of a path (alias/NAME, service/CLUSTER/NAME)."""
    found = set()
    for part in text.split("|"):
        found.add(part)
        if "/" in part.rstrip("/") and not part.startswith("arn:") and "://" not in part:
            found.add(part.rstrip("/").rsplit("/", 1)[-1])
    return {text} | {form for form in found if _name_like(form)}


def _own_forms(text: str) -> set[str]:
    """The bare names one of the stack's own ids gives: of an ARN, its resource part and that part's last
    segment; of a URL, the URL and its last segment; else `forms`."""
    parts = arns.split(text)
    if parts is not None:
        last = parts.resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        return {text} | {form for form in (parts.resource, last) if _name_like(form)}
    if "://" in text:
        last = text.rstrip("/").rsplit("/", 1)[-1]
        return {text} | ({last} if _name_like(last) else set())
    return forms(text)


def values(value: Any, depth: int = 0) -> Iterable[str]:
    """Every string inside a record's value, and inside the JSON documents it holds as strings."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, str):
        yield value
        if value[:1] in "{[":
            try:
                document = json.loads(value)
            except (ValueError, RecursionError):
                return
            yield from values(document, depth + 1)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from values(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from values(item, depth + 1)


@dataclass(frozen=True)
class Index:
    """One scope, indexed for changes: names, ARNs and queue URLs to logical ids, children, types, the event
    source of each resource's service, and what each whole-stack rule judges in the declaration; with the
    region and account the stack lives in."""

    scope: StackScope
    names: Mapping[str, frozenset[str]]
    children: Mapping[str, frozenset[str]]  # what refers to a resource within its service
    by_type: Mapping[str, frozenset[str]]
    judged_by: Mapping[str, frozenset[str]]
    region: str
    account: str
    arns: Mapping[str, frozenset[str]]  # the stack's own ARNs
    queues: Mapping[tuple[str, str], frozenset[str]]  # (account, name) of the stack's queue URLs
    sources: Mapping[str, str | None]  # the EventBridge source of the service that changes each resource
    # what each resource's declaration takes an attribute of that the declaration alone does not give
    needs: Mapping[str, frozenset[str]] = field(default_factory=dict)
    buses: Mapping[str, frozenset[str]] = field(default_factory=dict)  # an event bus's name -> the rules on it

    @functools.cached_property
    def arn_lengths(self) -> frozenset[int]:
        return frozenset(len(arn) for arn in self.arns)

    def type_of(self, logical_id: str) -> str:
        return self.scope.by_logical_id()[logical_id].type

    def of_types(self, types: Iterable[str]) -> set[str]:
        return {lid for rtype in types for lid in self.by_type.get(rtype, ())}


def _own_arns(scope: StackScope, *, region: str, account: str) -> dict[str, set[str]]:
    """Logical id -> its ARNs: in the format AWS publishes for its type (opscli.arns, the declared properties
    resolved against the stack), the ARN-valued GetAtt values CloudFormation derives, a physical id that is one."""
    resolver = declared_resolver(scope, region=region, account=account)
    located = arns.stack_arns(scope.resources, resolve=resolver.resolve, attributes={}, region=region,
                              account=account)
    found: dict[str, set[str]] = {}
    for declared in scope.resources:
        ids = {item.arn for item in located.get(declared.logical_id, ())
               if isinstance(arns.ARNS.get(declared.type), arns.Own)}
        ids |= {v for v in derived_attributes(declared, region, account).values() if arns.split(v)}
        if declared.physical_id and arns.split(declared.physical_id):
            ids.add(declared.physical_id)
        # a composite id (a web ACL association's: RESOURCE_ARN|WEB_ACL_ARN) is named by each ARN in it: a call
        # that detaches the ACL names the resource's ARN alone
        parts = (declared.physical_id or "").split("|")
        ids |= {part for part in parts if len(parts) > 1 and arns.split(part)}
        found[declared.logical_id] = ids
    return found


def attributes_taken(value: Any) -> set[tuple[str, str]]:
    """(logical id, attribute) of every Fn::GetAtt in a value, and of every ${X.Attr} of an Fn::Sub."""
    found: set[tuple[str, str]] = set()
    if isinstance(value, list):
        for item in value:
            found |= attributes_taken(item)
    elif isinstance(value, Mapping):
        for key, arg in value.items():
            if key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
                if len(parts) == 2 and all(isinstance(p, str) for p in parts):
                    found.add((parts[0], parts[1]))
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0] if isinstance(arg, list) and arg else ""
                found |= {tuple(m.split(".", 1)) for m in re.findall(r"\$\{([^}!][^}.]*\.[^}]+)\}", str(text))}
                if isinstance(arg, list) and len(arg) > 1:
                    found |= attributes_taken(arg[1])
            else:
                found |= attributes_taken(arg)
    return found


def _needs(scope: StackScope, *, region: str, account: str) -> dict[str, frozenset[str]]:
    """Logical id -> what its declaration takes an attribute of that only reading that resource gives."""
    by_id = scope.by_logical_id()
    derived = {lid: derived_attributes(r, region, account) for lid, r in by_id.items()}
    return {declared.logical_id: frozenset(
        target for target, attribute in attributes_taken(dict(declared.properties))
        if target in by_id and target != declared.logical_id and attribute not in derived[target])
        for declared in scope.resources}


def _bus_name(value: Any, *, region: str, account: str) -> str | None:
    """The name of an event bus given by name or by ARN (only one of this account and region), else None."""
    if not isinstance(value, str) or not value:
        return None
    parts = arns.split(value)
    if parts is None:
        return None if value.startswith("arn:") else value
    if parts.service != "events" or parts.region != region or parts.account != account or \
            not parts.resource.startswith("event-bus/"):
        return None
    return parts.resource.removeprefix("event-bus/")


def _buses(scope: StackScope, *, region: str, account: str) -> dict[str, frozenset[str]]:
    """An event bus's name -> the stack's rules on it (a rule that names no bus is on the default one)."""
    resolver = declared_resolver(scope, region=region, account=account)
    found: dict[str, set[str]] = {}
    for declared in scope.resources:
        if declared.type != RULE_TYPE:
            continue
        try:
            bus = resolver.resolve(declared.properties.get("EventBusName", DEFAULT_BUS))
        except Unresolvable:
            continue
        name = _bus_name(bus, region=region, account=account)
        if name:
            found.setdefault(name, set()).add(declared.logical_id)
    return {name: frozenset(rules) for name, rules in found.items()}


def index(scope: StackScope, *, region: str, account: str) -> Index:
    names: dict[str, set[str]] = {}
    own_arns: dict[str, set[str]] = {}
    queues: dict[tuple[str, str], set[str]] = {}
    for lid, ids in _own_arns(scope, region=region, account=account).items():
        for arn in ids:
            own_arns.setdefault(arn, set()).add(lid)
    for declared in scope.resources:
        if not declared.physical_id:
            continue
        ids = {declared.physical_id, *(v for v in derived_attributes(declared, region, account).values()
                                       if isinstance(v, str) and v)}
        for name in ids:
            for form in _own_forms(name):
                names.setdefault(form, set()).add(declared.logical_id)
            queue = queue_url(name)
            if queue is not None:
                queues.setdefault((queue.account, queue.name), set()).add(declared.logical_id)
    types = {r.logical_id: r.type for r in scope.resources}
    children: dict[str, set[str]] = {lid: set() for lid in types}
    for declared in scope.resources:
        for parent in references(dict(declared.properties)):
            if parent in types and parent != declared.logical_id and \
                    service_of(types[parent]) == service_of(declared.type):
                children[parent].add(declared.logical_id)
    by_type: dict[str, set[str]] = {}
    for lid, rtype in types.items():
        by_type.setdefault(rtype, set()).add(lid)
    declared_resources = scope.template.get("Resources", {}) if isinstance(scope.template, Mapping) else {}
    judged_by = {}
    for rule_id, rule in STACK_RULES_BY_ID.items():
        try:
            judged_by[rule_id] = frozenset(lid for lid, _ in rule.check(declared_resources) if lid in types)
        except Exception:  # noqa: BLE001 - a rule that cannot read the declaration judges every resource it reads
            judged_by[rule_id] = frozenset(lid for lid, rtype in types.items() if rtype in rule.reads)

    def frozen(found: Mapping[Any, set[str]]) -> dict[Any, frozenset[str]]:
        return {k: frozenset(v) for k, v in found.items()}
    return Index(scope, frozen(names), frozen(children), frozen(by_type), judged_by, region, account, frozen(own_arns),
                 frozen(queues), {lid: event_source(rtype) for lid, rtype in types.items()},
                 _needs(scope, region=region, account=account), _buses(scope, region=region, account=account))


def named(idx: Index, change: Change) -> set[str]:
    """The logical ids of the stack's resources the change's request (and the ARNs its record lists) names;
    where it names none (a call that creates what it changes), those its response names. A response also
    describes what the call did not change (UpdateService answers the whole service: its subnets, groups,
    roles), which is not read again for it. Nothing for another account's or region's event, and only
    resources of a type the event's service changes."""
    if foreign(change, region=idx.region, account=idx.account) is not None:
        return set()
    source = f"aws.{change.source.removesuffix('.amazonaws.com')}"
    changeable = {lid for lid, of in idx.sources.items() if of == source}
    return (_named_in(idx, [change.request, list(change.resources)]) & changeable) or \
        (_named_in(idx, change.response) & changeable) or (_rules_on_bus(idx, change) & changeable)


def _rules_on_bus(idx: Index, change: Change) -> set[str]:
    """The stack's rules on the event bus whose policy the change changes (EventBridge's BUS_CALLS)."""
    if change.source != "events.amazonaws.com" or change.name not in BUS_CALLS:
        return set()
    request = change.request if isinstance(change.request, Mapping) else {}
    name = _bus_name(request.get(BUS_CALLS[change.name]) or DEFAULT_BUS, region=idx.region, account=idx.account)
    return set(idx.buses.get(name or "", frozenset()))


def _named_in(idx: Index, value: Any) -> set[str]:
    found: set[str] = set()
    for text in values(value):
        for part in {text, *text.split("|")}:
            found |= _named_by(idx, part)
    return found


def _named_by(idx: Index, text: str) -> set[str]:
    """What one value names: an ARN only as one of ours or inside one; a URL as a queue of ours, or whole; any
    other value by its forms."""
    parts = arns.split(text)
    if parts is not None:
        found = set(idx.arns.get(text, ()))
        for length in idx.arn_lengths:  # one of ours, followed by what extends it
            if length < len(text) and text[length] in ARN_SEPARATORS:
                found |= idx.arns.get(text[:length], frozenset())
        return found
    if text.startswith("arn:"):
        return set()  # not an ARN, and nothing of ours looks like one
    if "://" in text:  # a URL (or a malformed one) is never cut into names
        queue = queue_url(text)
        found = set(idx.names.get(text, ()))
        if queue is not None and queue.account == idx.account and queue.region in (None, idx.region):
            found |= idx.queues.get((queue.account, queue.name), frozenset())
        return found
    found = set()
    for form in forms(text):
        found |= idx.names.get(form, frozenset())
    return found


@dataclass(frozen=True)
class Plan:
    """What a run does for the changes of a batch: the resources it reads again, and those whose findings it
    sends (what the changes may have changed: the named resources, their children, and what a whole-stack rule
    reading one of them judges). The rest is read only so that the rules see what they judge with."""

    read: frozenset[str]
    judged: frozenset[str]
    # Whether the account's IAM is read too: a change to a type an account rule reads (a data store or its policy,
    # a role) re-judges that rule on every data store it judges, with the account's identities beside them.
    account: bool = False


def plan(idx: Index, matched: set[str]) -> Plan:
    near = set(matched)
    for lid in matched:
        near |= idx.children.get(lid, frozenset())
    types = {idx.type_of(lid) for lid in near}
    read, judged = set(near), set(near)
    for rule_id, judged_by_rule in idx.judged_by.items():
        reads = STACK_RULES_BY_ID[rule_id].reads
        if not reads:
            continue
        read_here = bool(reads & types)
        if read_here or judged_by_rule & near:
            read |= idx.of_types(reads)
            if read_here:
                read |= judged_by_rule
                judged |= judged_by_rule
    account = False
    for rule in ACCOUNT_RULES_BY_ID.values():
        if rule.reads & types:  # its verdict on every resource it names may change, with the account's IAM beside
            account = True
            read |= idx.of_types(rule.reads)
            judged |= idx.of_types(rule.subjects)
    for lid in judged:  # so that its declaration resolves: drift compares what it can resolve
        read |= idx.needs.get(lid, frozenset())
    return Plan(frozenset(read | set(idx.by_type.get(ALIAS_TYPE, ()))), frozenset(judged), account)


def complete_for(idx: Index, rule_id: str, read: set[str]) -> bool:
    """Whether `read` holds every declared resource a whole-stack or account rule reads: only then is its verdict a
    verdict."""
    rule = STACK_RULES_BY_ID.get(rule_id) or ACCOUNT_RULES_BY_ID.get(rule_id)
    return rule is None or idx.of_types(rule.reads) <= read
