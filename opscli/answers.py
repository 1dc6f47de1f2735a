"""The checks of every 2xx AWS answer before any reader sees it: a verdict never rests on an unreadable answer.

An answer that could not be fully read is CouldNotLook (reported as ERROR). opscli.aws puts `check_answer` on every
session it guards, and `decode_iam_policies` in place of botocore's own decoding of IAM's policy documents:
- the body is a whole document of its protocol: botocore turns an empty body into an empty answer and a JSON
  body it cannot parse into {"message": <body>}, so a proxy's HTML page or an answer cut short would read as
  "no tags", "no policy", "not associated";
- every value in the parsed answer has the type the operation's model gives it, at any depth (a list where
  a structure belongs, a string where a boolean does), and a value of an enumerated string is one of the
  model's values, case included: the readers copy values into the CloudFormation shape and compare them with
  constants, and a wrong-typed or misspelled value would otherwise become a drift, or a PASS or FAIL, of its own;
- each member is in the body at most once: botocore keeps one of two values (the last key of a JSON object; a
  repeated XML element it reads as a list, which a boolean then reads as false), so the other is never seen;
- on the wire, a boolean is a boolean and a number a number: botocore reads a REST-JSON `1` where a boolean
  belongs as false, `"true"` as true and `5.9` where an integer belongs as 5, each of which would then pass the
  type check above;
- an IAM policy document (URL-encoded JSON text, which botocore decodes into an object) names each key of an
  object once: botocore keeps the last "Effect" of two, another reader the first (`decode_iam_policies`).
"""

from __future__ import annotations

import json
import urllib.parse
import xml.etree.ElementTree as ElementTree
from datetime import datetime
from typing import Any

from platform_spec.contract import LOCAL_NOT_EMULATED
from platform_spec.result import CouldNotLook
from platform_spec.strict_json import KeyTwice, parse


def check_answer(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
    """A 2xx answer must be a whole document of its protocol when the operation returns anything, with each
    member once and each scalar of its wire type, and its parsed values must have the types (and enumerated
    values) of the operation's output shape."""
    if http_response is None or not 200 <= http_response.status_code < 300:
        return
    _check_body(http_response, model)
    if model.output_shape is not None:
        problem = _mistyped(parsed, model.output_shape, ())
        if problem:
            raise CouldNotLook(f"{model.service_model.service_name}:{model.name} answered with {problem}")


_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "long": (int,), "boolean": (bool,), "double": (int, float),
    "float": (int, float), "timestamp": (datetime,), "blob": (bytes, bytearray)}


_CONTAINERS = {"structure": (dict, "an object"), "list": (list, "a list"), "map": (dict, "a map")}
# The types a scalar of each kind may be without a closer look (_mistyped would pass it): exactly these, so that a
# bool where a number belongs (bool is an int) and any subclass still take the full check.
_EXACTLY: dict[str, frozenset[type]] = {"string": frozenset({str}), "integer": frozenset({int}),
                                        "long": frozenset({int}), "boolean": frozenset({bool}),
                                        "double": frozenset({int, float}), "float": frozenset({int, float}),
                                        "timestamp": frozenset({datetime}), "blob": frozenset({bytes, bytearray})}


def _children(value: Any, shape: Any) -> list[tuple[Any, Any]]:
    """(key, shape) of each value inside a container the model describes (unknown structure keys ignored)."""
    if shape.type_name == "structure":
        return [(key, member) for key, member in shape.members.items() if key in value]
    if shape.type_name == "list":
        return [(n, shape.member) for n in range(len(value))]
    return [(key, shape.value) for key in value]


def _where(path: tuple) -> str:
    return ".".join(str(p) for p in path) or "the answer"


