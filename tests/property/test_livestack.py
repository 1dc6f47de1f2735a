"""Properties of opscli.livestack's drift comparison: its shortcut never changes its verdict."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.property.strategies import property_values


def _twin(value):
    """An equal value of another type where there is one (True and 1, 30 and 30.0), else the value itself."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, (int, float)) and float(value).is_integer():
        return float(value) if isinstance(value, int) else int(value)
    return value


def _twinned(value, flip):
    if isinstance(value, dict):
        return {k: _twinned(v, flip) for k, v in value.items()}
    if isinstance(value, list):
        return [_twinned(v, flip) for v in value]
    return _twin(value) if flip() else value


@given(property_values, property_values, st.data())
def test_same_agrees_with_comparing_the_canonical_forms(declared, other, data):
    """The drift comparison's shortcut (values the same as they are) never changes its verdict: on unrelated
    values, and on a value against a copy of it with some scalars swapped for an equal one of another type."""
    from opscli.livestack import _canonical, _same, same

    twinned = _twinned(declared, lambda: data.draw(st.booleans()))
    for live in (other, twinned):
        assert same(declared, live) == _same(_canonical(declared), _canonical(live)), (declared, live)
    assert same(declared, declared)
