"""One sanitizer for every character that reaches an operator's terminal from outside opscli.

Text that AWS returns (tag values, descriptions, error messages) or that a file names can hold bytes a terminal
acts on: ESC and CSI sequences that clear the screen or move the cursor, OSC 8 hyperlinks and OSC 52 clipboard
writes, C1 controls, bidirectional overrides (U+202E) that make one name read as another. Every such character
is replaced by its escape (`\\x1b`, `\\u202e`), so the operator sees that it was there and the terminal never
acts on it. Printable text, tabs and (where asked) line breaks pass unchanged. JSON keeps its data as data and
writes the same characters as JSON's own `\\u` escapes (`visible_json`).
"""

from __future__ import annotations

import re
import unicodedata

# Categories of characters a terminal may act on or that change how the text around them reads: controls (C0, DEL,
# C1), format characters (bidi embeddings, overrides and isolates, zero-width joiners, the BOM), line and
# paragraph separators, surrogates, private-use and unassigned code points (a future bidi control is one today).
# Python's str.isprintable() is False for exactly these and for spaces other than " " (Zs), which are kept.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Printable by category, yet drawn as nothing (Unicode's default-ignorable code points outside those categories):
# the Hangul fillers, the combining grapheme joiner, Khmer's inherent vowels, Mongolian's free variation
# selectors. A name holding one looks like another name. The other variation selectors only pick a glyph (an
# emoji's presentation) and stay.
INVISIBLE_CODES = frozenset({0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x3164, 0xFFA0})
# Whether a text holds one of them: one scan in C, where a set of every character's code point would call ord() on
# each character of a report of megabytes.
_INVISIBLE = re.compile("[" + "".join(re.escape(chr(code)) for code in sorted(INVISIBLE_CODES)) + "]")


def _hidden(char: str) -> bool:
    return ord(char) in INVISIBLE_CODES or (not char.isprintable() and unicodedata.category(char) in _HIDDEN)


def _escaped(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: object, *, lines: bool = False) -> str:
    """`text` (str() of any value) with every control, format and separator character shown as its escape; tabs
    are kept. `lines=True` keeps line feeds (a multi-line detail); otherwise a line feed is shown too, so one
    value stays on one row."""
    text = str(text)
    if text.isprintable() and not _INVISIBLE.search(text):
        return text
    return text.translate(_LINES if lines else _ONE_LINE)


def _json_escaped(char: str) -> str:
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON writes a character beyond the BMP as its UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def visible_json(document: str) -> str:
    """JSON text (as `json.dumps(..., ensure_ascii=False)` writes it) with every character `visible` would
    escape written as JSON's `\\u` escape instead. json.dumps escapes only C0 controls: C1 controls (0x9b is a
    CSI), DEL and bidi overrides would otherwise reach a terminal that shows the report. Such characters occur
    only inside strings, so every parser reads the same document; the line feeds of the layout stay."""
    if document.replace("\n", "").isprintable() and not _INVISIBLE.search(document):
        return document
    return document.translate(_JSON)


class _Table(dict):
    """A str.translate table that decides each code point once: what `shown(char)` gives a hidden character, the
    character itself otherwise, except those in `kept`. Later lookups of the same code point are a dict lookup in
    C, not a call per character. It remembers at most LIMIT code points (text holding more distinct ones is still
    translated, the rest decided on each lookup)."""

    LIMIT = 1 << 16

    def __init__(self, shown, kept: str) -> None:
        super().__init__()
        self.shown, self.kept = shown, frozenset(kept)

    def __missing__(self, code: int) -> str:
        char = chr(code)
        value = self.shown(char) if char not in self.kept and _hidden(char) else char
        if len(self) < self.LIMIT:
            self[code] = value
        return value


_ONE_LINE = _Table(_escaped, "\t")
_LINES = _Table(_escaped, "\t\n")
_JSON = _Table(_json_escaped, "\n")


def is_visible(text: str, *, lines: bool = False) -> bool:
    """Whether `text` holds nothing `visible` would change (what a test asserts of every rendered view)."""
    return visible(text, lines=lines) == text