def _mistyped(value: Any, shape: Any, path: tuple) -> str | None:
    """Where `value` departs from `shape` (its path and the types), or None. (Every value of every answer goes
    through here: the path is spelled out only for a problem.)"""
    kind = shape.type_name
    if kind == "structure" and shape.metadata.get("document"):
        return None  # a free-form document: any JSON value
    if kind in _CONTAINERS:
        expected, said = _CONTAINERS[kind]
        if not isinstance(value, expected):
            return f"{_where(path)} of type {type(value).__name__}, not {said}"
        if kind == "map" and any(not isinstance(key, str) for key in value):
            return f"{_where(path)} with a key that is not a string"
        for key, sub in _children(value, shape):
            item = value[key]
            if type(item) in _EXACTLY.get(sub.type_name, ()) and not (sub.type_name == "string" and sub.enum):
                continue  # a scalar of exactly its type, not enumerated: nothing to check in it
            problem = _mistyped(item, sub, (*path, key))
            if problem:
                return problem
        return None
    expected_scalar = _SCALARS.get(kind)
    if expected_scalar is None:
        return None  # a type this check does not know: left to the reader's own accessor
    if not isinstance(value, expected_scalar) or (kind in ("integer", "long", "double", "float")
                                                 and isinstance(value, bool)):
        return f"{_where(path)} of type {type(value).__name__}, not {kind}"
    if kind == "string" and shape.enum and value not in shape.enum and \
            value not in ENUM_BEYOND_THE_MODEL.get(shape.name, ()):
        # Exactly: a model's value in another case is not one AWS answers (a key "ENABLED" would FAIL "not
        # Enabled"). Every genuine recording's enumerated values are the model's (tests/opscli/test_genuine_answers).
        return f"{_where(path)} = {str(value)[:40]!r}, not one of its model's values"
    return None


# Values of an enumerated string accepted beyond botocore's model, by shape name, each with its evidence:
# - AttachmentStatus "available": an internet gateway's attachment to its VPC. The model's own documentation of
#   InternetGatewayAttachment.State says so ("the state is available when attached to a VPC"), as does the AWS
#   CLI reference's example answer of describe-internet-gateways; its enum lists attaching/attached/... only.
# - ResourceStatus LOCAL_NOT_EMULATED: the status a local deployment's record gives each resource the emulator
#   does not create (its ListStackResources answer; opscli.stack reads it).
ENUM_BEYOND_THE_MODEL = {"AttachmentStatus": frozenset({"available"}),
                         "ResourceStatus": frozenset({LOCAL_NOT_EMULATED})}


# The protocols whose bodies _check_body reads (tests/opscli/test_answers.py: every operation opscli declares
# answers in one of them).
BODY_PROTOCOLS = ("json", "rest-json", "query", "ec2", "rest-xml")


def _protocol(service_model: Any) -> str:
    """The protocol botocore speaks with the service: the first of the model's `protocols` it supports
    (CloudWatch's model lists CBOR first, botocore speaks JSON), or the model's one."""
    return getattr(service_model, "resolved_protocol", None) or service_model.protocol


def _check_body(http_response: Any, model: Any) -> None:
    output = model.output_shape
    if output is None or not any(not m.serialization.get("location") for m in output.members.values()):
        return  # nothing is carried in the body (no output, or only headers and the status code)
    if output.serialization.get("payload") and \
            output.members[output.serialization["payload"]].type_name in ("blob", "string"):
        return  # a raw payload (e.g. a policy document as the body): any bytes are its value
    if getattr(http_response, "raw", None) is None:
        return  # an answer made in memory (botocore's Stubber): no body to check; its types still are
    body = http_response.content or b""
    what = f"{model.service_model.service_name}:{model.name}"
    if not body.strip():
        raise CouldNotLook(f"{what} answered 200 with an empty body")
    protocol = _protocol(model.service_model)
    if protocol in ("json", "rest-json"):
        try:
            document = parse(body)  # Python's json keeps the last of a key named twice: refused instead
        except KeyTwice as twice:
            raise CouldNotLook(f"{what} answered with {twice}") from None
        except ValueError:
            raise CouldNotLook(f"{what} answered with a body that is not JSON ({body[:60]!r})") from None
        if not isinstance(document, dict):
            raise CouldNotLook(f"{what} answered with JSON that is not an object")
        _check_json_members(document, output, what)
        problem = _json_scalar(document, _body_shape(output), ())
        if problem:
            raise CouldNotLook(f"{what} answered with {problem}")
    elif protocol in ("query", "ec2", "rest-xml"):
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            raise CouldNotLook(f"{what} answered with a body that is not XML ({body[:60]!r})") from None
        _check_xml_answer(root, model, what)


# IAM's shape of a policy document in its answers: URL-encoded JSON text.
POLICY_DOCUMENT_SHAPE = "policyDocumentType"


def decode_iam_policies(parsed: Any, model: Any, **_: Any) -> None:
    """In place of botocore's own after-call handler (botocore.handlers.json_decode_policies), which decodes each
    IAM policy document into an object and keeps the last of two keys: the same decoding, read as a policy's text
    is (platform_spec.strict_json), so that an answer holding a document that names a key twice is could not look.
    Text that is not JSON stays text, as botocore leaves it (the reader then refuses it)."""
    if model.output_shape is not None:
        _decode_policies(parsed, model.output_shape, f"{model.service_model.service_name}:{model.name}")


