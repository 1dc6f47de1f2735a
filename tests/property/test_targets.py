"""Properties of opscli.targets: the names a suffix derives, and every suffix the validator rejects refused."""

from __future__ import annotations

from hypothesis import given

from opscli.errors import UsageError
from opscli.targets import from_suffix
from tests.property.strategies import any_text, valid_suffixes


@given(valid_suffixes)
def test_every_valid_suffix_derives_names_with_that_suffix(suffix):
    """opscli looks for exactly the names the stack's naming function gives."""
    t = from_suffix(suffix)
    assert t.db_instance == f"rds-{suffix}" and t.redis_group == f"redis-{suffix}"
    assert all(name.endswith(f"-{suffix}") for name in (*t.services, *t.log_groups, *t.secrets))


@given(any_text)
def test_invalid_suffixes_are_usage_errors(text):
    """Anything the suffix validator rejects is a usage error in opscli, never a lookup."""
    from platform_spec.naming import suffix_problems
    if suffix_problems(text):
        try:
            from_suffix(text)
        except UsageError:
            return
        raise AssertionError(f"{text!r} accepted")  # pragma: no cover
