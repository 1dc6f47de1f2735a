"""Drift compares by CloudFormation's resource schemas: an empty map is what AWS leaves out, a key that selects a
variant (`{"Block": {}}` against `{"Count": {}}`) differs when it differs, in either direction."""

from __future__ import annotations

import functools
import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from opscli import shapes
from opscli.livestack import same
from opscli.shapes import Where
from opscli.stackcheck import changes

DEPTH = 5


def _objects(rtype: str) -> list[tuple[tuple, str, tuple[str, ...], tuple[str, ...]]]:
    """(path, kind, structure keys, map keys) of every object the schema of `rtype` describes, to DEPTH."""
    schema = shapes._schemas()[rtype]
    found = []

    def walk(node, path):
        if len(path) > DEPTH:
            return
        kind = shapes._node_kind(schema, node)
        parts = list(shapes._resolved(schema, node))
        named = {name: sub for part in parts for name, sub in (part.get("properties") or {}).items()}
        if path and kind in ("structure", "map"):
            structures = tuple(sorted(k for k in named if shapes._kind(rtype, (*path, k)) == "structure"))
            maps = tuple(sorted(k for k in named if shapes._kind(rtype, (*path, k)) == "map"))
            found.append((path, kind, structures, maps))
        for name, sub in named.items():
            walk(sub, (*path, name))
        for part in parts:
            if isinstance(part.get("items"), dict):
                walk(part["items"], (*path, 0))

    walk({"properties": schema.get("properties") or {}}, ())
    return found


@functools.cache
def selecting_places() -> list[tuple[str, tuple, tuple[str, ...]]]:
    """Objects with at least two keys whose values are structures: where a key present is a choice."""
    return [(rtype, path, keys) for rtype in sorted(shapes.known_types()) for path, kind, keys, _ in _objects(rtype)
            if kind == "structure" and len(keys) >= 2 and isinstance(path[0], str)]


@functools.cache
def map_places() -> list[tuple[str, tuple, str]]:
    return [(rtype, path, key) for rtype in sorted(shapes.known_types()) for path, kind, _, maps in _objects(rtype)
            if kind == "structure" and isinstance(path[0], str) for key in maps]


def _nested(path: tuple, value):
    """The value of the top-level property `path[0]` holding `value` at the rest of `path`."""
    for step in reversed(path[1:]):
        value = [value] if isinstance(step, int) else {step: value}
    return value


def test_the_schemas_give_places_of_both_kinds():
    assert len(selecting_places()) > 20 and len(map_places()) > 10
    assert any(t == "AWS::WAFv2::WebACL" and p == ("DefaultAction",) for t, p, _ in selecting_places())


def _pair(data, keys):
    chosen = data.draw(st.sampled_from(keys))
    other = data.draw(st.sampled_from([k for k in keys if k != chosen]))
    return chosen, other


@given(st.data())
@example(data=None)
def test_a_different_selecting_key_is_a_difference_in_either_direction(data):
    """Declared `{K: {}}` against live `{J: {}}`, `{}` or `{K: {}, J: {}}`, for two structure keys K and J of any
    object of any schema opscli compares: never the same, and drift names what changed."""
    if data is None:  # the case: a web ACL's default action flipped from Block to Allow
        rtype, path, chosen, other = "AWS::WAFv2::WebACL", ("DefaultAction",), "Block", "Allow"
    else:
        rtype, path, keys = data.draw(st.sampled_from(selecting_places()))
        chosen, other = _pair(data, keys)
    where = Where(rtype, path[:1])
    declared = _nested(path, {chosen: {}})
    another, both = _nested(path, {other: {}}), _nested(path, {chosen: {}, other: {}})
    for live in (another, both, _nested(path, {})):
        assert not same(declared, live, where), (rtype, path, declared, live)
        assert changes(declared, live, path[0], where) != [], (rtype, path)
    for live in (another, both):  # the other direction: what was declared is the live value now, and back
        assert not same(live, declared, where), (rtype, path, live, declared)
    assert same(declared, _nested(path, {chosen: {}}), where)


@given(st.data())
def test_an_empty_map_is_what_aws_leaves_out(data):
    """Declared `{M: {}}` for a map M of any schema's object equals live `{}`: the schema says M has free keys,
    and an empty one holds nothing."""
    rtype, path, key = data.draw(st.sampled_from(map_places()))
    where = Where(rtype, path[:1])
    assert same(_nested(path, {key: {}}), _nested(path, {}), where), (rtype, path, key)


@pytest.mark.parametrize(("declared", "live"), [
    ({"Block": {}}, {"Count": {}}),
    ({"Block": {}}, {"Allow": {}}),
    ({"Allow": {}}, {"Block": {}}),
    ({"None": {}}, {"Count": {}}),
])
def test_the_waf_flips_differ_and_say_so(declared, live):
    where = Where("AWS::WAFv2::WebACL", ("DefaultAction",))
    assert not same(declared, live, where)
    said = changes(declared, live, "DefaultAction", where)
    assert any("removed" in line for line in said) and any("added" in line for line in said), said


def test_without_a_schema_an_empty_object_is_still_a_value():
    assert not same({"Block": {}}, {"Count": {}})
    assert same({"Items": []}, {})  # an empty list is no items, whatever the schema
    assert json.dumps(Where("AWS::No::Such", ("X",)).is_map()) == "false"


def test_a_waf_rule_is_a_structure_not_a_policy_document():
    """Found by the property above: a rule's `Statement` and `Action` keys were read as a policy document's
    shorthands (a statement object as a list of one), which hid an empty structure chosen beside them."""
    rules = Where("AWS::WAFv2::WebACL", ("Rules",))
    assert not same([{"Statement": {}}], [{"Statement": {}, "Action": {}}], rules)
    assert same([{"Name": "r", "Action": {"Block": {}}}], [{"Name": "r", "Action": {"Block": {}}}], rules)


def test_a_policy_document_keeps_its_shorthands():
    trust = Where("AWS::IAM::Role", ("AssumeRolePolicyDocument",))
    statement = {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
    assert same({"Statement": statement}, {"Statement": [{**statement, "Action": ["sts:AssumeRole"]}]}, trust)
