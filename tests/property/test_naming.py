"""Properties of the naming rules (platform_spec.naming; pure functions, no synthesis here)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from platform_spec.naming import (
    NAMES,
    SERVICE_LIMITS,
    NamingError,
    max_suffix_length,
    name_problems,
    physical_name,
    suffix_problems,
)
from tests.property.strategies import any_text, forbidden_suffix_chars, valid_suffixes


def oracle_suffix_ok(text: str) -> bool:
    """An independent, character-by-character reading of the suffix rule."""
    if not text or len(text) > max_suffix_length():
        return False
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    if any(ch not in allowed for ch in text):
        return False
    return text[0] != "-" and text[-1] != "-" and "--" not in text


@given(valid_suffixes, st.sampled_from(sorted(NAMES)))
def test_every_generated_name_is_valid_for_its_service(suffix, key):
    """For any valid suffix, every physical name fits its service's length and charset limits."""
    name = physical_name(key, suffix)
    assert name_problems(name, NAMES[key].limit) == []
    assert name.endswith(f"-{suffix}") or f"-{suffix}/" in name


@given(any_text)
@example("prod")
@example("-prod")
@example("prod-")
@example("pr--od")
@example("")
@example("a" * 26)
def test_suffix_validator_agrees_with_an_independent_oracle(text):
    """The regex-based validator accepts exactly the suffixes the character-by-character oracle accepts."""
    assert (suffix_problems(text) == []) == oracle_suffix_ok(text)


@given(valid_suffixes, forbidden_suffix_chars, st.data())
def test_one_forbidden_character_is_rejected(suffix, bad, data):
    """Inserting a single forbidden character anywhere makes a valid suffix invalid."""
    at = data.draw(st.integers(min_value=0, max_value=len(suffix)))
    assert suffix_problems(suffix[:at] + bad + suffix[at:])


@given(valid_suffixes)
def test_one_character_too_many_is_rejected(suffix):
    """A suffix padded to exactly the limit passes; one more character fails with a length message."""
    limit = max_suffix_length()
    padded = (suffix + "a" * limit)[:limit]
    if padded.endswith("-"):
        padded = padded[:-1] + "a"
    assert suffix_problems(padded) == []
    too_long = padded + "a"
    assert any("characters; at most" in p for p in suffix_problems(too_long))


@given(st.sampled_from(sorted(SERVICE_LIMITS)), any_text)
def test_name_problems_never_crash_and_flag_overlong_names(limit_key, text):
    """Any text can be judged; anything longer than the service limit is reported as too long."""
    problems = name_problems(text, limit_key)
    if len(text) > SERVICE_LIMITS[limit_key].max_length:
        assert any("the limit is" in p for p in problems)


def test_tightest_name_sets_the_suffix_limit():
    """The 32-character load balancer names leave room for exactly the advertised suffix length."""
    limit = max_suffix_length()
    assert physical_name("target-group", "a" * limit)
    with pytest.raises(NamingError, match=r"at most \d+ fit"):
        physical_name("target-group", "a" * (limit + 1))
