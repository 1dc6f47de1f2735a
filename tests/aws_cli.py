"""An AWS CLI command line read as the AWS CLI (v1 and v2) reads it, against botocore's service models: the
command table (`aws <service> <operation>`, `s3api` for S3), the options of the operation's input shape in the
CLI's kebab-case names, boolean members as flags (`--multi-az` / `--no-multi-az`), lists as several words, and
each value as the CLI turns it into parameters (JSON where it starts with "{" or "[", else the CLI's shorthand
syntax, then scalars by their shape); then botocore's own parameter validation of the result (every member known,
every required member there, every value of its type and within its limits).

Why not the AWS CLI itself: no awscli release depends on the botocore we lock (1.44.8): awscli 1.46 bundles a
botocore of its own (an older one, 1.43.62, 130 MB installed), so its command table would not be the models
opscli reads with. This reads the models we ship. The shorthand grammar follows awscli/shorthand.py."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore import xform_name
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator

from opscli.aws import models

# Options the AWS CLI takes before or after any command (aws help global-options); those a fix may use.
GLOBAL_OPTIONS = {"--region": True, "--endpoint-url": True, "--profile": True, "--output": True,
                  "--no-cli-pager": False}
# The AWS CLI's command for a service whose botocore name it gives to a customization.
COMMAND_OF = {"s3": "s3api"}


class CommandError(ValueError):
    """The command line is not one the AWS CLI would run: what and where."""


@dataclass(frozen=True)
class Parsed:
    service: str  # botocore's service name
    operation: str  # the API operation name
    params: dict[str, Any]  # what the CLI would send
    region: str | None


@cache
def _commands() -> dict[str, str]:
    """The CLI's service command -> botocore's service name."""
    return {COMMAND_OF.get(name, name): name for name in models().get_available_services()}


@cache
def _operations(service: str) -> dict[str, OperationModel]:
    model = models().get_service_model(service)
    return {xform_name(name, "-"): model.operation_model(name) for name in model.operation_names}


def parse(line: str) -> Parsed:
    """The command line `line` (one command, shell-quoted) as the parameters the AWS CLI would send; CommandError
    where the CLI would refuse it."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise CommandError(f"not one shell command line: {exc}") from None
    if len(words) < 3 or words[0] != "aws":
        raise CommandError(f"not an AWS CLI command (aws SERVICE OPERATION ...): {line[:80]!r}")
    service = _commands().get(words[1])
    if service is None:
        raise CommandError(f"aws {words[1]}: no such service command")
    operation = _operations(service).get(words[2])
    if operation is None:
        raise CommandError(f"aws {words[1]} {words[2]}: no such operation")
    shape = operation.input_shape
    members = dict(shape.members) if shape is not None else {}
    options = {f"--{xform_name(name, '-')}": name for name in members}
    params: dict[str, Any] = {}
    region = None
    rest = words[3:]
    i = 0
    while i < len(rest):
        option = rest[i]
        if not option.startswith("--"):
            raise CommandError(f"{option!r}: a value without an option")
        values = []
        i += 1
        while i < len(rest) and not rest[i].startswith("--"):
            values.append(rest[i])
            i += 1
        if option in GLOBAL_OPTIONS:
            if GLOBAL_OPTIONS[option] != bool(values) or len(values) > 1:
                raise CommandError(f"{option}: takes {'one value' if GLOBAL_OPTIONS[option] else 'no value'}")
            region = values[0] if option == "--region" else region
            continue
        negated = option.startswith("--no-") and option not in options and f"--{option[5:]}" in options
        name = options.get(f"--{option[5:]}" if negated else option)
        if name is None:
            raise CommandError(f"aws {words[1]} {words[2]}: unknown option {option}")
        if name in params:
            raise CommandError(f"{option}: given twice")
        member = members[name]
        if member.type_name == "boolean":
            if values:
                raise CommandError(f"{option}: a boolean flag takes no value (got {values[0]!r})")
            params[name] = not negated
            continue
        if negated:
            raise CommandError(f"{option}: only a boolean has a --no- form")
        params[name] = _value(member, values, option)
    missing = [f"--{xform_name(name, '-')}" for name in (shape.required_members if shape is not None else [])
               if name not in params]
    if missing:
        raise CommandError(f"aws {words[1]} {words[2]}: the following arguments are required: {', '.join(missing)}")
    report = ParamValidator().validate(params, shape) if shape is not None else None
    if report is not None and report.has_errors():
        raise CommandError(f"aws {words[1]} {words[2]}: {report.generate_report()}")
    return Parsed(service, operation.name, params, region)


def _value(shape: Shape, values: list[str], option: str) -> Any:
    """One option's words as the CLI turns them into a parameter of `shape`."""
    if not values:
        raise CommandError(f"{option}: expected one argument")
    if shape.type_name == "list":
        if len(values) == 1 and values[0].lstrip().startswith("["):
            return _json(values[0], option)
        return [_one(shape.member, value, option) for value in values]
    if len(values) > 1:
        raise CommandError(f"{option}: expected one argument, got {len(values)}: {values!r}")
    return _one(shape, values[0], option)


