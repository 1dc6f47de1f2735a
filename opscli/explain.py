"""What makes a finding explain itself in every format (terminal, JSON, SARIF, HTML, ASFF, OCSF): the rule's
words, the evidence (what was found, in which resource, read with which calls), what an operator does now, what
keeps it fixed in code, and the controls it maps to."""

from __future__ import annotations

import functools
import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

from opscli.model import Finding, resource_parts
from opscli.operations import ACCOUNT_OPERATIONS, SECRETS_SPECS, STACK_OPERATIONS
from opscli.readers import READERS
from opscli.sanitize import is_visible, visible_json
from opscli.stackcheck import ACCOUNT_CHECK
from platform_spec import catalog
from platform_spec.result import Status
from platform_utils.numbers import whole

# catalog reference field -> how an auditor names the framework
CONTROL_NAMES = {"iso27001": "ISO/IEC 27001:2022", "security_hub": "AWS Security Hub (FSBP)",
                 "config_rule": "AWS Config", "prowler": "Prowler", "cdk_nag": "cdk-nag", "checkov": "Checkov",
                 "access_analyzer": "IAM Access Analyzer", "cis": "CIS AWS Foundations v3.0"}
# What to do about an ERROR, in every format: its reason says what could not be looked at, why and what to do.
COULD_NOT_LOOK = "no verdict yet: do what the evidence says (it could not look), then run again"
SECRETS_OPERATIONS = tuple(sorted({op for spec in SECRETS_SPECS for op in spec.operations}))


def read_with(finding: Finding) -> list[str]:
    """The AWS calls the evidence came from: the reader of the resource's type, or the secrets' collector."""
    if finding.check_id.startswith("secret."):
        return list(SECRETS_OPERATIONS)
    if finding.check_id.endswith(f"/{ACCOUNT_CHECK}"):  # the account's IAM beside the stack, and its scope
        return sorted({*STACK_OPERATIONS, *ACCOUNT_OPERATIONS})
    parts = resource_parts(finding.resource)
    reader = READERS.get(parts[0]) if parts is not None else None
    if reader is not None:
        return sorted({*STACK_OPERATIONS, *reader.operations})
    return list(STACK_OPERATIONS) if parts is not None else []


def controls(rule: catalog.Rule | None) -> dict[str, list[str]]:
    """Framework name -> the control ids the rule maps to (only the frameworks it maps to)."""
    if rule is None:
        return {}
    return {name: list(ids) for name, ids in _controls(rule.references)}


@functools.cache
def _controls(references: catalog.References) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(framework name, control ids) of a rule's references, read once per rule (they are frozen): every finding
    of the rule in every format names them."""
    return tuple((name, tuple(ids)) for kind, name in CONTROL_NAMES.items() if (ids := references.ids(kind)))


MISSING = object()


def _fact(facts: Mapping[str, Any], name: str) -> Any:
    """The fact a dotted name points at ("declared.Queues.0": the first queue); MISSING where there is none."""
    value: Any = facts
    for part in name.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and (index := whole(part, 0, len(value) - 1)) is not None:
            value = value[index]
        else:
            return MISSING
    return MISSING if value is None else value


def _text(value: Any) -> str:
    """A fact as the AWS CLI reads it: a structure as compact JSON, a boolean as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return _json(value)
    return str(value)


def _json(value: Any) -> str:
    """Compact JSON with its keys in order: the same command whatever order the facts were read in (a report's JSON
    keeps them sorted). A character a terminal acts on or hides (a control, a bidi override) is JSON's own \\u
    escape, so the text every format shows is the text that is pasted, and it means the same value."""
    return visible_json(json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False))


def _word(text: str) -> str:
    """`text` as one shell word that a paste passes as exactly `text` and nothing else: single-quoted where every
    character is visible; otherwise in ANSI-C quotes ($'...', bash and zsh) with each hidden character (a line
    feed, an escape, a bidi override) as its backslash escape, so that the command holds no character a terminal
    acts on, shows as it will run in every format, and cannot be broken into two commands by a line feed."""
    if is_visible(text) and "\t" not in text:  # a terminal view shows a tab as a space
        return shlex.quote(text)
    out = []
    for char in text:
        code = ord(char)
        if char in "\\'":
            out.append("\\" + char)
        elif is_visible(char) and char != "\t":
            out.append(char)
        elif code < 0x80:  # \xHH is a byte: only ASCII's are the character itself
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "$'" + "".join(out) + "'"


class _Missing(Exception):
    pass


