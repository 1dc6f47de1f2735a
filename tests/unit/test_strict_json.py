"""platform_spec/strict_json.py: JSON with no object that names a key twice, at any depth."""

from __future__ import annotations

import json

import pytest

from platform_spec.strict_json import KeyTwice, parse


def test_a_text_whose_keys_are_unique_reads_as_json_reads_it():
    text = '{"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"]}], "n": 1.5, "k": null}'
    assert parse(text) == json.loads(text) and parse(text.encode()) == json.loads(text)


@pytest.mark.parametrize("text", [
    '{"Effect": "Allow", "Effect": "Deny"}',
    '{"Statement": [{"Effect": "Allow", "Action": "*", "Effect": "Deny"}]}',
    '[1, {"a": {"b": 1, "b": 2}}]',
], ids=["top", "in-a-list", "deep"])
def test_an_object_that_names_a_key_twice_is_refused_wherever_it_is(text):
    with pytest.raises(KeyTwice, match="twice in one object"):
        parse(text)


def test_the_refusal_is_a_value_error_that_quotes_the_key_cut_to_40_characters():
    with pytest.raises(ValueError, match=r"^the key '" + "k" * 40 + "' twice in one object$"):
        parse('{"' + "k" * 5000 + '": 1, "' + "k" * 5000 + '": 2}')


def test_other_errors_are_json_s_own():
    with pytest.raises(json.JSONDecodeError):
        parse('{"a": ')