def _one(shape: Shape, value: str, option: str) -> Any:
    if shape.type_name in ("structure", "map", "list"):
        if value.lstrip()[:1] in ("{", "["):
            return _json(value, option)
        try:
            parsed = Shorthand(value).parse()
        except CommandError as exc:
            raise CommandError(f"{option}: {exc}") from None
        return _typed(shape, parsed, option)
    return _typed(shape, value, option)


def _json(value: str, option: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{option}: invalid JSON: {exc}") from None


def _typed(shape: Shape, value: Any, option: str) -> Any:
    """A shorthand or scalar value with its scalars converted by their shape (awscli's BackCompatVisitor)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise CommandError(f"{option}: expected key=value pairs for a structure, got {value!r}")
        return {k: _typed(shape.members[k], v, option) if k in shape.members else v for k, v in value.items()}
    if kind == "map":
        if not isinstance(value, dict):
            raise CommandError(f"{option}: expected key=value pairs for a map, got {value!r}")
        return {k: _typed(shape.value, v, option) for k, v in value.items()}
    if kind == "list":
        return [_typed(shape.member, v, option) for v in (value if isinstance(value, list) else [value])]
    if not isinstance(value, str):
        raise CommandError(f"{option}: expected a {kind}, got {value!r}")
    if kind in ("integer", "long"):
        try:
            return int(value)
        except ValueError:
            raise CommandError(f"{option}: invalid int value: {value!r}") from None
    if kind in ("float", "double"):
        try:
            return float(value)
        except ValueError:
            raise CommandError(f"{option}: invalid float value: {value!r}") from None
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise CommandError(f"{option}: expected true or false, got {value!r}")
        return value.lower() == "true"
    if kind == "string" and shape.enum and value not in shape.enum:
        raise CommandError(f"{option}: {value!r} is not one of {', '.join(shape.enum)}")
    return value


class Shorthand:
    """The AWS CLI's shorthand syntax (`Key=a,Values=b,c`, `[x,y]`, `{K=v}`, quoted values), purely syntactic:
    a dict whose values are strings, lists and dicts."""

    KEY = re.compile(r"[a-zA-Z0-9\-_.#/:]+")

    def __init__(self, text: str) -> None:
        self.text, self.at = text, 0

    def parse(self) -> dict[str, Any]:
        result = self._pairs(end="")
        if self.at != len(self.text):
            self._fail("end of input")
        return result

    def _fail(self, expected: str) -> None:
        raise CommandError(f"expected {expected} at {self.at} of {self.text!r}")

    def _peek(self) -> str:
        return self.text[self.at:self.at + 1]

    def _pairs(self, end: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while True:
            key = self.KEY.match(self.text, self.at)
            if key is None:
                self._fail("a key")
            self.at = key.end()
            if self._peek() != "=":
                self._fail("'='")
            self.at += 1
            if key.group() in result:
                raise CommandError(f"second instance of key {key.group()!r} in {self.text!r}")
            result[key.group()] = self._values(end)
            if self._peek() != ",":
                return result
            self.at += 1

    def _next_is_key(self) -> bool:
        key = self.KEY.match(self.text, self.at)
        return key is not None and self.text[key.end():key.end() + 1] == "="

    def _values(self, end: str) -> Any:
        if self._peek() in ("", ",", end) and self._peek() != "[" and self._peek() != "{":
            return ""
        first = self._value(end)
        if isinstance(first, (list, dict)):
            return first
        found = [first]
        while self._peek() == "," and not self._next_is_key_after_comma():
            self.at += 1
            found.append(self._value(end))
        return found if len(found) > 1 else first

    def _next_is_key_after_comma(self) -> bool:
        self.at += 1
        try:
            return self._next_is_key()
        finally:
            self.at -= 1

    def _value(self, end: str) -> Any:
        char = self._peek()
        if char == "[":
            self.at += 1
            items = []
            while self._peek() != "]":
                items.append(self._value("]"))
                if self._peek() == ",":
                    self.at += 1
                elif self._peek() != "]":
                    self._fail("',' or ']'")
            self.at += 1
            return items
        if char == "{":
            self.at += 1
            pairs = self._pairs(end="}")
            if self._peek() != "}":
                self._fail("'}'")
            self.at += 1
            return pairs
        if char in ("'", '"'):
            close = self.text.find(char, self.at + 1)
            while close != -1 and self.text[close - 1] == "\\":
                close = self.text.find(char, close + 1)
            if close == -1:
                self._fail(f"a closing {char}")
            value = self.text[self.at + 1:close].replace("\\" + char, char)
            self.at = close + 1
            return value
        stop = {",", "]", "}"} if end else {","}
        start = self.at
        while self.at < len(self.text) and (self.text[self.at] not in stop or
                                            (self.text[self.at] == "," and self.text[self.at - 1] == "\\")):
            if self.text[self.at] in "[{=" and self.at == start:
                self._fail("a value")
            self.at += 1
        return self.text[start:self.at].replace("\\,", ",").strip()
