"""platform_utils.numbers: a whole number is read from ASCII digits only, within its bounds; anything else is None,
never int()'s own error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from platform_utils.numbers import MAX_DIGITS, QUOTED_CHARACTERS, digits, quoted, whole


@pytest.mark.parametrize("text, expected", [
    ("5", 5), ("05", 5), ("000", 0), (b"12", 12), ("99", 99),
    ("\uff15", None),  # a fullwidth five: int() reads it
    ("\u0665", None),  # an Arabic-Indic five: int() reads it
    ("\u00b2", None),  # a superscript two: isdigit() admits it, int() refuses it
    (" 5", None), ("5 ", None), ("1_0", None), ("+5", None), ("-1", None), ("", None), ("5.0", None),
    (b"\xb2", None), (None, None), (5, None), (["5"], None),
])
def test_only_ascii_digits_are_a_whole_number(text, expected):
    assert whole(text) == expected
    assert digits(text) is (expected is not None)


def test_the_bounds_are_kept_and_leading_zeros_do_not_count_as_length():
    assert whole("0", 1, 20) is None and whole("21", 1, 20) is None and whole("20", 1, 20) == 20
    assert whole("000000000000000000000000000007", 1, 20) == 7
    assert whole("1" * (MAX_DIGITS + 1)) is None and whole("1" * MAX_DIGITS) == int("1" * MAX_DIGITS)
    assert digits("9" * 5000) and whole("9" * 5000) is None  # int() refuses over 4,300 digits with its own error
    assert whole("0", 0, -1) is None  # an empty range (an index into nothing) holds no number
    # leading zeros count toward int()'s 4,300-digit limit though not toward the length: never its error
    assert whole("0" * 5000 + "7", 1, 20) == 7 and whole("0" * 5000) == 0 and whole(b"0" * 5000 + b"12") == 12


@given(st.one_of(st.text(), st.binary()), st.integers(-5, 50), st.one_of(st.none(), st.integers(-5, 10**6)))
def test_whole_never_raises_and_answers_only_what_int_reads_from_ascii_digits(text, low, high):
    value = whole(text, low, high)
    readable = text.decode("latin-1") if isinstance(text, bytes) else text
    if value is None:
        assert not (readable.isascii() and readable.isdigit() and len(readable.lstrip("0")) <= MAX_DIGITS
                    and low <= int(readable) and (high is None or int(readable) <= high))
    else:
        assert readable.isascii() and readable.isdigit() and value == int(readable)
        assert low <= value and (high is None or value <= high)


def test_a_refused_text_is_quoted_whole_when_short_and_cut_with_its_length_when_long():
    assert quoted("eighty") == "'eighty'" and quoted("x" * QUOTED_CHARACTERS) == repr("x" * QUOTED_CHARACTERS)
    assert quoted("9" * 5000) == f"{'9' * QUOTED_CHARACTERS!r}... (5,000 characters)"
    # Short or long, through repr: a control character, a bidi override or a lone surrogate never reaches it raw.
    for hostile in ("\n", "\x00\x1b[2J", "\u202eevil", "\udcff"):
        assert quoted(hostile) == repr(hostile)
    assert quoted("\n" * 50).count("\n") == 0
