"""JSON-line logging to stdout (CloudWatch Logs via the awslogs driver) and CloudWatch metrics through the
Embedded Metric Format: one JSON object per line, so Logs Insights and metric filters read the fields."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO

from platform_spec.contract import METRIC_NAMESPACE


class JsonLogger:
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
                           **fields}, default=str, separators=(",", ":"))

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
