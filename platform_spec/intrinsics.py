"""Resolving the CloudFormation intrinsics of one template against the ids and attributes of a deployment
(the local deployer as it creates resources; opscli from the stack's physical ids)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

DYNAMIC_REF = re.compile(r"\{\{resolve:secretsmanager:(?P<id>[^:}]+(?::[^:}]+)*?)"
                         r":SecretString:(?P<key>[^:}]*)(?::[^}]*)?\}\}")


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
