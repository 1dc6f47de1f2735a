"""What CloudFormation's resource schemas say about the shape at a property path: a map of free keys, or a
structure whose keys are named by the schema, or a free-form JSON document.

Drift needs the difference. An empty map (`Throttle: {}` of a usage plan's stage) holds nothing, and AWS leaves
it out of its answers: absent and empty are the same. An empty structure is a choice made by which key is
present: a WAF rule's `Action: {Block: {}}` against `{Count: {}}`, a web ACL's `DefaultAction: {Block: {}}`
against `{Allow: {}}`. Calling every empty object "what AWS left out" made those flips equal.

The schemas are AWS's own resource provider schemas as cfn-lint ships them, reduced to their structure (which
keys an object names, its items, its free keys, its references) for the types opscli reads, and kept in
`data/cfn_shapes.json` so that the operators' distribution needs no cfn-lint. `python -m policies.cfn_shapes`
writes that file again from the installed cfn-lint; a test fails while it is out of date.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data") / "cfn_shapes.json"


@functools.cache
def _schemas() -> dict[str, Any]:
    return json.loads(DATA.read_text(encoding="utf-8"))["types"]


def known_types() -> frozenset[str]:
    return frozenset(_schemas())


@dataclass(frozen=True)
class Where:
    """A place in one resource's properties: its type and the path to it (keys, list positions as ints)."""

    type: str
    path: tuple[str | int, ...] = ()

    def at(self, step: str | int) -> Where:
        """The place one step further in: a key, or a list position (every item of a list has the same schema,
        so every position is item 0, and the lookups of a list's items share one cache entry)."""
        return Where(self.type, (*self.path, 0 if isinstance(step, int) else step))

    def is_map(self) -> bool:
        """Whether the schema makes this place a map of free keys (so an empty one is what AWS leaves out). False
        for a structure, and for a place the schema does not describe: there an empty object is still a value."""
        return _kind(self.type, self.path) == "map"

    def is_named(self) -> bool:
        """Whether the schema names this place's keys (a structure such as a WAF rule), as opposed to a map, a
        free-form JSON document (a policy document) or a place it does not describe."""
        return _kind(self.type, self.path) == "structure"


@functools.lru_cache(maxsize=4096)
def _kind(rtype: str, path: tuple[str | int, ...]) -> str | None:
    schema = _schemas().get(rtype)
    if schema is None:
        return None
    nodes = [schema]
    for step in path:
        nodes = [child for node in nodes for child in _step(schema, node, step)]
        if not nodes:
            return None
    kinds = {_node_kind(schema, node) for node in nodes} - {None}
    return kinds.pop() if len(kinds) == 1 else None


def _resolved(schema: Mapping[str, Any], node: Mapping[str, Any], seen: frozenset[str] = frozenset()) \
        -> Iterable[Mapping[str, Any]]:
    """`node` with its $ref followed and its alternatives (oneOf, anyOf, allOf) spread out."""
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/") and ref not in seen:
        target = schema.get("definitions", {}).get(ref.rsplit("/", 1)[1])
        if isinstance(target, Mapping):
            yield from _resolved(schema, target, seen | {ref})
    yield node
    for keyword in ("oneOf", "anyOf", "allOf"):
        for alternative in node.get(keyword) or ():
            if isinstance(alternative, Mapping):
                yield from _resolved(schema, alternative, seen)


def _step(schema: Mapping[str, Any], node: Mapping[str, Any], step: str | int) -> list[Mapping[str, Any]]:
    found = []
    for part in _resolved(schema, node):
        if isinstance(step, int):
            if isinstance(part.get("items"), Mapping):
                found.append(part["items"])
            continue
        named = part.get("properties") or {}
        if step in named:
            found.append(named[step])
            continue
        for pattern, sub in (part.get("patternProperties") or {}).items():
            if isinstance(sub, Mapping) and re.search(pattern, step):
                found.append(sub)
                break
        else:
            if isinstance(part.get("additionalProperties"), Mapping):
                found.append(part["additionalProperties"])
    return found


def _node_kind(schema: Mapping[str, Any], node: Mapping[str, Any]) -> str | None:
    parts = list(_resolved(schema, node))
    if any(part.get("properties") for part in parts):
        return "structure"
    if any(part.get("patternProperties") or isinstance(part.get("additionalProperties"), Mapping)
           for part in parts):
        return "map"
    types = {t for part in parts for t in ([part["type"]] if isinstance(part.get("type"), str)
                                           else part.get("type") or ())}
    # An object the schema gives no keys (WAF's `OverrideAction: {None: {}}`, a policy document): free-form JSON,
    # where what is present is what was chosen.
    return "document" if "object" in types else None