def _decode_policies(parsed: Any, shape: Any, what: str) -> None:
    if shape.type_name == "structure" and isinstance(parsed, dict):
        for name, member in shape.members.items():
            if name not in parsed:
                continue
            if member.type_name == "string" and member.name == POLICY_DOCUMENT_SHAPE:
                if isinstance(parsed[name], str):
                    try:
                        parsed[name] = parse(urllib.parse.unquote(parsed[name]))
                    except KeyTwice as twice:
                        raise CouldNotLook(f"{what} answered a policy document ({name}) with {twice}") from None
                    except (ValueError, RecursionError):
                        pass
            else:
                _decode_policies(parsed[name], member, what)
    elif shape.type_name == "list" and isinstance(parsed, list):
        for item in parsed:
            _decode_policies(item, shape.member, what)


def _body_shape(output: Any) -> Any:
    """The shape of what a JSON body holds: the payload member's where the output names one."""
    payload = output.serialization.get("payload")
    return output.members[payload] if payload else output


def _json_scalar(value: Any, shape: Any, path: tuple) -> str | None:
    """The first scalar in a JSON body that is not the JSON type its shape needs (`1` or `"true"` for a boolean,
    `"5"`, `5.9` or `true` for an integer), by its wire path, or None. botocore's REST-JSON parser converts these
    silently; containers of the wrong type are the parsed check's."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict) and not shape.metadata.get("document"):
        for name, member in _wire_names(shape).items():
            if name in value and value[name] is not None:
                problem = _json_scalar(value[name], member, (*path, name))
                if problem:
                    return problem
    elif kind == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            if item is not None:
                problem = _json_scalar(item, shape.member, (*path, index))
                if problem:
                    return problem
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            if item is not None:
                problem = _json_scalar(item, shape.value, (*path, key))
                if problem:
                    return problem
    elif kind == "boolean" and not isinstance(value, bool):
        return f"{_where(path)} = {json.dumps(value)[:20]}, not true or false"
    elif kind in ("integer", "long") and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{_where(path)} = {json.dumps(value)[:20]}, not an integer"
    elif kind in ("float", "double") and (isinstance(value, bool) or not isinstance(value, (int, float))) and \
            value not in ("NaN", "Infinity", "-Infinity"):
        return f"{_where(path)} = {json.dumps(value)[:20]}, not a number"
    return None


# The root element of the REST-XML answers whose output has no payload member, where botocore's model does not
# name it (the S3 API reference does). tests/opscli/test_answers.py fails when an operation opscli declares lacks
# its entry here.
REST_XML_ROOTS = {"s3:GetBucketNotificationConfiguration": "NotificationConfiguration",
                  "s3:GetBucketTagging": "Tagging", "s3:GetBucketVersioning": "VersioningConfiguration",
                  "s3:GetBucketLocation": "LocationConstraint", "s3:GetBucketLogging": "BucketLoggingStatus",
                  "s3:ListBucketInventoryConfigurations": "ListInventoryConfigurationsResult"}


def _not_its_answer(what: str, found: str) -> CouldNotLook:
    return CouldNotLook(f"{what} answered with a document that is not its answer ({found})")


def _wire_names(shape: Any) -> dict[str, Any]:
    """A structure's members in the body, by the name they have on the wire."""
    return {member.serialization.get("name", name): member for name, member in shape.members.items()
            if not member.serialization.get("location")}


