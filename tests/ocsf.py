"""A validator of OCSF events against the OCSF schema's own files (vendored in tests/schemas/ocsf-1.8.0, with
their source in its NOTICE): the class's attributes through its `extends` chain and declared profiles, each
object's through its own, the dictionary's types and arrays, enums (ids), `at_least_one` constraints, and the
uid arithmetic (class_uid = category_uid * 1000 + class uid, type_uid = class_uid * 100 + activity_id).
It reads only the parts our Compliance Findings use; an attribute it cannot find is an error, never a pass."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).resolve().parent / "schemas" / "ocsf-1.8.0"
EVENTS = {"base_event": "events/base_event.json", "finding": "events/findings/finding.json",
          "compliance_finding": "events/findings/compliance_finding.json"}
# uids the schema compiler fills in per class (their enums in the sources are placeholders): checked by arithmetic
COMPUTED = frozenset({"class_uid", "category_uid", "type_uid"})
PRIMITIVE = {"string_t": str, "integer_t": int, "long_t": int, "timestamp_t": int, "boolean_t": bool,
             "float_t": (int, float)}


@functools.cache
def _load(relative: str) -> dict[str, Any]:  # read once: the schema's files are read-only here
    return json.loads((SCHEMA / relative).read_text())


@functools.cache
def dictionary() -> dict[str, Any]:
    return _load("dictionary.json")["attributes"]


def base_type(kind: str) -> str:
    """A derived type (resource_uid_t, url_t, ...) as the primitive it is made of (string_t, ...)."""
    types = _load("dictionary.json")["types"]["attributes"]
    while kind.endswith("_t") and kind not in PRIMITIVE and types.get(kind, {}).get("type"):
        kind = types[kind]["type"]
    return kind


def _merged(chain: list[dict[str, Any]], profiles: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    attributes: dict[str, dict[str, Any]] = {}
    for definition in chain:
        for name, spec in definition.get("attributes", {}).items():
            if name == "$include":
                continue
            merged = {**attributes.get(name, {}), **spec}
            if "enum" in spec and "enum" in attributes.get(name, {}):  # the schema compiler unites enums
                merged["enum"] = {**attributes[name]["enum"], **spec["enum"]}
            attributes[name] = merged
    for profile in profiles:
        for name, spec in _load(f"profiles/{profile}.json")["attributes"].items():
            attributes[name] = {**attributes.get(name, {}), **spec}
    return attributes


def _chain(kind: str, name: str) -> list[dict[str, Any]]:
    chain = []
    while name:
        definition = _load(EVENTS[name] if kind == "event" else f"objects/{name}.json")
        chain.insert(0, definition)
        name = definition.get("extends") or ""
    return chain


def _check(value: Any, attributes: dict[str, dict[str, Any]], where: str, errors: list[str],
           constraints: dict[str, Any] | None = None) -> None:
    if not isinstance(value, dict):
        errors.append(f"{where}: not an object")
        return
    for name, spec in attributes.items():
        if spec.get("requirement") == "required" and name not in value:
            errors.append(f"{where}.{name}: required, missing")
    at_least_one = (constraints or {}).get("at_least_one")
    if at_least_one and not any(key in value for key in at_least_one):
        errors.append(f"{where}: needs at least one of {at_least_one}")
    for name, item in value.items():
        spec = attributes.get(name)
        if spec is None:
            errors.append(f"{where}.{name}: not an attribute of this class or object")
            continue
        known = {**dictionary().get(name, {}), **spec}
        kind = base_type(known["type"]) if known.get("type") else None
        items = item if known.get("is_array") else [item]
        if known.get("is_array") and not isinstance(item, list):
            errors.append(f"{where}.{name}: must be an array")
            continue
        for one in items:
            if kind in PRIMITIVE:
                if not isinstance(one, PRIMITIVE[kind]) or (kind != "boolean_t" and isinstance(one, bool)):
                    errors.append(f"{where}.{name}: {one!r} is not {kind}")
            elif kind == "json_t":
                pass
            elif kind == "object":  # the free-form object (unmapped): any members
                if not isinstance(one, dict):
                    errors.append(f"{where}.{name}: not an object")
            elif kind:
                definition = _chain("object", kind)
                _check(one, _merged(definition), f"{where}.{name}", errors,
                       next((d["constraints"] for d in reversed(definition) if d.get("constraints")), None))
            else:
                errors.append(f"{where}.{name}: no type in the dictionary")
            enum = known.get("enum")
            if enum and name not in COMPUTED and str(one) not in enum:
                errors.append(f"{where}.{name}: {one!r} is not one of {sorted(enum)}")


def validate(event: dict[str, Any], class_name: str = "compliance_finding") -> list[str]:
    """Every way `event` departs from the schema's class `class_name` (empty: valid)."""
    errors: list[str] = []
    chain = _chain("event", class_name)
    profiles = tuple(event.get("metadata", {}).get("profiles", [])) if isinstance(event, dict) else ()
    _check(event, _merged(chain, profiles), class_name, errors)
    named = next((d["category"] for d in reversed(chain) if d.get("category")), None)
    category = _load("categories.json")["attributes"][named]["uid"] if named else None
    class_uid = category * 1000 + chain[-1]["uid"] if category is not None else None
    if isinstance(event, dict):
        if event.get("category_uid") != category:
            errors.append(f"category_uid {event.get('category_uid')} is not {category}")
        if event.get("class_uid") != class_uid:
            errors.append(f"class_uid {event.get('class_uid')} is not {class_uid}")
        if class_uid is not None and event.get("type_uid") != class_uid * 100 + int(event.get("activity_id", -1)):
            errors.append(f"type_uid {event.get('type_uid')} is not class_uid * 100 + activity_id")
    return errors
