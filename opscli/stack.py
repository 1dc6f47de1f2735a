"""The scope of everything live: the resources the stack declares, with their physical ids and declared properties.

Against AWS the scope comes from CloudFormation (`ListStackResources` for logical -> physical ids, `GetTemplate`
for what was declared), both read-only; against the local emulator from the stack record the local deployment
writes in the same shapes (`cfn-outputs/<suffix>/stack-resources.json`). Lookups are by id: the cost grows with the
stack, not with the account.

Both go through one check that the declaration and the listing are whole (`build`): a scope that is only a part
of the stack would be judged as if it were all of it, and "every declared resource read" would vouch for what the
part left out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, cast

import botocore.exceptions
import botocore.handlers
import botocore.parsers

from opscli.checks import describe_failure
from opscli.errors import CredentialsError, OpsError, UsageError, read_json_input
from opscli.targets import REQUIRED_OUTPUTS
from platform_spec.contract import LOCAL_NOT_EMULATED  # the status of a resource localenv does not emulate
from platform_spec.intrinsics import malformed_references, references

# CloudFormation statuses of a resource that exists (or existed and is being changed).
PRESENT = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_FAILED", "IMPORT_COMPLETE",
           "UPDATE_ROLLBACK_COMPLETE", "ROLLBACK_COMPLETE")


class ScopeError(OpsError):
    """The stack's declaration could not be read: nothing can be judged without it (exit 3)."""


class IncompleteDeclaration(ScopeError):
    """The declaration or the listing is a part of the stack, not all of it: judging it would vouch for what it
    omits (exit 3, never a usage error: the file may be well-formed and still cut short)."""


@dataclass(frozen=True)
class Declared:
    """One resource the stack declares."""

    logical_id: str
    type: str
    physical_id: str | None  # None: CloudFormation has no physical resource for it
    status: str
    reason: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)  # as declared (intrinsics unresolved)
    deletion_policy: str | None = None

    @property
    def present(self) -> bool:
        return bool(self.physical_id) and self.status in PRESENT

    @property
    def not_emulated(self) -> bool:
        return self.status == LOCAL_NOT_EMULATED

    def as_present(self) -> Present:
        """This resource as a reader takes it; refused (ScopeError) where CloudFormation has no physical
        resource for it, which a reader could only misread."""
        if not self.present or self.physical_id is None:
            raise ScopeError(f"{self.type} {self.logical_id} is not deployed (CloudFormation reports {self.status})")
        return cast(Present, self)


class Present(Protocol):
    """A declared resource CloudFormation has a physical resource for (Declared.present): what a reader reads,
    its physical id a string."""

    @property
    def logical_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def physical_id(self) -> str: ...
    @property
    def properties(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Digest:
    """The SHA-256 of the declaration as it was read, and of what exactly (the evidence of what was deployed)."""

    sha256: str
    of: str

    @classmethod
    def of_text(cls, text: str, what: str) -> Digest:
        return cls(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), what)

    @classmethod
    def of_json(cls, value: Any, what: str) -> Digest:
        """Of a decoded document, as canonical JSON (keys sorted, no spaces): its bytes as sent are gone."""
        return cls.of_text(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
                           f"{what} (canonical JSON)")


@dataclass(frozen=True)
class StackScope:
    stack_name: str
    template: Mapping[str, Any]
    resources: tuple[Declared, ...]
    source: str  # "cloudformation" or the record's path
    digest: Digest | None = None  # of the template as read

    def by_logical_id(self) -> dict[str, Declared]:
        return {r.logical_id: r for r in self.resources}

    def physical_ids(self) -> dict[str, str]:
        return {r.logical_id: r.physical_id for r in self.resources if r.physical_id}

    def of_type(self, resource_type: str) -> list[Declared]:
        return [r for r in self.resources if r.type == resource_type]


