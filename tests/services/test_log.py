"""The services' JSON-line log (services/common/log.py): one JSON object per line, and metrics in CloudWatch's
Embedded Metric Format under the namespace and dimension the stack's alarms read (platform_spec.contract; the
alarms themselves: tests/unit/cdk_app/constructs/test_observability.py)."""

from __future__ import annotations

import io
import json
import time

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


class _UnprintableInt(int):
    def __str__(self) -> str:
        raise RuntimeError("no text")

    __repr__ = __str__


class _TextOnce:
    """A value whose text can be made twice, then no more: JSON made of it a second time fails."""

    def __init__(self) -> None:
        self.calls = 0

    def __str__(self) -> str:
        self.calls += 1
        if self.calls > 2:
            raise RuntimeError("no more text")
        return "once"


_GIVEN = ("ts", "level", "service", "event", "_aws", "Things", "fields_left_out")
_CUT = " more characters cut]"


@pytest.mark.parametrize(("fields", "cut"), [
    ({"error": ValueError("x" * LINE_LIMIT)}, "error"),  # an exception: written as its text
    ({"items": ["x" * LINE_LIMIT]}, "items"),  # a list: as its JSON, cut
    ({"mapping": {"x": "x" * LINE_LIMIT}}, "mapping"),
    ({"text": "x" * LINE_LIMIT * 20}, "text"),
    ({f"f{n}": "x" * FIELD_LIMIT for n in range(100)}, None),  # many fields, each within FIELD_LIMIT
    ({"emoji": "\U0001F600" * FIELD_LIMIT * 2}, "emoji"),  # 12 characters each, escaped
    ({"control": "\x01" * LINE_LIMIT}, "control"),  # 6 each
    ({"k" * LINE_LIMIT: "long key"}, "k" * KEY_LIMIT + f"…[{LINE_LIMIT - KEY_LIMIT}{_CUT}"),
    ({"big": 10 ** 5000, "text": "x" * LINE_LIMIT}, "text"),  # more digits than Python writes as text
    ({"unprintable": _Unprintable(), "text": "x" * LINE_LIMIT}, "text"),
    ({"unprintable_int": _UnprintableInt(3), "text": "x" * LINE_LIMIT}, "text"),
    ({"text_once": [_TextOnce()], "text": "x" * LINE_LIMIT}, "text"),
], ids=["exception", "list", "object", "text", "100-fields", "emoji", "control", "key", "huge-int", "unprintable",
        "unprintable-int", "text-once"])
def test_no_line_is_longer_than_its_limit_whatever_it_was_given(fields, cut):
    """Each value's text cut to FIELD_LIMIT characters with the count of what was cut, each key's to KEY_LIMIT, and
    what does not fit then left out and counted, in the order given; the logger's own fields (ts, level, service,
    event) stay, and the line is JSON. Nothing a caller hands the logger makes it raise."""
    stream = io.StringIO()
    log = JsonLogger("metadata-api", stream=stream)
    log.error("unhandled_error", **fields)
    log.metric("Things", 1, **fields)
    error, metric = _lines(stream)
    assert (error["event"], error["level"], error["service"]) == ("unhandled_error", "ERROR", "metadata-api")
    assert isinstance(error["ts"], float) and metric["service"] == "metadata-api" and metric["Things"] == 1
    assert metric["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "Things", "Unit": "Count"}]
    for line in (error, metric):
        written = {key: value for key, value in line.items() if key not in _GIVEN}
        assert len(written) + line.get("fields_left_out", 0) == len(fields)
        assert [key.partition("…[")[0] for key in written] == \
            [key[:KEY_LIMIT] for key in fields if key[:KEY_LIMIT] in {k.partition("…[")[0] for k in written}]
        for key, value in written.items():
            assert len(key.partition("…[")[0]) <= KEY_LIMIT
            if isinstance(value, int):  # an int's JSON is int's own, whatever a subclass says of itself
                assert value == fields[key]
                continue
            head, marked, _ = value.partition("…[")
            assert len(head) <= FIELD_LIMIT and (not marked or value.endswith(_CUT))
        if cut is None:
            assert line["fields_left_out"] > 0
        else:  # the field that was too long is there, cut (or its key is)
            assert cut in written and "fields_left_out" not in line
            assert written[cut].endswith(_CUT) or cut.endswith(_CUT)


def test_a_line_made_again_fills_up_to_its_limit_and_never_past_it(monkeypatch):
    """Fields that nearly fill a line that is made again, then one of every size around the room left, then one
    that never fits: each line is at most LINE_LIMIT characters (the room kept for the count of what was left out
    included), and a field that fits is written."""
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.125)
    stream = io.StringIO()
    log = JsonLogger("metadata-api", stream=stream)
    filler = {f"f{n:02}": "x" * 4000 for n in range(16)}
    for size in range(1150, 1450):  # the room left for the pad: about 1,300 characters
        log.info("fill", **filler, pad="p" * size, huge="h" * (LINE_LIMIT + 1))
    lines = stream.getvalue().splitlines()
    assert max(map(len, lines)) <= LINE_LIMIT
    records = [json.loads(line) for line in lines]
    assert all(set(filler) <= set(r) for r in records)
    full = [len(line) for line, r in zip(lines, records, strict=True) if "pad" in r and "huge" not in r]
    assert full and max(full) > LINE_LIMIT - 30  # filled to within the count's room and one step
    assert any("pad" not in r and r["fields_left_out"] == 2 for r in records)  # past it, the pad left out too


