"""Whole numbers read from text a tool did not write: an option, a setting, a query parameter, a header, a field of
an answer or of a report.

`int()` is the wrong reader for such text. It takes fullwidth, Arabic-Indic and other Unicode digits, spaces
around the number and underscores inside it (" 5", "1_0"); `str.isdigit()` admits superscripts that `int()` then
refuses; and `int()` refuses a string of more than 4,300 digits with its own message. One reader here takes ASCII
digits only, of a bounded length, and answers None for anything else, so that every caller says what it expected
in its own words."""

from __future__ import annotations

#: The most digits `whole` reads when the caller gives no upper bound: more than any count, index or length a
#: tool meets, far fewer than int()'s limit.
MAX_DIGITS = 18


def _text(text: object) -> str | None:
    if isinstance(text, bytes):
        return text.decode("latin-1")
    return text if isinstance(text, str) else None


def digits(text: object) -> bool:
    """Whether `text` (str or bytes) is one or more ASCII digits 0-9 and nothing else."""
    readable = _text(text)
    return readable is not None and readable.isascii() and readable.isdigit()


def whole(text: object, low: int = 0, high: int | None = None) -> int | None:
    """`text` (str or bytes) as a whole number from `low` to `high` (no upper bound: at most MAX_DIGITS digits)
    when it is written in ASCII digits only; None for anything else (a sign, a space, another script's digits,
    too many digits, out of range, not text at all). Never raises."""
    readable = _text(text)
    if readable is None or not digits(readable):
        return None
    significant = readable.lstrip("0")
    if len(significant) > (MAX_DIGITS if high is None else len(str(max(high, 0)))):
        return None
    value = int(significant or "0")  # int() counts leading zeros toward its 4,300-digit limit
    return value if low <= value and (high is None or value <= high) else None


#: The most characters of a refused text a message quotes.
QUOTED_CHARACTERS = 40


def quoted(text: str) -> str:
    """`text` as a message that refuses it quotes it: its repr, cut to QUOTED_CHARACTERS characters with how many it
    had (a setting or a query parameter can be any length; the message stays one readable line)."""
    if len(text) <= QUOTED_CHARACTERS:
        return repr(text)
    return f"{text[:QUOTED_CHARACTERS]!r}... ({len(text):,} characters)"