def _template_resources(template: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(template, Mapping) or not isinstance(template.get("Resources"), Mapping):
        raise ScopeError(f"{where}: the template has no Resources map")
    return template["Resources"]


def _few(ids: list[str]) -> str:
    return f"{', '.join(ids[:3])}{f' and {len(ids) - 3} more' if len(ids) > 3 else ''}"


def _undeclared_references(template: Mapping[str, Any], resources: Mapping[str, Any], source: str) -> list[str]:
    """The logical ids the template's resources and outputs refer to (Ref, GetAtt, Sub, DependsOn) that it
    declares as neither a resource nor a parameter. CloudFormation accepts no such template, so any is a template
    cut short."""
    parameters = template.get("Parameters") or {}
    known = set(resources) | (set(parameters) if isinstance(parameters, Mapping) else set())
    outputs = template.get("Outputs") or {}
    malformed = malformed_references([dict(resources), outputs])
    if malformed:
        raise ScopeError(f"{source}: the template's references are malformed ({_few(malformed)})")
    found: set[str] = set()
    try:
        for resource in resources.values():
            depends = resource.get("DependsOn", [])
            found |= references(resource) | set([depends] if isinstance(depends, str) else depends)
        found |= references(outputs)
    except (TypeError, AttributeError):  # a resource that is no map, a DependsOn that is no name or names
        raise ScopeError(f"{source}: the template's references are malformed") from None
    return sorted(lid for lid in found if isinstance(lid, str) and lid not in known and not lid.startswith("AWS::"))


def _check_whole(template: Mapping[str, Any], resources: Mapping[str, Any], listed: Mapping[str, Mapping[str, Any]],
                 source: str, *, record: bool) -> None:
    """The one check that a scope is the whole stack, for CloudFormation's answers and for a record alike; raises
    IncompleteDeclaration naming what is missing.

    Both: every resource listed is declared, and the template declares everything it refers to. A record must
    also account for every resource its template declares (as deployed, or as not emulated with the reason) and
    declare the stack's outputs: it is a file, and a file cut short (or edited) can still agree with itself.
    CloudFormation's listing is the stack's own word, so a declared resource it does not list is a resource that
    is not there: in scope, and judged as missing."""
    undeclared = sorted(set(listed) - set(resources))
    if undeclared:
        # A template that omits what the stack runs would judge only the part it shows (an empty one: nothing, and
        # "0 checks" would read as compliant). Whatever the cause (a forged or truncated record, a template of
        # another stack), it cannot be the declaration of these resources.
        raise IncompleteDeclaration(
            f"{source}: the stack lists {len(listed)} resources, but its template declares only "
            f"{len(listed) - len(undeclared)} of them (not {', '.join(undeclared[:3])}"
            f"{', ...' if len(undeclared) > 3 else ''}): the declaration is incomplete, nothing can be vouched for")
    if record:
        unaccounted = sorted(lid for lid in resources if lid not in listed or (
            listed[lid].get("ResourceStatus") == LOCAL_NOT_EMULATED and not listed[lid].get("ResourceStatusReason")))
        if unaccounted:
            raise IncompleteDeclaration(
                f"{source}: its template declares {len(resources)} resources, but the record accounts for only "
                f"{len(resources) - len(unaccounted)} of them (missing: {_few(unaccounted)}): a record lists each "
                f"as deployed or as {LOCAL_NOT_EMULATED} with the reason; this one is incomplete, nothing can be "
                f"vouched for")
    dangling = _undeclared_references(template, resources, source)
    if dangling:
        raise IncompleteDeclaration(
            f"{source}: the template declares {len(resources)} resources and refers to {len(dangling)} more it does "
            f"not declare (missing: {_few(dangling)}): it is a part of the stack's template, nothing can be "
            f"vouched for")
    if record:
        outputs = template.get("Outputs")
        absent = [key for key in REQUIRED_OUTPUTS if not isinstance(outputs, Mapping) or key not in outputs]
        if absent:
            raise IncompleteDeclaration(
                f"{source}: its template declares {len(resources)} resources but not the stack's outputs "
                f"(missing: {_few(absent)}): it is not the stack's whole declaration, nothing can be vouched for")


def build(stack_name: str, template: Any, summaries: Any, source: str, *, record: bool = False) -> StackScope:
    """The scope from GetTemplate's body and ListStackResources' summaries (from AWS, or from a stack record when
    `record`), once `_check_whole` holds. From AWS, a resource the template declares that the summaries do not
    list is in scope too, as not deployed."""
    resources = _template_resources(template, source)
    if not isinstance(summaries, list) or not all(isinstance(s, Mapping) for s in summaries):
        raise ScopeError(f"{source}: StackResourceSummaries is not a list of resources")
    listed: dict[str, Mapping[str, Any]] = {}
    for summary in summaries:
        lid = summary.get("LogicalResourceId")
        if not isinstance(lid, str) or not isinstance(summary.get("ResourceType"), str):
            raise ScopeError(f"{source}: a stack resource without LogicalResourceId or ResourceType")
        listed[lid] = summary
    for lid, resource in resources.items():
        if not isinstance(resource, Mapping) or not isinstance(resource.get("Type"), str):
            raise ScopeError(f"{source}: resource {lid} has no Type")
    _check_whole(template, resources, listed, source, record=record)
    declared = []
    for lid, resource in resources.items():
        summary = listed.get(lid, {})
        properties = resource.get("Properties", {})
        declared.append(Declared(
            logical_id=lid, type=resource["Type"],
            physical_id=summary.get("PhysicalResourceId") or None,
            status=summary.get("ResourceStatus", "NOT_IN_STACK"),
            reason=summary.get("ResourceStatusReason", "") or "",
            properties=properties if isinstance(properties, Mapping) else {},
            deletion_policy=resource.get("DeletionPolicy")))
    return StackScope(stack_name, template, tuple(declared), source)


def from_record(path: Path) -> StackScope:
    """The scope from a stack record file (what `python -m localenv` writes beside the outputs). A file that is
    not a stack record is a usage error; a record that is not the whole stack is an IncompleteDeclaration."""
    data = read_json_input(path, "stack record")
    if not isinstance(data, Mapping) or not isinstance(data.get("StackName"), str):
        raise UsageError(f"{path} is not a stack record (no StackName)")
    try:
        scope = build(data["StackName"], data.get("TemplateBody"), data.get("StackResourceSummaries"), str(path),
                      record=True)
        return replace(scope, digest=Digest.of_json(data["TemplateBody"], "the stack record's TemplateBody"))
    except IncompleteDeclaration:
        raise
    except ScopeError as exc:
        raise UsageError(str(exc)) from None


def _for_account(aws: Any) -> str:
    """" for account N" when the caller's account can be learnt (sts:GetCallerIdentity), else "": a stack that
    does not exist is most often a wrong suffix or credentials for another account, and this tells them apart."""
    account = getattr(aws, "known_account", None)
    if not account:
        try:
            answer = aws.client("sts").get_caller_identity()
            account = answer["Account"]
        except Exception:  # noqa: BLE001 - only a hint in a message: without it, the message says less
            return ""
        if not isinstance(account, str) or not account:
            return ""
        aws.known_account = account
        caller = answer.get("Arn")  # who ran it: the report names the caller whose account has no such stack
        aws.known_caller = caller if isinstance(caller, str) and caller.startswith("arn:") else None
    return f" for account {account}"


def from_cloudformation(aws: Any, stack_name: str) -> StackScope:
    """The scope from CloudFormation: GetTemplate (the processed template) and ListStackResources (paginated)."""
    client = aws.client("cloudformation")
    # The body as AWS sent it, hashed as evidence of what is deployed: botocore would decode it into a dict first.
    client.meta.events.unregister("after-call.cloudformation.GetTemplate", botocore.handlers.json_decode_template_body)
    try:
        body = client.get_template(StackName=stack_name, TemplateStage="Processed")["TemplateBody"]
        template = json.loads(body) if isinstance(body, str) else body
        digest = Digest.of_text(body, "GetTemplate's TemplateBody") if isinstance(body, str) else \
            Digest.of_json(body, "GetTemplate's TemplateBody")
        summaries = [s for page in client.get_paginator("list_stack_resources").paginate(StackName=stack_name)
                     for s in page["StackResourceSummaries"]]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            raise ScopeError(f"stack {stack_name} does not exist in {aws.region}{_for_account(aws)}: check "
                             f"--suffix (or --outputs) or the credentials' account") from None
        raise ScopeError(f"could not read stack {stack_name}: {describe_failure(exc)[1]}") from None
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError):
        raise CredentialsError.none_found() from None
    except (botocore.exceptions.BotoCoreError, botocore.parsers.ResponseParserError) as exc:
        raise ScopeError(f"could not read stack {stack_name}: {describe_failure(exc)[1]}") from None
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        raise ScopeError(f"could not read stack {stack_name}: the answer is malformed ({exc!r})") from None
    return replace(build(stack_name, template, summaries, "cloudformation"), digest=digest)
