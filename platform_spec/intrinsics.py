"""CloudFormation's intrinsic functions, the one home of what the code knows of them: reading a value that may be
one without resolving anything (as the rules read a template), the logical ids a value refers to, and resolving a
template's intrinsics against the ids and attributes of a deployment (the local deployer as it creates resources;
opscli from the stack's physical ids)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

TOKEN = "{token}"
DYNAMIC_REF = re.compile(r"\{\{resolve:secretsmanager:(?P<id>[^:}]+(?::[^:}]+)*?)"
                         r":SecretString:(?P<key>[^:}]*)(?::[^}]*)?\}\}")


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


def ref_references(value: Any) -> set[str]:
    """Every logical id a value points at through Ref or Fn::GetAtt (not Fn::Sub), however deep (inside Fn::Join,
    lists ...)."""
    found: set[str] = set()
    target = ref_target(value)
    if target is not None:
        found.add(target)
    elif isinstance(value, Mapping):
        for item in value.values():
            found |= ref_references(item)
    elif isinstance(value, list):
        for item in value:
            found |= ref_references(item)
    return found


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
                return re.sub(r"\$\{([^}!][^}]*)\}",
                              lambda m: str(variables[m.group(1)] if m.group(1) in variables
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


def references(value: Any) -> set[str]:
    """Logical ids a value refers to (Ref, GetAtt, and ${X} / ${X.Attr} in Fn::Sub, but for the names its own
    variable map defines)."""
    found: set[str] = set()
    if isinstance(value, list):
        for v in value:
            found |= references(v)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg[0] if isinstance(arg, list) else arg.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                local = set(arg[1]) if not isinstance(arg, str) and isinstance(arg[1], dict) else set()
                found |= {m.split(".", 1)[0] for m in re.findall(r"\$\{([^}!][^}]*)\}", text)} - local
                if not isinstance(arg, str):
                    found |= references(arg[1])
            else:
                found |= references(arg)
    return found