def _check_json_members(document: dict, output: Any, what: str) -> None:
    """A JSON answer names at least one member of the operation's output, unless it is empty (every member is
    optional): `{"status": "ok"}` from a proxy, or an error document sent with 200, is not an answer."""
    if not document:
        return
    members = _wire_names(output)
    if "__type" in document and "__type" not in members:
        raise _not_its_answer(what, f"an error document: {str(document.get('__type'))[:80]}")
    if not any(key in members for key in document):
        raise _not_its_answer(what, f"members {', '.join(sorted(map(str, document))[:4])}, none of its output's")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _check_xml_answer(root: Any, model: Any, what: str) -> None:
    """An XML answer is the operation's own: the query and EC2 protocols wrap it in <OperationResponse>, a
    REST-XML payload is the element its shape names; what it holds names members of the output, every
    boolean in it is spelled `true` or `false` (botocore reads any other spelling, `TRUE` included, as false),
    and no member is in it twice (botocore reads a repeated element as a list: a boolean then as false, a
    structure as its first)."""
    protocol, output, tag = _protocol(model.service_model), model.output_shape, _local(root.tag)
    if tag in ("ErrorResponse", "Error") or (tag == "Response" and root.find("Errors") is not None):
        code = next((e.text for e in root.iter() if _local(e.tag) == "Code"), "?")
        raise _not_its_answer(what, f"an error document: {str(code)[:80]}")
    if tag.lower() == "html":
        raise _not_its_answer(what, "an HTML page")
    node = root
    if protocol in ("query", "ec2"):
        if tag != f"{model.name}Response":
            raise _not_its_answer(what, f"<{tag}>, not <{model.name}Response>")
        wrapper = output.serialization.get("resultWrapper")
        if wrapper:
            results = [child for child in root if _local(child.tag) == wrapper]
            if not results:
                raise _not_its_answer(what, f"<{tag}> without <{wrapper}>")
            if len(results) > 1:
                raise CouldNotLook(f"{what} answered with <{wrapper}> twice")
            node = results[0]
    else:
        payload = output.serialization.get("payload")
        expected = REST_XML_ROOTS.get(what)
        if payload:
            member = output.members[payload]
            expected = member.serialization.get("name", member.name)
            output = member
        if expected is not None and tag != expected:
            raise _not_its_answer(what, f"<{tag}>, not <{expected}>")
    members = _wire_names(output)
    children = [_local(child.tag) for child in node]
    known = [name for name in children if name in members]
    if children and not known and not (protocol == "ec2" and set(children) <= {"requestId"}):
        raise _not_its_answer(what, f"<{tag}> holding {', '.join(sorted(set(children))[:4])}, none of its output's")
    problem = _xml_problem(node, output, ())
    if problem:
        raise CouldNotLook(f"{what} answered with {problem}")


_XML_BOOLEANS = ("true", "false")


def _flattened(shape: Any) -> bool:
    return shape.type_name in ("list", "map") and bool(shape.serialization.get("flattened"))


def _xml_problem(element: Any, shape: Any, path: tuple) -> str | None:
    """The first problem inside `element` (read as `shape`), or None: a boolean spelled other than true/false, a
    member element that is in its structure twice (only a flattened list's or map's items repeat), or a map
    entry whose key is in the map twice."""
    kind = shape.type_name
    if kind == "boolean":
        text = element.text or ""
        return None if text in _XML_BOOLEANS else f"{_where(path)} = {text[:20]!r}, not true or false"
    if kind == "structure":
        members, seen = _wire_names(shape), set()
        flattened_maps: dict[str, list[Any]] = {}
        for child in element:
            name = _local(child.tag)
            member = members.get(name)
            if member is None:
                continue
            if not _flattened(member):
                if name in seen:
                    return f"{_where((*path, name))} twice"
                seen.add(name)
            if member.type_name == "list" and _flattened(member):
                problem = _xml_problem(child, member.member, (*path, name))
            elif member.type_name == "map" and _flattened(member):
                flattened_maps.setdefault(name, []).append(child)
                problem = None
            else:
                problem = _xml_problem(child, member, (*path, name))
            if problem:
                return problem
        for name, entries in flattened_maps.items():
            problem = _xml_map(entries, members[name], (*path, name))
            if problem:
                return problem
        return None
    if kind == "list":
        for index, child in enumerate(element):
            problem = _xml_problem(child, shape.member, (*path, index))
            if problem:
                return problem
    if kind == "map":
        return _xml_map(list(element), shape, path)
    return None


def _xml_map(entries: list[Any], shape: Any, path: tuple) -> str | None:
    """The first problem in a map's entries (<entry><key/><value/></entry>): a key or value element twice in one
    entry, a key twice in the map, or a problem inside a value."""
    key_name = shape.key.serialization.get("name") or "key"
    value_name = shape.value.serialization.get("name") or "value"
    keys = set()
    for entry in entries:
        parts = [_local(part.tag) for part in entry]
        for name in (key_name, value_name):
            if parts.count(name) > 1:
                return f"{_where(path)} with an entry holding <{name}> twice"
        key = next((part.text or "" for part in entry if _local(part.tag) == key_name), None)
        if key in keys:
            return f"{_where((*path, key))} twice"
        keys.add(key)
        for part in entry:
            if _local(part.tag) == value_name:
                problem = _xml_problem(part, shape.value, (*path, key))
                if problem:
                    return problem
    return None
