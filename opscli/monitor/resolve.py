"""From a change to what must be read again: the stack's resources a CloudTrail record names, and their relations.

A record names a resource when one of its values (its request parameters, else its response elements, and the
documents inside them, such as a policy) is the resource's physical id, a GetAtt value CloudFormation derives
from it (an ARN, a URL), or the name at the end of one of those: `keyId` 1234abcd-... is the key, `groupId`
sg-... the group, `queueUrl` .../intake-queue-dev the queue. Matching by value, not by parameter name, needs no
table of parameters per operation; a value that happens to equal a name only costs a read.

The relations read with it, so that every rule that judges it sees what it judges with (`plan`):
- what refers to it in the template within its service (its children): the group and its ingress rules, the
  API and its stages and deployment, the key and its alias, the bucket and its policy;
- for each whole-stack rule that judges it, every declared resource of the types the rule reads; and for each
  whole-stack rule that reads its type, the resources that rule judges (their verdict depends on it);
- the project CMK's alias, always: the rules name the project CMK and the environment through it.
Only findings about what the change may have changed are sent: the named resources, their children, and what a
rule reading them judges; what was read for context alone keeps its findings as they were.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opscli.livestack import derived_attributes
from opscli.monitor.messages import Change
from opscli.stack import StackScope
from platform_spec.intrinsics import references
from platform_spec.registry import STACK_RULES_BY_ID

ALIAS_TYPE = "AWS::KMS::Alias"
MIN_FORM = 3  # a part of an id shorter than this names nothing; a whole id always counts
MAX_DEPTH = 12  # how deep a record's values are searched (documents inside strings included)


def service_of(resource_type: str) -> str:
    """'AWS::EC2::SecurityGroup' -> 'AWS::EC2'."""
    return "::".join(resource_type.split("::")[:2])


def _name_like(part: str) -> bool:
    """Whether a part of an id can name something by itself: a letter and a digit or separator in it, so a
    route's destination (0.0.0.0/0), a port or a scope word (REGIONAL) does not."""
    return len(part) >= MIN_FORM and any(c.isalpha() for c in part) and \
        any(c.isdigit() or c in "-_." for c in part)


def forms(text: str) -> set[str]:
    """The ways a record may write one id: whole; each part of a composite id (name|id|scope); the resource part
    of an ARN, its first and last segments; the last segment of a path or URL."""
    found = set()
    for part in text.split("|"):
        found.add(part)
        if part.startswith("arn:") and part.count(":") >= 5:
            resource = part.split(":", 5)[5]
            found.add(resource)
            found.add(resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1])
            found.add(resource.split("/", 1)[0])  # an S3 object's bucket (bucket/key)
        if "/" in part.rstrip("/"):
            found.add(part.rstrip("/").rsplit("/", 1)[-1])
    return {text} | {form for form in found if _name_like(form)}


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
    """One scope, indexed for changes: names to logical ids, children, types, and what each whole-stack rule
    judges in the declaration."""

    scope: StackScope
    names: Mapping[str, frozenset[str]]
    children: Mapping[str, frozenset[str]]  # what refers to a resource within its service
    by_type: Mapping[str, frozenset[str]]
    judged_by: Mapping[str, frozenset[str]]

    def type_of(self, logical_id: str) -> str:
        return self.scope.by_logical_id()[logical_id].type

    def of_types(self, types: Iterable[str]) -> set[str]:
        return {lid for rtype in types for lid in self.by_type.get(rtype, ())}


def index(scope: StackScope, *, region: str, account: str) -> Index:
    names: dict[str, set[str]] = {}
    for declared in scope.resources:
        if not declared.physical_id:
            continue
        ids = {declared.physical_id, *(v for v in derived_attributes(declared, region, account).values()
                                       if isinstance(v, str) and v)}
        for name in ids:
            for form in forms(name):
                names.setdefault(form, set()).add(declared.logical_id)
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
    return Index(scope, {k: frozenset(v) for k, v in names.items()},
                 {k: frozenset(v) for k, v in children.items()}, {k: frozenset(v) for k, v in by_type.items()},
                 judged_by)


def named(idx: Index, change: Change) -> set[str]:
    """The logical ids of the stack's resources the change's request names; where it names none (a call that
    creates what it changes), those its response names. A response also describes what the call did not change
    (UpdateService answers the whole service: its subnets, groups, roles), which is not read again for it."""
    return _named_in(idx, change.request) or _named_in(idx, change.response)


def _named_in(idx: Index, value: Any) -> set[str]:
    found: set[str] = set()
    for text in values(value):
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
    return Plan(frozenset(read | set(idx.by_type.get(ALIAS_TYPE, ()))), frozenset(judged))


def complete_for(idx: Index, rule_id: str, read: set[str]) -> bool:
    """Whether `read` holds every declared resource a whole-stack rule reads: only then is its verdict a verdict."""
    rule = STACK_RULES_BY_ID.get(rule_id)
    return rule is None or idx.of_types(rule.reads) <= read
