"""opscli.sanitize: nothing a terminal acts on survives, everything printable does."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from opscli.sanitize import INVISIBLE_CODES, is_visible, visible, visible_json

INVISIBLE = [chr(code) for code in sorted(INVISIBLE_CODES)]

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


@given(st.text(st.characters(categories=("L", "M", "N", "P", "S", "Zs"), exclude_characters=INVISIBLE)))
def test_printable_text_passes_unchanged(text):
    assert visible(text) == text


@pytest.mark.parametrize("filler", INVISIBLE)
def test_characters_drawn_as_nothing_are_shown_too(filler):
    """Letters by category (U+115F HANGUL CHOSEONG FILLER), but drawn as nothing: a name holding one looks like
    another name."""
    assert visible(f"rds-{filler}prod") == f"rds-\\u{ord(filler):04x}prod"
    assert json.loads(visible_json(json.dumps(f"a{filler}b", ensure_ascii=False))) == f"a{filler}b"
    assert visible_json(json.dumps(f"a{filler}b", ensure_ascii=False)).isascii()


def test_line_feeds_are_kept_only_when_asked():
    assert visible("a\nb") == "a\\x0ab"
    assert visible("a\nb\x1b", lines=True) == "a\nb\\x1b"


@given(st.text() | st.sampled_from(HOSTILE))
@example("\ud800")  # a lone surrogate: raw, the JSON could not even be written as UTF-8
@example("\U000e0041")  # a tag character (Cf) beyond the BMP: JSON writes it as a surrogate pair
def test_json_reads_back_the_same_and_holds_nothing_a_terminal_acts_on(text):
    """The JSON of any text, with the layout's line feeds, reads back as exactly that text, and only its line
    feeds are characters `visible` would change."""
    document = visible_json(json.dumps({"value": text, "list": [text]}, indent=2, ensure_ascii=False))
    assert json.loads(document) == {"value": text, "list": [text]}
    assert is_visible(document, lines=True)


def test_json_escapes_what_json_dumps_leaves_raw():
    raw = json.dumps("\x9b31m\u202e\x7f", ensure_ascii=False)
    assert "\x9b" in raw  # json.dumps escapes C0 controls only
    assert visible_json(raw) == '"\\u009b31m\\u202e\\u007f"'
