"""JSON-line logging to stdout (CloudWatch Logs via the awslogs driver) and CloudWatch metrics through the
Embedded Metric Format: one JSON object per line, so Logs Insights and metric filters read the fields."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO

from platform_spec.contract import METRIC_NAMESPACE

#: The most characters of one field's text a line holds: an exception's text or a traceback can hold what a client
#: sent or a library answered, of any length, and one line of the log is one CloudWatch Logs event (256 KB at most).
FIELD_LIMIT = 4096


def _bounded(value: Any) -> Any:
    """`value`, its text within FIELD_LIMIT characters and a note of how many more were cut: a value JSON cannot
    hold is written as its text, and a list or an object whose JSON is longer than the limit as its JSON, cut."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | dict):
        text = json.dumps(value, default=str, separators=(",", ":"))
        if len(text) <= FIELD_LIMIT:
            return value
        value = text
    elif not isinstance(value, str):
        value = str(value)
    if len(value) <= FIELD_LIMIT:
        return value
    return f"{value[:FIELD_LIMIT]}…[{len(value) - FIELD_LIMIT} more characters cut]"


_SCALARS = (type(None), bool, int, float)


def _fields(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields`, every value bounded (`_bounded`); as they are when each is a scalar or a short text, the access
    log's case on every request."""
    for value in fields.values():
        kind = type(value)
        if kind is str:
            if len(value) > FIELD_LIMIT:
                break
        elif kind not in _SCALARS:
            break
    else:
        return fields
    return {key: _bounded(value) for key, value in fields.items()}


class JsonLogger:
    """One JSON object per line; every field's text within FIELD_LIMIT characters."""

    def __init__(self, service: str, stream: TextIO | None = None) -> None:
        self.service = service
        self._stream = stream
        self._lock = threading.Lock()

    def _write(self, record: dict[str, Any]) -> None:
        self.write_lines([json.dumps(record, default=str, separators=(",", ":"))])

    def write_lines(self, lines: list[str]) -> None:
        """Lines made by `line`, written together (one write to the stream)."""
        with self._lock:
            stream = self._stream or sys.stdout
            stream.write("\n".join(lines) + "\n")
            stream.flush()

    def line(self, level: str, event: str, **fields: Any) -> str:
        """The JSON line `log` writes, to be written later with `write_lines`."""
        return json.dumps({"ts": round(time.time(), 3), "level": level, "service": self.service, "event": event,
                           **_fields(fields)}, default=str,
                          separators=(",", ":"))

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
            "service": self.service, "event": "metric", "level": "INFO", name: value,
            **_fields(fields),
        })
