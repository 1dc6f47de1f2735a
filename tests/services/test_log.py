"""The services' JSON-line log (services/common/log.py): one JSON object per line, and metrics in CloudWatch's
Embedded Metric Format under the namespace and dimension the stack's alarms read (platform_spec.contract; the
alarms themselves: tests/unit/cdk_app/constructs/test_observability.py)."""

from __future__ import annotations

import io
import json

from platform_spec.contract import METRIC_NAMESPACE
from services.common.log import JsonLogger


class Writes(io.StringIO):
    """A stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_each_event_is_one_json_line_with_its_level_service_and_fields():
    stream = Writes()
    log = JsonLogger("metadata-api", stream=stream)
    log.info("api_started", port=8080)
    log.error("unhandled_error", error=ValueError("bad"))  # a value JSON cannot hold is written as its text
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {k: first[k] for k in ("level", "service", "event", "port")} == {
        "level": "INFO", "service": "metadata-api", "event": "api_started", "port": 8080}
    assert second["level"] == "ERROR" and second["error"] == "bad" and isinstance(first["ts"], float)


def test_lines_made_apart_are_written_together_in_one_write():
    stream = Writes()
    log = JsonLogger("metadata-api", stream=stream)
    lines = [log.line("INFO", "request", path=f"/videos/{n}") for n in range(3)]
    assert stream.writes == 0
    log.write_lines(lines)
    assert stream.writes == 1 and [json.loads(line)["path"] for line in stream.getvalue().splitlines()] == [
        "/videos/0", "/videos/1", "/videos/2"]


def test_a_metric_is_embedded_metric_format_in_the_workloads_namespace_by_service():
    stream = Writes()
    JsonLogger("metadata-api", stream=stream).metric("CacheBypass", 1, path="/videos")
    record = json.loads(stream.getvalue())
    [directive] = record["_aws"]["CloudWatchMetrics"]
    assert directive == {"Namespace": METRIC_NAMESPACE, "Dimensions": [["service"]],
                         "Metrics": [{"Name": "CacheBypass", "Unit": "Count"}]}
    assert record["service"] == "metadata-api" and record["CacheBypass"] == 1 and record["path"] == "/videos"
    assert isinstance(record["_aws"]["Timestamp"], int)


def test_no_field_of_a_line_holds_more_than_its_limit_whatever_it_was_given():
    """An exception's text, a traceback or a list can hold what a client sent, of any length: each field of a line
    (a metric's too) is cut to FIELD_LIMIT characters and says how many more there were; short values stay as
    they are, of their own JSON type."""
    from services.common.log import FIELD_LIMIT

    stream = io.StringIO()
    log = JsonLogger("metadata-api", stream=stream)
    huge = "x" * (FIELD_LIMIT * 300)
    log.error("unhandled_error", error=ValueError(huge), text=huge, items=[huge], kept=["a", 1], n=3, ok=None)
    log.metric("Things", 1, detail=huge)
    log.info("request", path="/" + "y" * (FIELD_LIMIT - 1))
    error, metric, request = (json.loads(line) for line in stream.getvalue().splitlines())
    cut = f"…[{len(huge) - FIELD_LIMIT} more characters cut]"
    assert error["error"] == error["text"] == "x" * FIELD_LIMIT + cut
    assert error["items"].startswith('["xxx') and error["items"].endswith(f"…[{len(huge) + 4 - FIELD_LIMIT} more "
                                                                           "characters cut]")
    assert (error["kept"], error["n"], error["ok"]) == (["a", 1], 3, None)
    assert metric["detail"] == "x" * FIELD_LIMIT + cut and metric["Things"] == 1
    assert request["path"] == "/" + "y" * (FIELD_LIMIT - 1)  # at the limit: whole
    assert max(map(len, stream.getvalue().splitlines())) < 4 * FIELD_LIMIT
