"""A rule's halves, each registered by the rule module of its id family (platform_spec/rules/stk_<family>*.py):
the per-resource rule (`resource_rule`, `plain_rule`: its id, the CloudFormation types it judges and its predicate
over one resource's properties), the whole-stack rule (`stack_rule`), the account rule (`account_rule`) and the
live-only half (`live_rule`). platform_spec.registry finds every rule module of platform_spec.rules (stk_*.py),
imports it and reads its rules back. The cdk-nag pack, the Checkov checks and the template engine (synthesized
templates and live pictures alike) adapt the same objects."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from platform_spec.context import Context
from platform_spec.path import Path
from platform_spec.result import Result

Predicate = Callable[[str, Mapping[str, Any], Context], Result]
Plain = Callable[[str, Mapping[str, Any]], Result]


@dataclass(frozen=True)
class ResourceRule:
    rule_id: str
    resource_types: frozenset[str]
    predicate: Predicate
    module: str = field(default="", compare=False)  # the rule module that registered it: the rule's home

    def applies_to(self, resource_type: str) -> bool:
        return resource_type in self.resource_types

    def evaluate(self, resource_type: str, properties: Mapping[str, Any] | None, context: Context) -> Result:
        if not self.applies_to(resource_type):
            return Result.na()
        return self.predicate(resource_type, properties or {}, context)


REGISTERED: list[ResourceRule] = []


def _registrant() -> str:
    """The module whose code called the registration function (the caller's caller here): the rule's home, where
    the registration is made, whichever module the function it registers is written in."""
    frame = inspect.currentframe()
    for _ in range(2):
        frame = frame.f_back if frame else None
    return str(frame.f_globals.get("__name__", "")) if frame else ""


def _register(rule_id: str, resource_types: Iterable[str], predicate: Predicate, module: str) -> ResourceRule:
    if any(rule.rule_id == rule_id for rule in REGISTERED):
        raise ValueError(f"rule {rule_id} is registered twice")
    rule = ResourceRule(rule_id, frozenset(resource_types), predicate, module)
    REGISTERED.append(rule)
    return rule


def resource_rule(rule_id: str, resource_types: Iterable[str], predicate: Predicate) -> ResourceRule:
    """Register a rule whose predicate reads the context (suffix, project CMK, expected tags)."""
    return _register(rule_id, resource_types, predicate, _registrant())


def plain_rule(rule_id: str, resource_types: Iterable[str], check: Plain) -> ResourceRule:
    """Register a rule whose predicate reads the resource alone."""
    return _register(rule_id, resource_types, lambda resource_type, properties, _context:
                     check(resource_type, properties), _registrant())


# A whole-stack rule: judges resources in relation to others in one template (a declaration or a live picture).
StackCheck = Callable[[Mapping[str, Any]], Iterable[tuple[str, Result]]]


@dataclass(frozen=True)
class StackRule:
    rule_id: str
    # Every resource type the rule reads: a live picture that could not read one of them cannot support a verdict.
    reads: frozenset[str]
    check: StackCheck  # resources (logical id -> resource) -> (logical id judged, result)
    # The template engine runs this instead of the per-resource rule of the same id (which sees one resource and
    # so must accept less, e.g. any key of the template where this one knows the exact project key).
    replaces_resource_rule: bool = False
    module: str = field(default="", compare=False)  # the rule module that registered it: the rule's home


STACK_RULES: list[StackRule] = []


def stack_rule(rule_id: str, reads: Iterable[str], check: StackCheck, *,
               replaces_resource_rule: bool = False) -> StackRule:
    """Register a whole-stack rule (run by the template engine at the template and live stages)."""
    if any(rule.rule_id == rule_id for rule in STACK_RULES):
        raise ValueError(f"stack rule {rule_id} is registered twice")
    rule = StackRule(rule_id, frozenset(reads), check, replaces_resource_rule, _registrant())
    STACK_RULES.append(rule)
    return rule


@dataclass(frozen=True)
class AccountFacts:
    """What the account holds beyond the stack, as plain data: its id and region, the attributes Fn::GetAtt gives
    for the stack's resources (logical id -> {"Arn": ..., "DbiResourceId": ...}), and its IAM as
    GetAccountAuthorizationDetails answers it (every page's lists joined; each managed policy's default version
    document by ARN, None where the answer did not hold it)."""

    account: str
    region: str
    attributes: Mapping[str, Mapping[str, Any]]
    users: tuple[Mapping[str, Any], ...] = ()
    groups: tuple[Mapping[str, Any], ...] = ()
    roles: tuple[Mapping[str, Any], ...] = ()
    policies: Mapping[str, Any] = field(default_factory=dict)


# An account rule: judges the stack's resources against what the account holds beyond the stack (its IAM), read live
# only: a template cannot see the account. `check(resources, account facts)` yields (subject, Result): the subject is
# the logical id of a resource the stack declares, or the ARN of something outside the stack (an identity).
AccountCheck = Callable[[Mapping[str, Any], Any], Iterable[tuple[str, Result]]]


@dataclass(frozen=True)
class AccountRule:
    rule_id: str
    reads: frozenset[str]  # the declared types it reads: a picture that could not read one cannot support a verdict
    check: AccountCheck
    module: str = field(default="", compare=False)  # the rule module that registered it: the rule's home
    # The declared types whose resources its findings name (the subjects; a subset of `reads`): empty means `reads`
    judges: frozenset[str] = frozenset()

    @property
    def subjects(self) -> frozenset[str]:
        return self.judges or self.reads


ACCOUNT_RULES: list[AccountRule] = []


def account_rule(rule_id: str, reads: Iterable[str], check: AccountCheck, *,
                 judges: Iterable[str] = ()) -> AccountRule:
    """Register an account rule (run by opscli's audit over the live picture and the account's IAM); `judges`: the
    types of the declared resources its findings name, where fewer than those it reads."""
    if any(rule.rule_id == rule_id for rule in ACCOUNT_RULES):
        raise ValueError(f"account rule {rule_id} is registered twice")
    if not frozenset(judges) <= frozenset(reads):
        raise ValueError(f"account rule {rule_id} judges types it does not read")
    rule = AccountRule(rule_id, frozenset(reads), check, _registrant(), frozenset(judges))
    ACCOUNT_RULES.append(rule)
    return rule


# A live-only half: facts no template holds (a key's state, the AZs Redis members landed in, tasks actually running,
# a parameter group actually applied, a mount target actually available, what grew next to the declaration).
# Its predicate judges a resource in its CloudFormation property shape plus the live facts its reader adds (`facts`:
# plain values from the describe answers). The live readers guarantee the facts a predicate names are present (an
# answer without them is ERROR, "could not look"), so a missing fact there is a bug, not a verdict: it raises KeyError.
LivePredicate = Callable[[Mapping[str, Any], Mapping[str, Any]], Result]  # (properties, facts) -> Result
LivePaths = Callable[[Mapping[str, Any], Mapping[str, Any]], list[Path]]  # (properties, facts) -> paths


@dataclass(frozen=True)
class LiveOnlyRule:
    rule_id: str  # the catalog rule whose live half this is
    check_id: str
    resource_type: str
    facts: tuple[str, ...]  # the facts the reader must supply
    predicate: LivePredicate
    # A perimeter or residency half: the paths in or out it judges, from the same facts (platform_spec.path)
    paths: LivePaths | None = None
    module: str = field(default="", compare=False)  # the rule module that registered it: the rule's home


LIVE_RULES: list[LiveOnlyRule] = []


def live_rule(rule_id: str, check_id: str, resource_type: str, facts: Iterable[str], predicate: LivePredicate, *,
              paths: LivePaths | None = None) -> LiveOnlyRule:
    """Register a live-only half (run by opscli's audit on each read resource of `resource_type`, with the facts
    its reader adds); one per (check id, type)."""
    if any((rule.check_id, rule.resource_type) == (check_id, resource_type) for rule in LIVE_RULES):
        raise ValueError(f"live check {check_id} on {resource_type} is registered twice")
    rule = LiveOnlyRule(rule_id, check_id, resource_type, tuple(facts), predicate, paths, _registrant())
    LIVE_RULES.append(rule)
    return rule
