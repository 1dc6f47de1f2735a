"""The services' JSON-line log (services/common/log.py): one JSON object per line, and metrics in CloudWatch's
Embedded Metric Format under the namespace and dimension the stack's alarms read (platform_spec.contract; the
alarms themselves: tests/unit/cdk_app/constructs/test_observability.py)."""

from __future__ import annotations

import io
import json

import pytest

from platform_spec.contract import METRIC_NAMESPACE
from services.common.log import FIELD_LIMIT, KEY_LIMIT, LINE_LIMIT, JsonLogger


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


def _lines(stream: io.StringIO) -> list[dict]:
    text = stream.getvalue()
    assert max(map(len, text.splitlines())) <= LINE_LIMIT and text.isascii()
    return [json.loads(line) for line in text.splitlines()]


def test_a_line_that_fits_is_written_as_given():
    """Below LINE_LIMIT nothing is cut or changed: a tuple is a JSON array, a text longer than FIELD_LIMIT whole."""
    stream = io.StringIO()
    log = JsonLogger("metadata-api", stream=stream)
    log.info("t", ids=("a", "b"), detail="d" * (FIELD_LIMIT * 10), n=2**64, none=None)
    [line] = _lines(stream)
    assert (line["ids"], line["detail"], line["n"], line["none"]) == (["a", "b"], "d" * FIELD_LIMIT * 10, 2**64, None)


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")


@pytest.mark.parametrize("fields", [
    {"error": ValueError("x" * LINE_LIMIT)},  # an exception: written as its text
    {"items": ["x" * LINE_LIMIT]},  # a list: as its JSON, cut
    {"mapping": {"x": "x" * LINE_LIMIT}},
    {"text": "x" * LINE_LIMIT * 20},
    {f"f{n}": "x" * FIELD_LIMIT for n in range(100)},  # many fields, each within FIELD_LIMIT
    {"emoji": "\U0001F600" * FIELD_LIMIT * 2},  # 12 characters each, escaped
    {"control": "\x01" * LINE_LIMIT},  # 6 each
    {"k" * LINE_LIMIT: "long key"},
    {"big": 10 ** 5000, "text": "x" * LINE_LIMIT},  # more digits than Python writes as text
    {"unprintable": _Unprintable(), "text": "x" * LINE_LIMIT},
], ids=["exception", "list", "object", "text", "100-fields", "emoji", "control", "key", "huge-int", "unprintable"])
def test_no_line_is_longer_than_its_limit_whatever_it_was_given(fields):
    """Each value's text cut to FIELD_LIMIT characters with the count of what was cut, each key's to KEY_LIMIT, and
    what does not fit then left out and counted; the fields that say what the line is (ts, level, service, event)
    stay, and the line is JSON. Nothing a caller hands the logger makes it raise."""
    stream = io.StringIO()
    log = JsonLogger("metadata-api", stream=stream)
    log.error("unhandled_error", **fields)
    log.metric("Things", 1, **fields)
    error, metric = _lines(stream)
    assert error["event"] == "unhandled_error" and error["level"] == "ERROR" and isinstance(error["ts"], float)
    assert metric["Things"] == 1 and metric["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "Things", "Unit": "Count"}]
    for line in (error, metric):
        written = {key: value for key, value in line.items() if key not in ("ts", "level", "service", "event", "_aws",
                                                                           "Things", "fields_left_out")}
        assert len(written) + line.get("fields_left_out", 0) == len(fields)
        for key, value in written.items():
            assert isinstance(value, str) and len(key.partition("…[")[0]) <= KEY_LIMIT
            head, cut, _ = value.partition("…[")
            assert len(head) <= FIELD_LIMIT and (not cut or value.endswith(" more characters cut]"))


def test_a_value_cut_says_how_much_and_one_at_its_limit_stays_whole():
    stream = io.StringIO()
    log = JsonLogger("metadata-api", stream=stream)
    huge = "x" * (LINE_LIMIT * 3)
    log.error("unhandled_error", error=ValueError(huge), at_limit="y" * FIELD_LIMIT, big=10 ** 5000,
              unprintable=_Unprintable(), kept=["a", 1], pair=("b", 2), n=3)
    [line] = _lines(stream)
    assert line["error"] == "x" * FIELD_LIMIT + f"…[{len(huge) - FIELD_LIMIT} more characters cut]"
    assert line["at_limit"] == "y" * FIELD_LIMIT and (line["kept"], line["pair"], line["n"]) == (["a", 1], ["b", 2], 3)
    assert line["big"] == f"<an integer of {(10 ** 5000).bit_length()} bits>"
    assert line["unprintable"] == "<a _Unprintable without a text>" and "fields_left_out" not in line
