"""Reading CloudFormation values that may be intrinsic functions, without resolving anything."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TOKEN = "{token}"


def as_dict(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one: malformed input is judged, never crashes a rule."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """`value` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def ref_target(value: Any) -> str | None:
    """The logical id a value points at through Ref or Fn::GetAtt, else None."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        getatt = value.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt and isinstance(getatt[0], str):
            return getatt[0]
        if isinstance(getatt, str):
            return getatt.split(".", 1)[0]
    return None


def render(value: Any) -> str | None:
    """A string value with every embedded intrinsic replaced by TOKEN; None if it is not string-like."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        join = value.get("Fn::Join")
        if isinstance(join, list) and len(join) == 2 and isinstance(join[0], str) and isinstance(join[1], list):
            rendered = [render(part) for part in join[1]]
            return join[0].join(TOKEN if part is None else part for part in rendered)
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            import re

            return re.sub(r"\$\{[^}]+\}", TOKEN, value["Fn::Sub"])
        return TOKEN
    return None


def is_true(value: Any) -> bool:
    """CloudFormation booleans arrive as true or "true"."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def tag_map(value: Any) -> dict[str, Any]:
    """Tags in either CloudFormation form (list of Key/Value, or a map) as a dict."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if isinstance(k, str)}
    if isinstance(value, list):
        return {t["Key"]: t.get("Value") for t in value if isinstance(t, dict) and isinstance(t.get("Key"), str)}
    return {}


def references(value: Any) -> set[str]:
    """Every logical id a value points at through Ref or Fn::GetAtt, however deep (inside Fn::Join, lists ...)."""
    found: set[str] = set()
    target = ref_target(value)
    if target is not None:
        found.add(target)
    elif isinstance(value, Mapping):
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found