def test_a_line_of_exactly_its_limit_is_written_as_given(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.125)
    stream = io.StringIO()
    log = JsonLogger("metadata-api", stream=stream)
    overhead = len(log.line("INFO", "exact", pad=""))
    log.info("exact", pad="p" * (LINE_LIMIT - overhead))
    [line] = stream.getvalue().splitlines()
    assert len(line) == LINE_LIMIT and json.loads(line)["pad"] == "p" * (LINE_LIMIT - overhead)


def test_a_value_cut_says_how_much_and_one_at_its_limit_stays_whole():
    stream = io.StringIO()
    log = JsonLogger("metadata-api", stream=stream)
    huge = "x" * (LINE_LIMIT * 3)
    log.error("unhandled_error", error=ValueError(huge), at_limit="y" * FIELD_LIMIT, big=10 ** 5000,
              unprintable=_Unprintable(), kept=["a", 1], pair=("b", 2), n=3, once=[_TextOnce()],
              unprintable_int=_UnprintableInt(3))
    [line] = _lines(stream)
    assert line["error"] == "x" * FIELD_LIMIT + f"…[{len(huge) - FIELD_LIMIT}{_CUT}"
    assert line["at_limit"] == "y" * FIELD_LIMIT and (line["kept"], line["pair"], line["n"]) == (["a", 1], ["b", 2], 3)
    assert line["big"] == f"<an integer of {(10 ** 5000).bit_length()} bits>"
    assert line["unprintable"] == "<a _Unprintable without a text>" and "fields_left_out" not in line
    assert line["once"] == ["once"]  # its text made twice: the fast way stopped at `big`
    assert line["unprintable_int"] == 3  # an int's JSON is int's own, whatever a subclass says of itself


def test_a_number_json_cannot_hold_is_written_as_its_text_and_the_line_stays_json():
    """NaN and Infinity are no JSON (Python writes them, Logs Insights reads no field of such a line): a float that
    is no number is its text, a list that holds one its text, and every other field as given."""
    stream = io.StringIO()
    log = JsonLogger("metadata-api", stream=stream)
    log.info("ratio", ratio=float("nan"), high=float("inf"), low=float("-inf"), xs=[1.5, float("nan")], ok=1.5)
    log.metric("Lag", float("nan"))

    def no_constant(name: str) -> None:
        raise AssertionError(f"{name} in a line")

    line, metric = (json.loads(text, parse_constant=no_constant) for text in stream.getvalue().splitlines())
    assert (line["ratio"], line["high"], line["low"], line["xs"], line["ok"]) == ("nan", "inf", "-inf",
                                                                                  "[1.5, nan]", 1.5)
    assert metric["Lag"] == "nan" and metric["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] == "Lag"


@pytest.mark.parametrize("fill", [0, LINE_LIMIT], ids=["as-given", "made-again"])
def test_what_a_terminal_acts_on_reaches_no_line_raw(fill):
    """An exception's text holding what a terminal or a log viewer acts on (a screen clear, a bell, an OSC 8 link,
    a bidi override, an 8-bit CSI, CR, a line feed that would start a forged line): every line is one line of
    ASCII, escaped, and reads back to the text, whether written as given or made again."""
    hostile = "\x1b[2J\x07\x1b]8;;http://x\x1b\\\u202e\x9b1m\r\n{\"level\":\"INFO\"}"
    stream = io.StringIO()
    log = JsonLogger("metadata-api", stream=stream)
    log.error("unhandled_error", error=RuntimeError(hostile), **{hostile: "key"}, pad="p" * fill)
    [line] = _lines(stream)  # one line, ASCII
    assert not any(ord(c) < 0x20 or c == "\x7f" for c in stream.getvalue().rstrip("\n"))
    assert line["error"] == hostile and line[hostile] == "key" and line["level"] == "ERROR"
