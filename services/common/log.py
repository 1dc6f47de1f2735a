"""JSON-line logging to stdout (CloudWatch Logs via the awslogs driver) and CloudWatch metrics through the
Embedded Metric Format: one JSON object per line, so Logs Insights and metric filters read the fields."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO

from platform_spec.contract import METRIC_NAMESPACE

#: The most characters a line holds. The JSON is ASCII (json.dumps escapes the rest), so characters are bytes, and
#: one line is one CloudWatch Logs event: at most 256 KB, and a log is read by people and Logs Insights, not a store.
LINE_LIMIT = 65536
#: A line longer than LINE_LIMIT is made again with each value's text cut to FIELD_LIMIT characters (an exception's
#: text, a traceback or a list can hold what a client sent or a library answered, of any length) and each key's to
#: KEY_LIMIT; the fields that still do not fit are left out and counted (`fields_left_out`).
FIELD_LIMIT = 4096
KEY_LIMIT = 256
_SEPARATORS = (",", ":")
_LEFT_OUT = "fields_left_out"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…[{len(text) - limit} more characters cut]"


def _text(value: Any) -> str:
    """The value's text; a value whose text cannot be made (its __str__ raised) is named by its type."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - any __str__ may raise anything: the line is written all the same
        return f"<a {type(value).__name__} without a text>"


def _bounded(value: Any) -> Any:
    """`value` as JSON holds it, its text within FIELD_LIMIT characters: a scalar as it is (an integer too long to
    write as text named by its size), a list or an object as it is while its JSON fits, else that JSON as text,
    cut; anything else as its text, cut."""
    if value is None or isinstance(value, bool | float):
        return value  # a float that is no number: no JSON, written as its text by _pair
    if isinstance(value, int):
        try:
            int.__repr__(value)  # what json writes of any int, whatever a subclass says of itself
        except ValueError:  # more digits than Python writes (sys.get_int_max_str_digits)
            return f"<an integer of {int.bit_length(value)} bits>"
        return value
    if isinstance(value, list | tuple | dict):
        try:
            text = json.dumps(value, default=str, separators=_SEPARATORS, allow_nan=False)
        except Exception:  # noqa: BLE001 - a cycle, an integer too long, a __str__ that raised
            text = _text(value)
        else:
            if len(text) <= FIELD_LIMIT:
                return value
        return _cut(text, FIELD_LIMIT)
    return _cut(value if isinstance(value, str) else _text(value), FIELD_LIMIT)


def _pair(key: Any, value: Any) -> str:
    """`"key":value` of a line made again, both cut; a value whose JSON cannot be made (a float that is no number,
    or one inside a list: "nan", "inf"; a __str__ that raises the second time, a list another thread changes)
    written as its text, cut."""
    name = _cut(_text(key), KEY_LIMIT)
    try:
        return json.dumps({name: _bounded(value)}, default=str, separators=_SEPARATORS,
                          allow_nan=False)[1:-1]
    except Exception:  # noqa: BLE001 - whatever the value does, the line is written
        return json.dumps({name: _cut(_text(value), FIELD_LIMIT)}, separators=_SEPARATORS)[1:-1]


def _line(record: dict[str, Any]) -> str:
    """`record` as one line of JSON, at most LINE_LIMIT characters: as it is when it fits (every line a service
    writes in its normal work), else made again field by field, in order, from each key and value cut
    (`_bounded`), leaving out what does not fit and saying how many fields were left out. A line that holds what
    JSON cannot (NaN and Infinity are no JSON: Logs Insights would read no field of it) is made the second way
    too. A text longer than the line goes straight to the second way: its whole JSON (up to 12 characters a
    character) is never made."""
    text = None
    for value in record.values():
        if value.__class__ is str and len(value) > LINE_LIMIT:
            break
    else:
        try:
            text = json.dumps(record, default=str, separators=_SEPARATORS, allow_nan=False)
        except Exception:  # noqa: BLE001 - a value JSON cannot hold and whose text cannot be made: made again below
            text = None
    if text is not None and len(text) <= LINE_LIMIT:
        return text
    pairs: list[str] = []
    left_out = 0
    size = 2 + len(json.dumps({_LEFT_OUT: len(record)})) + 1  # the braces, and room for the count
    for key, value in record.items():
        pair = _pair(key, value)
        if size + len(pair) + 1 > LINE_LIMIT:
            left_out += 1
            continue
        pairs.append(pair)
        size += len(pair) + 1
    if left_out:
        pairs.append(json.dumps({_LEFT_OUT: left_out}, separators=_SEPARATORS)[1:-1])
    return "{" + ",".join(pairs) + "}"


class JsonLogger:
    """One JSON object per line, at most LINE_LIMIT characters."""

    def __init__(self, service: str, stream: TextIO | None = None) -> None:
        self.service = service
        self._stream = stream
        self._lock = threading.Lock()

    def _write(self, record: dict[str, Any]) -> None:
        self.write_lines([_line(record)])

    def write_lines(self, lines: list[str]) -> None:
        """Lines made by `line`, written together (one write to the stream)."""
        with self._lock:
            stream = self._stream or sys.stdout
            stream.write("\n".join(lines) + "\n")
            stream.flush()

    def line(self, level: str, event: str, **fields: Any) -> str:
        """The JSON line `log` writes, to be written later with `write_lines`."""
        return _line({"ts": round(time.time(), 3), "level": level, "service": self.service, "event": event,
                      **fields})

    def log(self, level: str, event: str, **fields: Any) -> None:
        self.write_lines([self.line(level, event, **fields)])

    def info(self, event: str, **fields: Any) -> None:
        self.log("INFO", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.log("WARNING", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.log("ERROR", event, **fields)

    def metric(self, name: str, value: float, unit: str = "Count", **fields: Any) -> None:
        """One CloudWatch metric in Embedded Metric Format, dimensioned by service (and also a log line)."""
        self._write({
            "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE, "Dimensions": [["service"]],
                "Metrics": [{"Name": name, "Unit": unit}]}]},
            "service": self.service, "event": "metric", "level": "INFO", name: value, **fields,
        })
