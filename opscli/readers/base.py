"""Live readers: each turns read-only Describe/Get/List answers about one declared resource into that type's
CloudFormation property shape (what Cloud Control's GetResource returns), so the predicates that judge the
template judge the live resource unchanged, and drift compares like with like.

A reader reads only by id (the physical id, or the declared properties resolved through the stack's ids), so its
cost does not grow with the account. A property a reader does not return is not evidence of anything: each
reader names the properties it reads (`reads`), and everything else a template declares is "not readable"
(listed in coverage, never reported as drift). A property the answer definitely says is not set (AWS leaves
unset optional fields out of some answers, or answers "not found" for a sub-resource) reads as None. Absence of
a field AWS always returns raises MalformedAnswer (the check could not look), never a default.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from opscli.stack import Declared, Present, StackScope
from platform_spec.result import CouldNotLook
from platform_spec.strict_json import KeyTwice, parse

# A reader returns live facts no template holds (key state, running tasks, ...) under this key, for the
# live-only halves (platform_spec.rule.live_rule, registered in their rule modules); they are not properties.
FACTS = "__facts__"


# A reader may return GetAtt values it saw (e.g. an endpoint address) under this key; they are not properties.
ATTRIBUTES = "__attributes__"


# A fact: what AWS keeps under a declared resource that the stack does not declare (a grant on the key, a key of
# the usage plan, a manual snapshot, a route, a subscription, a target, an attached policy, a running revision),
# one line each, judged by STK-STACK-002.
UNDECLARED = "Undeclared"


class MalformedAnswer(CouldNotLook):
    """An answer lacks a field AWS always returns, or has it in the wrong type: the reader could not look."""


class NotFound(Exception):
    """The declared resource is not there."""


def need(mapping: Any, key: str, kind: type | tuple[type, ...] = object, *, operation: str = "the answer") -> Any:
    """mapping[key], which must be present and of `kind`; otherwise MalformedAnswer saying what was missing."""
    if not isinstance(mapping, Mapping) or key not in mapping:
        raise MalformedAnswer(f"{operation} answered without '{key}'")
    value = mapping[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedAnswer(f"{operation} answered '{key}' as {type(value).__name__}")
    return value


def only(items: Any, what: str, operation: str, *, by_id: bool) -> Mapping[str, Any]:
    """The one item of a list answered for one resource. `by_id`: the request named the resource's id in a
    parameter for which AWS answers a not-found error when nothing has that id (DescribeDBInstances'
    DBInstanceIdentifier, DescribeFileSystems' FileSystemId ...), so an empty list is not an answer; otherwise
    (a filter, a listing under a parent, a list narrowed by the reader) an empty list says it is not there."""
    if not isinstance(items, list):
        raise MalformedAnswer(f"{operation} answered without a list of {what}")
    if not items:
        if by_id:
            raise MalformedAnswer(f"{operation} answered an empty list for {what}, asked by its id (AWS answers a "
                                  "not-found error for an id that does not exist)")
        raise NotFound(f"{what} not found")
    if len(items) > 1 or not isinstance(items[0], Mapping):
        raise MalformedAnswer(f"{operation} answered {len(items)} {what}s for one id")
    return items[0]


def spelled(value: str, known: tuple[str, ...], key: str, operation: str) -> str:
    """`value`, refused when it is one of the `known` values AWS documents, in another case: a string the model
    does not enumerate (so the answer check cannot), compared by a reader or a rule with one of those values,
    would otherwise decide a verdict ("inactive" is not "INACTIVE")."""
    if value not in known and value.casefold() in {k.casefold() for k in known}:
        raise MalformedAnswer(f"{operation} answered {key} {value[:40]!r}, which AWS spells otherwise")
    return value


def boolean_text(value: Any, key: str, operation: str) -> bool:
    """A boolean that an answer carries as a string (an attribute's value): exactly "true" or "false"."""
    if value not in ("true", "false"):
        raise MalformedAnswer(f"{operation} answered {key} = {str(value)[:20]!r}, not true or false")
    return value == "true"


def pages(client: Any, method: str, operation: str, **kwargs: Any) -> Iterator[Mapping[str, Any]]:
    """Every page of `method` through botocore's paginator, refusing a page token the pagination has given
    before: botocore stops only on the same token twice in a row, and an endpoint that pages in a circle
    (A, B, A ...) would hold the read forever, or have it read the same items again as new ones."""
    iterator = client.get_paginator(method).paginate(**kwargs)
    seen: set[str] = set()
    for page in iterator:
        yield page
        # botocore's own reading of the page's next token (its output token expressions and more-results flag).
        token = iterator._get_next_token(page)  # noqa: SLF001 - botocore has no public reading of it
        if all(value is None for value in token.values()):
            # A page that says there is more (IAM's IsTruncated) but gives no token to ask for it: botocore ends
            # the pagination there, and what the missing pages hold (a policy on a role) would read as absent.
            more = iterator._more_results  # noqa: SLF001 - as above
            if more is not None and more.search(page):
                raise MalformedAnswer(f"{operation} answered that there are more results, without a page token")
            return
        key = json.dumps(token, sort_keys=True, default=str)
        if key in seen:
            raise MalformedAnswer(f"{operation} answered the page token {key[:60]} a second time in one pagination")
        seen.add(key)


def error_code_in(exc: botocore.exceptions.ClientError, *codes: str) -> bool:
    return exc.response.get("Error", {}).get("Code") in codes


def json_value(value: Any, operation: str, key: str) -> Any:
    """JSON text in an answer (a policy, an event pattern, a redrive policy), read as a policy's text is
    (platform_spec.strict_json): one that names a key twice in one object has no one meaning (json keeps the last
    "Effect" of two, another reader the first), so the reader could not look, as for text that is not JSON."""
    if isinstance(value, (dict, list)):
        return value
    try:
        return parse(urllib.parse.unquote(value) if isinstance(value, str) and value.startswith("%7B") else value)
    except KeyTwice as twice:
        raise MalformedAnswer(f"{operation} answered '{key}' with {twice}") from None
    except (TypeError, ValueError, RecursionError):
        raise MalformedAnswer(f"{operation} answered '{key}' that is not JSON") from None


def tag_list(pairs: Any, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """Tags in CloudFormation's list shape, sorted by key, from a {k: v} map or a list of pairs."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(pairs, Mapping):
        items = pairs.items()
    elif isinstance(pairs, list):
        items = [(p.get(key), p.get(value)) for p in pairs if isinstance(p, Mapping)]
    else:
        raise MalformedAnswer("tags answered in an unknown shape")
    return [{"Key": k, "Value": v} for k, v in sorted(items, key=lambda kv: str(kv[0])) if isinstance(k, str)
            and not k.startswith("aws:")]


def pascal(value: Any, special: Mapping[str, str] = {}, *, keep: frozenset[str] = frozenset()) -> Any:
    """camelCase API answers to CloudFormation's PascalCase keys, recursively (map-valued keys in `keep` kept)."""
    if isinstance(value, list):
        return [pascal(v, special, keep=keep) for v in value]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            name = special.get(k, k[:1].upper() + k[1:])
            out[name] = v if name in keep else pascal(v, special, keep=keep)
        return out
    return value


@dataclass(frozen=True)
class ReadContext:
    """What a reader may use: the clients, the scope and the declared properties resolved through its ids."""

    aws: Any
    scope: StackScope
    resolve: Callable[[Any], Any]  # declared value -> live value (Ref/GetAtt through the stack's ids)
    # Answers several readers need within one read of the stack (a security group and its standalone rules,
    # a route table and its routes): asked once per run, by (operation, id).
    _answers: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def once(self, operation: str, key: str, call: Callable[[], Any]) -> Any:
        """The answer of `call`, asked once per (operation, key) in this run; readers asking at the same time
        wait for the first. A call that raised is asked again by the next reader."""
        with self._lock:
            lock = self._locks.setdefault((operation, key), threading.Lock())
        with lock:
            if (operation, key) not in self._answers:
                self._answers[(operation, key)] = call()
            return self._answers[(operation, key)]


Read = Callable[[ReadContext, Present], dict[str, Any]]


@dataclass(frozen=True)
class Call:
    """An AWS operation opscli makes (service:Operation, as botocore names them) and where IAM lets it look.

    `scope`: the ARN patterns its IAM action is granted on for one stack, with placeholders ({region}, {account},
    {stack}, {bucket} ...) that opscli.iam_policy fills from the stack's names; empty where the service
    authorization reference lists no resource type for the action (then "*" is all IAM can grant). `unscoped`: why
    an action that has a resource type is granted on "*" all the same. `action`: the IAM action, where IAM names it
    otherwise than the operation (the reference lists, for each action, the API operations it grants)."""

    operation: str
    scope: tuple[str, ...] = ()
    unscoped: str = ""
    action: str = ""

    def __post_init__(self) -> None:
        if self.scope and self.unscoped:
            raise ValueError(f"{self.operation} is both scoped and unscoped")


@dataclass(frozen=True)
class Physical:
    """A deployed resource as CloudFormation derives its GetAtt values: its physical id, where it is, and its
    declaration."""

    id: str
    region: str
    account: str
    declared: Declared

    def arn(self, service: str, resource: str) -> str:
        """An ARN in this resource's region and account."""
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


# The GetAtt values CloudFormation derives from a resource's physical id (what Fn::GetAtt returns).
Derive = Callable[[Physical], dict[str, str]]


@dataclass(frozen=True)
class Reader:
    resource_type: str
    calls: tuple[Call, ...]  # the AWS calls it makes: the IAM policy and the read-only allowlist
    reads: frozenset[str]  # the CloudFormation properties it returns
    read: Read

    @property
    def operations(self) -> tuple[str, ...]:
        """The calls' service:Operation names."""
        return tuple(call.operation for call in self.calls)


# The registry, filled by the reader modules as opscli.readers imports them: a declared type has a reader or the
# reason it has none, never both; either may say what CloudFormation derives from the type's physical id.
READERS: dict[str, Reader] = {}
NO_READER: dict[str, str] = {}  # resource type -> why it needs no reader
DERIVED: dict[str, Derive] = {}


def _declare(resource_type: str, derived: Derive | None) -> None:
    if resource_type in READERS or resource_type in NO_READER:
        raise ValueError(f"{resource_type} is declared twice in opscli.readers")
    if derived is not None:
        DERIVED[resource_type] = derived


def reader(resource_type: str, calls: tuple[Call, ...], reads: str, *,
           derived: Derive | None = None) -> Callable[[Read], Read]:
    """Registers the decorated function as the reader of `resource_type`: the AWS calls it makes (with their IAM
    scope), the CloudFormation properties it returns (`reads`, space-separated) and the GetAtt values derived from
    the type's physical id."""
    def register(fn: Read) -> Read:
        _declare(resource_type, derived)
        READERS[resource_type] = Reader(resource_type, calls, frozenset(reads.split()), fn)
        return fn
    return register


def no_reader(resource_type: str, why: str, *, derived: Derive | None = None) -> None:
    """Registers a type that has no reader, and why it needs none (nothing about it bears on posture, or it
    cannot be read back)."""
    _declare(resource_type, derived)
    NO_READER[resource_type] = why


def derived_attributes(r: Declared, region: str, account: str) -> dict[str, str]:
    """The GetAtt values CloudFormation derives from `r`'s physical id (what Fn::GetAtt returns), where known."""
    derive = DERIVED.get(r.type)
    return derive(Physical(r.physical_id, region, account, r)) if r.physical_id and derive is not None else {}


def resolved(ctx: ReadContext, value: Any, default: Any = None) -> Any:
    """A declared value resolved, or `default` when it cannot be (a child compared with it is then undeclared)."""
    try:
        return ctx.resolve(value)
    except Exception:  # noqa: BLE001 - Unresolvable or a malformed declaration: nothing declared to compare
        return default


def ask(operation: str, fn: Callable[..., Any], *codes: str, **kwargs: Any) -> Any:
    try:
        answer = fn(**kwargs)
    except botocore.exceptions.ClientError as exc:
        if codes and error_code_in(exc, *codes):
            raise NotFound(f"{operation}: {exc.response['Error'].get('Message') or 'not found'}") from None
        raise
    if not isinstance(answer, Mapping):
        raise MalformedAnswer(f"{operation} answered {type(answer).__name__}")
    return answer


def ask_optional(operation: str, fn: Callable[..., Any], absent: str, *codes: str, **kwargs: Any) -> Any:
    """The answer of an operation whose error `absent` says the resource has none of the thing asked for (a bucket
    without tags, a file system without a policy): None then, a known absence. `codes` are ask's (the resource
    itself is gone)."""
    try:
        return ask(operation, fn, *codes, **kwargs)
    except botocore.exceptions.ClientError as exc:
        if error_code_in(exc, absent):
            return None
        raise


def listed_tags(fn: Callable[..., Any], key: str, kind: type = list, **kwargs: Any) -> list[dict[str, str]]:
    """A ListTagsForResource answer's `key` (which AWS always returns) as CloudFormation's tag list."""
    return tag_list(need(ask("ListTagsForResource", fn, **kwargs), key, kind, operation="ListTagsForResource"))


BATCH = 100  # ids per batched call: within every limit used below (EC2 filter values, DescribeAlarms names)


def one_of_all(ctx: ReadContext, operation: str, resource_type: str, wanted: str, what: str,
               id_key: str | Callable[[Mapping[str, Any]], list[str]],
               page: Callable[[list[str], str | None], tuple[Any, str | None]]) -> Mapping[str, Any]:
    """The item of `wanted` out of one answer for every declared `resource_type` in scope: asked once per read
    (one call where there was one per resource; fewer calls is less throttling in a large account). An id
    outside those (a group a rule points at, say) is asked on its own.

    `page(ids, token)` asks for those ids and returns (the answer's list of items, the next token); `id_key`
    names the item's id, or gives the ids an item answers for. An id the answer leaves out is not found; an
    item without its id, or one id answered twice, is a malformed answer."""
    declared = sorted({d.physical_id for d in ctx.scope.of_type(resource_type)
                       if d.physical_id and d.present and not d.not_emulated})
    ids = declared if wanted in declared else [wanted]

    def answered() -> dict[str, Mapping[str, Any]]:
        found: dict[str, Mapping[str, Any]] = {}
        for start in range(0, len(ids), BATCH):
            token: str | None = None
            tokens: set[str] = set()
            while True:
                items, token = page(ids[start:start + BATCH], token)
                if token and token in tokens:  # a circle (A, B, A ...) would hold the read forever
                    raise MalformedAnswer(f"{operation} answered the page token {token[:40]!r} a second time")
                if token:
                    tokens.add(token)
                if not isinstance(items, list):
                    raise MalformedAnswer(f"{operation} answered without a list of {what}s")
                for item in items:
                    keys = [need(item, id_key, str, operation=operation)] if isinstance(id_key, str) else \
                        id_key(item)
                    for key in keys:
                        if key in found:
                            raise MalformedAnswer(f"{operation} answered {what} {key} twice")
                        found[key] = item
                if not token:
                    break
        return found

    items = ctx.once(operation, "\n".join(ids), answered)
    if wanted not in items:
        raise NotFound(f"{what} {wanted} not found")
    return items[wanted]
