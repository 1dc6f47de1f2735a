"""The stack as it is live: every declared resource read back into its CloudFormation property shape, judged by
the same engine as the template, and compared with its declaration (drift).

The picture is built in three steps: read (one reader per type, by id, concurrently), put back into template shape
(a live value that equals its resolved declaration becomes the declaration itself, intrinsics included; another
value keeps its live form, with exact physical ids turned back into Refs), then judge or compare.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
import botocore.parsers

from opscli import account_iam as account_iam_module
from opscli.account_iam import AccountIam
from opscli.checks import ANSWERS, NO_ANSWER, UNKNOWN, describe_failure
from opscli.errors import CredentialsError
from opscli.readers import ATTRIBUTES, FACTS, NO_READER, READERS, NotFound, ReadContext, derived_attributes
from opscli.shapes import Where
from opscli.stack import Declared, StackScope
from platform_spec.context import BUCKET_REGIONS
from platform_spec.intrinsics import Resolver, Unresolvable
from platform_spec.result import CouldNotLook, Status

MAX_WORKERS = 8


class ReadState:
    READ = "read"
    MISSING = "missing"  # declared and deployed, but not there now
    ERROR = "error"  # could not look
    NO_READER = "no-reader"
    NOT_EMULATED = "not-emulated"  # the local emulator does not create this type
    NOT_DEPLOYED = "not-deployed"  # CloudFormation lists no physical resource


@dataclass
class LiveResource:
    declared: Declared
    state: str
    properties: dict[str, Any] | None = None
    detail: str = ""
    facts: dict[str, Any] = field(default_factory=dict)  # live-only facts for the live_rule halves
    unresolved: bool = False  # the read needed a value of another resource that was not known yet
    attributes: dict[str, Any] = field(default_factory=dict)  # the GetAtt values the reader answered (an ARN)


def _canonical(value: Any, where: Where | None = None) -> Any:
    """A comparable form: scalars as CloudFormation strings, policy-document shorthands expanded (not in a
    structure the schema names, such as a WAF rule's Statement and Action), lists sorted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        out = {k: _canonical(v, _at(where, k)) for k, v in value.items()}
        if where is None or not where.is_named():
            for key in ("Action", "NotAction", "Resource", "NotResource"):
                if isinstance(out.get(key), str):
                    out[key] = [out[key]]
            if isinstance(out.get("Statement"), Mapping):
                out["Statement"] = [out["Statement"]]
        return out
    if isinstance(value, list):
        return sorted((_canonical(v, _at(where, 0)) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def same(declared: Any, live: Any, where: Where | None = None) -> bool:
    """Whether a live value matches a (resolved) declared one: declared map keys only (AWS adds defaults), lists
    item for item in any order, scalars in CloudFormation's string form, a key id equal to its ARN. `where` (the
    resource type and the path of the value) says from the type's schema which objects are maps: an empty map
    equals an absent one; an empty structure (`Block: {}`) is a choice, and so is every other structure beside
    it. Without `where` no object is a map."""
    if _identical(declared, live):
        return True  # the same as they are, so the same in canonical form (most properties: none is built)
    return _same(_canonical(declared, where), _canonical(live, where), where)


def _identical(one: Any, other: Any) -> bool:
    """Equal with the same types all the way down (1 and True, or [1] and [True], are not identical)."""
    if type(one) is not type(other):
        return False
    if isinstance(one, dict):
        return one.keys() == other.keys() and all(_identical(v, other[k]) for k, v in one.items())
    if isinstance(one, list):
        return len(one) == len(other) and all(map(_identical, one, other))
    return bool(one == other)


def _at(where: Where | None, step: str | int) -> Where | None:
    return None if where is None else where.at(step)


def _is_map(where: Where | None) -> bool:
    return where is not None and where.is_map()


def left_out(value: Any, where: Where | None) -> bool:
    """Whether a declared `value` at `where` is what AWS leaves out of an answer: an empty list, or an empty map
    (by the schema). An empty structure is not: its presence is the declaration (`DefaultAction: {Block: {}}`)."""
    return value == [] or (value == {} and _is_map(where))


def chosen(declared: Mapping[str, Any], where: Where | None) -> bool:
    """Whether `declared` selects a variant by the key present: it holds an empty structure (`{Block: {}}`), so
    a structure the live value adds beside it is another choice, not a default."""
    return any(value == {} and not left_out(value, _at(where, key)) for key, value in declared.items())


def _same(declared: Any, live: Any, where: Where | None = None) -> bool:
    if isinstance(declared, Mapping):
        if not isinstance(live, Mapping):
            return False
        if not all(_same(v, live[k], _at(where, k)) if k in live else left_out(v, _at(where, k))
                   for k, v in declared.items()):
            return False
        # Keys only the live value has are AWS's defaults, unless the declaration chose a variant by its key.
        return not chosen(declared, where) or not any(
            isinstance(v, Mapping) and not _is_map(_at(where, k)) for k, v in live.items() if k not in declared)
    if isinstance(declared, list):
        if not isinstance(live, list) or len(declared) != len(live):
            return False
        remaining = list(live)
        for n, item in enumerate(declared):
            match = next((i for i, candidate in enumerate(remaining) if _same(item, candidate, _at(where, n))),
                         None)
            if match is None:
                return False
            remaining.pop(match)
        return True
    if isinstance(declared, str) and isinstance(live, str) and declared != live:
        # A key (or other resource) named by id on one side and by ARN on the other.
        return (declared.startswith("arn:") and declared.endswith("/" + live)) or \
            (live.startswith("arn:") and live.endswith("/" + declared))
    return declared == live


def _binary(value: Any, path: str = "") -> str | None:
    """The path of the first bytes value inside `value`, or None."""
    if isinstance(value, (bytes, bytearray)):
        return path or "the value"
    if isinstance(value, Mapping):
        return next((found for key, item in value.items() if (found := _binary(item, f"{path}.{key}".lstrip(".")))),
                    None)
    if isinstance(value, list):
        return next((found for n, item in enumerate(value) if (found := _binary(item, f"{path}.{n}"))), None)
    return None


def adds_keys(declared: Any, live: Any) -> bool:
    """Whether `live` holds, beside what the declaration sets, a key (at any depth) or list items it does not
    have: a queue notification beside the declared EventBridge one, a method setting that caches beside the
    declared logging level. `same` takes such keys for AWS's defaults, which is right for drift (the declaration
    did not set them); but the picture the rules judge must show what is there, whoever set it."""
    if isinstance(declared, Mapping) and isinstance(live, Mapping):
        return any(key not in declared or adds_keys(declared[key], value) for key, value in live.items())
    if isinstance(declared, list) and isinstance(live, list):
        return len(live) > len(declared) or any(isinstance(item, (Mapping, list)) for item in live)
    return False


class LiveStack:
    """The declared resources read live (read once, judged and compared many ways)."""

    def __init__(self, scope: StackScope, resources: dict[str, LiveResource], resolver: Resolver) -> None:
        self.scope = scope
        self.resources = resources
        self.resolver = resolver
        self.incomplete: str | None = None  # "timeout" or "interrupted" when some reads never finished
        # The account's IAM beside the stack (read when asked: the audit's account rules), or why it could not be.
        self.account_iam: AccountIam | None = None
        self.account_iam_error: str | None = None
        self._ids: dict[Any, Any] = {}
        self._picture: tuple[dict[str, LiveResource], dict[str, Any]] | None = None  # (of these resources, picture)
        self.index_ids()

    @property
    def account(self) -> str | None:
        """The account the stack was read in (the caller's, from sts:GetCallerIdentity)."""
        account = self.resolver.pseudo.get("AWS::AccountId")
        return account if isinstance(account, str) and account else None

    @property
    def bucket_regions(self) -> dict[str, str | None]:
        """Where the readers found the undeclared buckets declared buckets copy to (platform_spec.context)."""
        found: dict[str, str | None] = {}
        for resource in self.resources.values():
            if resource.state == ReadState.READ:
                found.update(resource.facts.get(BUCKET_REGIONS) or {})
        return found

    def index_ids(self) -> None:
        """Physical ids and derived attributes -> the Ref / Fn::GetAtt that names them (for as_declared)."""
        self._picture = None  # the read is being completed: the picture is made again from what it holds now
        resolver = self.resolver
        for lid, attrs in resolver.attrs.items():
            for attr, value in attrs.items():
                if isinstance(value, str):  # ids and ARNs; anything else cannot name a resource
                    self._ids.setdefault(value, {"Fn::GetAtt": [lid, attr]})
        for lid, pid in resolver.refs.items():
            self._ids[pid] = {"Ref": lid}

    def resolve(self, value: Any) -> Any:
        try:
            return self.resolver.resolve(value)
        except Unresolvable:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise Unresolvable(f"a malformed intrinsic ({exc!r})") from None

    def as_declared(self, declared: Any, live: Any, where: Where | None = None) -> Any:
        """`live` in template shape: the declaration itself where the live value matches it and holds nothing
        more, else the live value with the declaration's values (their Ref / Fn::GetAtt) where they match and
        exact physical ids (and derived ARNs) put back as Ref / Fn::GetAtt. `where`: as for `same`."""
        try:
            if declared is not None:
                resolved = self.resolve(declared)
                if same(resolved, live, where) and not adds_keys(resolved, live):
                    return declared
        except Unresolvable:
            pass
        if isinstance(live, Mapping):
            base = declared if isinstance(declared, Mapping) else {}
            return {k: self.as_declared(base.get(k), v, _at(where, k)) for k, v in live.items()}
        if isinstance(live, list):
            candidates = list(declared) if isinstance(declared, list) else []
            out = []
            for n, item in enumerate(live):
                match = None
                for i, candidate in enumerate(candidates):
                    try:
                        if same(self.resolve(candidate), item, _at(where, n)):
                            match = i
                            break
                    except Unresolvable:
                        continue
                out.append(self.as_declared(candidates.pop(match) if match is not None else None, item,
                                            _at(where, n)))
            return out
        if isinstance(live, str) and live in self._ids:
            return self._ids[live]
        return live

    def live_template(self) -> dict[str, Any]:
        """The stack as read, in template shape: only resources that were read, only the properties read. Made once
        per read (the rules, the drift, the account rules and the perimeter's paths all judge the same picture;
        each time it cost a pass over every property); the rules are pure, so none changes it. A stack is not
        changed after read_stack returns it: a copy given other resources (a new `resources`) is pictured afresh,
        and whoever changes `resources` in place calls index_ids() after, as read_stack does."""
        if self._picture is None or self._picture[0] is not self.resources:
            self._picture = (self.resources, self._live_template())
        return self._picture[1]

    def _live_template(self) -> dict[str, Any]:
        resources = {}
        for lid, live in self.resources.items():
            if live.state == ReadState.READ and live.properties is not None:
                declared = live.declared.properties
                resources[lid] = {"Type": live.declared.type, "Properties": {
                    k: self.as_declared(declared.get(k), v, Where(live.declared.type, (k,)))
                    for k, v in live.properties.items() if v is not None}}
        return {"Resources": resources}


def declared_resolver(scope: StackScope, *, region: str, account: str) -> Resolver:
    """What the declaration's intrinsics resolve to before anything is read: the pseudo parameters, each
    resource's physical id (Ref) and the attributes CloudFormation derives from it (Fn::GetAtt)."""
    pseudo: dict[str, Any] = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws",
                              "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": scope.stack_name,
                              "AWS::NoValue": None}
    resolver = Resolver(pseudo=pseudo, parameters=_parameters(scope.template), azs=[])
    resolver.refs.update(scope.physical_ids())
    for declared in scope.resources:
        attrs = derived_attributes(declared, region, account)
        if attrs:
            resolver.attrs[declared.logical_id] = attrs
    return resolver


def read_stack(aws: Any, scope: StackScope, *, account: str, progress: Callable[[str], None] | None = None,
               max_workers: int = MAX_WORKERS, deadline: float | None = None, account_iam: bool = False,
               only: Collection[str] | None = None) -> LiveStack:
    """Read every declared resource that has a reader (concurrently, each by id), and with `account_iam` the
    account's IAM beside them (one paged read, in the same pool). What has no answer by `deadline`
    (time.monotonic()), or when Ctrl-C comes, is ERROR; `incomplete` says which happened. `only`: read just these
    logical ids (the others stay out of the picture; their ids still resolve, as the whole scope declares them)."""
    resolver = declared_resolver(scope, region=aws.region, account=account)
    stack = LiveStack(scope, {}, resolver)
    lock = threading.Lock()
    context = ReadContext(aws=aws, scope=scope, resolve=stack.resolve)

    def read(declared: Declared) -> LiveResource:
        try:
            return read_one(declared)
        finally:
            if progress:
                with lock:
                    progress(f"read {declared.type} {declared.logical_id}")

    def read_one(declared: Declared) -> LiveResource:
        if declared.not_emulated:
            return LiveResource(declared, ReadState.NOT_EMULATED, detail=declared.reason)
        reader = READERS.get(declared.type)
        if reader is None:
            return LiveResource(declared, ReadState.NO_READER, detail=NO_READER.get(declared.type, "no reader yet"))
        if not declared.present:
            return LiveResource(declared, ReadState.NOT_DEPLOYED, detail=f"CloudFormation reports {declared.status}")
        try:
            properties = reader.read(context, declared.as_present())
            attributes = properties.pop(ATTRIBUTES, None) or {}
            facts = properties.pop(FACTS, None) or {}
            binary = _binary(properties)
            if binary:  # a template holds text: a blob a reader did not turn into its CloudFormation form
                raise CouldNotLook(f"{binary} is binary data, which no CloudFormation property holds")
            if attributes:
                with lock:
                    resolver.attrs.setdefault(declared.logical_id, {}).update(
                        {k: v for k, v in attributes.items() if v is not None})
            return LiveResource(declared, ReadState.READ, properties, facts=facts, attributes=dict(attributes))
        except NotFound as exc:
            return LiveResource(declared, ReadState.MISSING, detail=str(exc))
        except Unresolvable as exc:
            return LiveResource(declared, ReadState.ERROR, unresolved=True,
                                detail=f"could not look: {exc} is not known: {UNKNOWN}")
        except CouldNotLook as exc:
            return LiveResource(declared, ReadState.ERROR, detail=f"could not look: {exc}: {ANSWERS}")
        except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError):
            raise CredentialsError.none_found() from None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError,
                botocore.parsers.ResponseParserError) as exc:
            status, reason = describe_failure(exc)
            return LiveResource(declared, ReadState.MISSING if status is Status.FAIL else ReadState.ERROR,
                                detail=reason if status is Status.FAIL else f"could not look: {reason}")
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            return LiveResource(declared, ReadState.ERROR, detail=f"could not look: malformed answer "
                                                                   f"({type(exc).__name__}: {exc}): {ANSWERS}")

    pool = ThreadPoolExecutor(max_workers=max_workers)
    # Submitted first: the largest single read of an audit, it runs beside the per-resource ones.
    iam_future = pool.submit(account_iam_module.read, aws) if account_iam else None
    reading = [declared for declared in scope.resources if only is None or declared.logical_id in only]
    futures = {declared.logical_id: pool.submit(read, declared) for declared in reading}
    try:
        pending: list[Future[Any]] = [*futures.values(), *([iam_future] if iam_future else [])]
        wait(pending,
             timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        stack.incomplete = "interrupted"
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a hung call must not hold the report back
    for declared in reading:
        future = futures[declared.logical_id]
        if future.done() and not future.cancelled():
            stack.resources[declared.logical_id] = future.result()
        else:
            stack.incomplete = stack.incomplete or "timeout"
            why = "interrupted (Ctrl-C)" if stack.incomplete == "interrupted" else NO_ANSWER
            stack.resources[declared.logical_id] = LiveResource(declared, ReadState.ERROR,
                                                                detail=f"could not look: {why}")
    if iam_future is not None:
        stack.account_iam, stack.account_iam_error = _account_iam(iam_future, stack.incomplete)
    if stack.incomplete is None:
        # A reader that needed a GetAtt only another reader could supply (an endpoint, an ARN) tries once more.
        waiting = [r.declared for r in stack.resources.values() if r.state == ReadState.ERROR and r.unresolved]
        for declared in waiting:
            stack.resources[declared.logical_id] = read_one(declared)
    stack.index_ids()
    return stack


def _account_iam(future: Any, incomplete: str | None) -> tuple[AccountIam | None, str | None]:
    """The account's IAM, or why it could not be read (never a verdict: the account rules are ERROR then)."""
    if not future.done() or future.cancelled():
        return None, "could not look: " + ("interrupted (Ctrl-C)" if incomplete == "interrupted" else
                                           NO_ANSWER)
    try:
        return future.result(), None
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError):
        raise CredentialsError.none_found() from None
    except CouldNotLook as exc:
        return None, f"could not look: {exc}: {ANSWERS}"
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError,
            botocore.parsers.ResponseParserError) as exc:
        return None, f"could not look: {describe_failure(exc)[1]}"
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        return None, f"could not look: malformed answer ({type(exc).__name__}: {exc}): {ANSWERS}"


def _parameters(template: Mapping[str, Any]) -> dict[str, Any]:
    params = template.get("Parameters") if isinstance(template, Mapping) else None
    return {k: v.get("Default") for k, v in (params or {}).items() if isinstance(v, Mapping) and "Default" in v}