def _filled(template: Any, facts: Mapping[str, Any]) -> Any:
    """A template with its facts put in: a string that is one {fact} becomes the fact itself (a structure stays
    one), facts inside a longer string become text ({fact:json}: the fact's JSON); structures recursively."""
    if isinstance(template, str):
        whole = catalog.FIELD.fullmatch(template)
        if whole is not None and not whole.group(2):
            value = _fact(facts, whole.group(1))
            if value is MISSING:
                raise _Missing(whole.group(1))
            return value

        def one(match: re.Match[str]) -> str:
            value = _fact(facts, match.group(1))
            if value is MISSING:
                raise _Missing(match.group(1))
            return _json(value) if match.group(2) else _text(value)
        return catalog.FIELD.sub(one, template)
    if isinstance(template, dict):
        return {key: _filled(value, facts) for key, value in template.items()}
    if isinstance(template, (list, tuple)):
        return [_filled(value, facts) for value in template]
    return template


def command_lines(command: catalog.Command, facts: Mapping[str, Any]) -> list[str]:
    """The command filled from `facts`, shell-quoted, once per item where it has `each`; _Missing where a fact
    it names is not there."""
    if command.when and _fact(facts, command.when) is MISSING:
        return []
    items = [None]
    if command.each:
        items = _fact(facts, command.each)
        if items is MISSING or not isinstance(items, list) or not items:
            raise _Missing(command.each)
    lines = []
    for item in items:
        scope = {**facts, "item": item} if command.each else facts
        words = ["aws", *command.words.split()]
        for option, template in command.args:
            if template is True:
                words.append(option)
                continue
            if isinstance(template, tuple):  # several words: the CLI's list syntax
                words += [option, *(_word(_text(_filled(item, scope))) for item in template)]
            else:
                words += [option, _word(_text(_filled(template, scope)))]
        lines.append(" ".join(words))
    return lines


def choose_fix(rule: catalog.Rule, finding: Finding,
               resource_type: str | None) -> tuple[catalog.Fix, list[str]] | tuple[None, None]:
    """The first of the rule's fixes that applies to this failure (its type, its `when` fact) and whose commands
    can all be filled from the finding's facts, with its command lines (none for a manual fix); (None, None) where
    none does: a PASS, a check that could not look, a failure without facts of a rule that has commands (a gate
    finding, an older report)."""
    facts = finding.evidence
    if finding.status not in (Status.FAIL, Status.ACCEPTED):
        return None, None
    if not facts and any(f.commands for f in rule.fixes):
        return None, None  # a command could be filled, but the finding kept nothing to fill it from
    for candidate in rule.fixes:
        if not candidate.applies_to(resource_type) or (candidate.when and _fact(facts, candidate.when) is MISSING):
            continue
        if candidate.manual:
            return candidate, []
        try:
            lines = [line for command in candidate.commands for line in command_lines(command, facts)]
        except _Missing:
            continue
        if lines:
            return candidate, lines
    return None, None


def fix_now(rule: catalog.Rule | None, finding: Finding, resource_type: str | None) -> dict[str, str]:
    """What an operator does now about this finding: {"kind": "command", "now": the complete AWS CLI command(s)
    with the finding's real ids and evidence, joined with &&}; {"kind": "manual", "now": why no single command
    fixes it and what to do instead}; or, where no fix applies (the finding carries no facts: a PASS, a check that
    could not look, a finding read from an older report), {"kind": "text", "now": the rule's words}. Every format
    shows this one text."""
    if rule is None:
        return {"kind": "text", "now": ""}
    chosen, lines = choose_fix(rule, finding, resource_type)
    if chosen is None:
        return {"kind": "text", "now": rule.now}
    if not lines:
        return {"kind": "manual", "now": f"No single command fixes this: {chosen.manual}"}
    return {"kind": "command", "now": " && ".join(lines)}


def fixed_type(finding: Finding) -> str | None:
    """The resource type a finding's fix is chosen by: its resource's, or a secret's for the secrets' checks."""
    parts = resource_parts(finding.resource)
    if parts is not None:
        return parts[0]
    return catalog.SECRET if finding.check_id.startswith("secret.") else None


def explanation(finding: Finding) -> dict[str, Any]:
    """Everything a reader of one finding needs, with nothing looked up elsewhere."""
    rule = catalog.CATALOG.get(finding.rule_id)
    parts = resource_parts(finding.resource)
    resource: dict[str, Any] = {"name": finding.resource}
    if parts is not None:
        resource = {"type": parts[0], "logical_id": parts[1], "physical_id": parts[2], "name": finding.resource}
    explained = {
        "title": finding.title or (rule.title if rule else finding.rule_id),
        "rationale": rule.rationale if rule else "",
        "evidence": {"found": finding.reason, "resource": resource, "read_with": read_with(finding)},
        "remediation": {**fix_now(rule, finding, fixed_type(finding)), "in_code": rule.in_code if rule else ""},
        "controls": controls(rule),
    }
    if finding.status is Status.ERROR:  # no verdict: the rule's fix is for a FAIL that nobody has seen
        explained["remediation"] = {"now": COULD_NOT_LOOK, "in_code": ""}
    return explained
