"""opscli.sanitize: nothing a terminal acts on survives, everything printable does."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from opscli.sanitize import is_visible, visible

HOSTILE = ["\x1b[2J", "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\", "\x1b]52;c;aGk=\x07", "\u202e",
           "\x9b31m", "\x07", "\x08\x08", "\r", "\u2066", "\u200f", "\ufeff", "\u2028", "\x00", "\x7f"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_every_control_and_bidi_character_is_shown_as_its_escape(hostile):
    shown = visible(f"tag {hostile} value")
    assert shown.startswith("tag ") and shown.endswith(" value")
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp") for c in shown)
    assert "\\x" in shown or "\\u" in shown


@given(st.text())
@example("\x1b[2J")
def test_the_result_holds_no_character_a_terminal_acts_on_and_is_a_fixed_point(text):
    """Whatever the input, the output has no control, format or separator character, and sanitizing it again
    changes nothing (so a view that sanitizes twice shows the same)."""
    shown = visible(text)
    assert all(c == "\t" or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for c in shown)
    assert visible(shown) == shown and is_visible(shown)


@given(st.text(st.characters(categories=("L", "M", "N", "P", "S", "Zs"))))
def test_printable_text_passes_unchanged(text):
    assert visible(text) == text


def test_line_feeds_are_kept_only_when_asked():
    assert visible("a\nb") == "a\\x0ab"
    assert visible("a\nb\x1b", lines=True) == "a\nb\\x1b"
