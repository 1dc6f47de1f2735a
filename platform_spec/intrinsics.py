"""CloudFormation's intrinsic functions, the one home of what the code knows of them: reading a value that may be
one without resolving anything (as the rules read a template), the logical ids a value refers to, and resolving a
template's intrinsics against the ids and attributes of a deployment (the local deployer as it creates resources;
opscli from the stack's physical ids)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

TOKEN = "{token}"
# ${X} or ${X.Attr} in an Fn::Sub string; ${!X} is the literal text ${X}
SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")
# The intrinsics that refer to a name
REFERRING = frozenset({"Ref", "Fn::GetAtt", "Fn::Sub"})
DYNAMIC_REF = re.compile(r"\{\{resolve:secretsmanager:(?P<id>[^:}]+(?::[^:}]+)*?)"
                         r":SecretString:(?P<key>[^:}]*)(?::[^}]*)?\}\}")


def as_dict(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one: malformed input is judged, never crashes a rule."""
    return value if isinstance(value, Mapping) else {}


#: The most digits `as_int` reads: more than any count, port or number of days a template holds, far fewer than the
#: 4,300 past which int() refuses a string with its own error.
MAX_INT_DIGITS = 18


def as_int(value: Any) -> int | None:
    """A template's whole number: an int (not a bool), or a string CloudFormation reads as one (ASCII digits, a
    leading minus allowed, at most MAX_INT_DIGITS digits); None for anything else. int() alone reads fullwidth
    digits, spaces and underscores, and raises on a superscript or on thousands of digits: malformed input is
    judged, never crashes a rule."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    negative = value.startswith("-")
    digits = value[1:] if negative else value
    if not (digits.isascii() and digits.isdigit()):
        return None
    significant = digits.lstrip("0")  # int() counts leading zeros toward its 4,300-digit limit
    if len(significant) > MAX_INT_DIGITS:
        return None
    number = int(significant or "0")
    return -number if negative else number


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


def _sub_parts(arg: Any) -> tuple[str | None, Mapping[str, Any]]:
    """An Fn::Sub's argument as (its string, its own variable map), whatever its shape."""
    if isinstance(arg, str):
        return arg, {}
    if isinstance(arg, list):
        text = arg[0] if arg and isinstance(arg[0], str) else None
        return text, arg[1] if text is not None and len(arg) > 1 and isinstance(arg[1], Mapping) else {}
    return None, {}


def _maps(value: Any) -> Iterator[Mapping[str, Any]]:
    """Every map in a value, however deep (inside lists and maps, an intrinsic's argument included). Iterative,
    so no nesting is too deep."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, Mapping):
            yield item
            pending.extend(item.values())


def references(value: Any) -> set[str]:
    """Every name a value refers to, however deep (inside Fn::Join, maps, lists ...): a logical id, a parameter or
    a pseudo parameter (AWS::Region) through Ref, Fn::GetAtt in both forms, and ${X} / ${X.Attr} in Fn::Sub but
    for the names the Sub's own variable map defines. A function is a map of one key, as CloudFormation and the
    Resolver read it. Never raises: what a malformed intrinsic holds is read like any other value (malformed
    input is judged, never crashes a rule); a caller that must refuse it asks malformed_references(). Iterative,
    so no nesting is too deep."""
    found: set[str] = set()
    for item in _maps(value):
        if len(item) != 1:
            continue
        (fn, arg), = item.items()
        if fn == "Ref" and isinstance(arg, str):
            found.add(arg)
        elif fn == "Fn::GetAtt" and isinstance(arg, str):
            found.add(arg.split(".", 1)[0])
        elif fn == "Fn::GetAtt" and isinstance(arg, list) and arg and isinstance(arg[0], str):
            found.add(arg[0])  # the attribute's name (a Ref, maybe) is read as the walk goes on
        elif fn == "Fn::Sub":
            text, variables = _sub_parts(arg)
            if text is not None:
                found |= {name.split(".", 1)[0] for name in SUB_NAME.findall(text)} - set(variables)
    return found


def malformed_references(value: Any) -> list[str]:
    """The referring intrinsics in a value that CloudFormation would refuse, each as its JSON: a Ref whose name is
    not a string, an Fn::GetAtt neither "Id.Attr" nor [Id, attribute], an Fn::Sub neither a string nor [string,
    map], and any of the three beside other keys (no function, and no plain map either). references() reads
    past them; a reader that vouches for a whole template refuses it instead."""
    bad: list[str] = []
    for item in _maps(value):
        if len(item) > 1 and REFERRING & set(item):
            bad.append(_json(item))
        elif len(item) == 1:
            (fn, arg), = item.items()
            if fn in REFERRING and not _well_formed(fn, arg):
                bad.append(_json(item))
    return bad


def _well_formed(fn: str, arg: Any) -> bool:
    if fn == "Ref":
        return isinstance(arg, str)
    if fn == "Fn::GetAtt":
        if isinstance(arg, str):
            return "." in arg
        return isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)
    if isinstance(arg, str):
        return True
    return isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], Mapping)


def _json(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=repr)[:200]
    except (TypeError, ValueError, RecursionError):
        return repr(value)[:200]


class Unresolvable(Exception):
    """A value refers to something the deployment does not have (or that the caller may not read)."""


class Resolver:
    def __init__(self, *, pseudo: Mapping[str, str | None], parameters: Mapping[str, Any], azs: list[str],
                 secret_value: Callable[[str, str], str] | None = None) -> None:
        self.pseudo = dict(pseudo)  # None: AWS::NoValue, a property left out
        self.parameters = dict(parameters)
        self.azs = azs
        self.secret_value = secret_value
        self.refs: dict[str, str] = {}
        self.attrs: dict[str, dict[str, Any]] = {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            return DYNAMIC_REF.sub(lambda m: self._secret(m.group("id"), m.group("key")), value)
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref":
                return self._ref(arg)
            if fn == "Fn::GetAtt":
                logical_id, attr = (arg if isinstance(arg, list) else arg.split(".", 1))
                try:
                    return self.attrs[logical_id][attr]
                except KeyError:
                    raise Unresolvable(f"{logical_id}.{attr}") from None
            if fn == "Fn::Join":
                return arg[0].join(str(self.resolve(part)) for part in self.resolve(arg[1]))
            if fn == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if fn == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if fn == "Fn::GetAZs":
                return list(self.azs)
            if fn == "Fn::Sub":
                template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return SUB_NAME.sub(lambda m: str(variables[m.group(1)] if m.group(1) in variables
                                                  else self._sub(m.group(1))),
                                    template)
        return {k: self.resolve(v) for k, v in value.items()}

    def _secret(self, secret_id: str, key: str) -> str:
        if self.secret_value is None:
            raise Unresolvable(f"secret {secret_id}")
        return self.secret_value(secret_id, key)

    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise Unresolvable(name)

    def _sub(self, name: str) -> Any:
        if "." in name:
            logical_id, attr = name.split(".", 1)
            try:
                return self.attrs[logical_id][attr]
            except KeyError:
                raise Unresolvable(name) from None
        return self._ref(name)
