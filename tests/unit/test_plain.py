"""Plain JSON data: sizes estimated before rendering, text, depth and numbers bounded."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from agentflow.durations import parse_duration, parse_instant
from agentflow.plain import PlainDataError, error_message, plain, safe_text


def test_plain_data_round_trips_as_json_would_write_it():
    value, size = plain(
        {"a": (1, 2.5, None, True), 3: {"b"}, "when": datetime(2030, 1, 1, tzinfo=UTC)},
        max_bytes=1000,
        what="the output",
    )
    assert value == {"a": [1, 2.5, None, True], "3": ["b"], "when": "2030-01-01T00:00:00+00:00"}
    assert 0 < size < 1000


@pytest.mark.parametrize("key", [3, -1.5, True, None])
def test_a_key_that_becomes_text_is_counted_as_that_text(key):
    value, size = plain({key: [1]}, max_bytes=1000, what="the output")
    assert plain(value, max_bytes=1000, what="the output") == (value, size)


def test_a_self_similar_value_is_refused_without_rendering_it():
    value: list = ["x"]
    for _ in range(80):
        value = [value, value]
    # 2**80 leaves: rendering it first would never finish.
    with pytest.raises(PlainDataError, match="the output is more than 1,000 bytes"):
        plain(value, max_bytes=1000, what="the output")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"k": "\ud800"}, "not valid UTF-8"),
        ([float("inf")], "JSON cannot represent"),
        ([2**70], "outside ±2**63"),
        ({"k": object()}, "holds a object, which is not JSON data"),
        ({(1, 2): 1}, "has a key of type tuple"),
    ],
)
def test_values_that_would_break_readers_are_refused_with_their_path(value, problem):
    with pytest.raises(PlainDataError, match=re.escape(problem)):
        plain(value, max_bytes=10_000, what="the output")


def test_nesting_is_bounded_without_recursion():
    value: list = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(PlainDataError, match="nested deeper than 100 levels"):
        plain(value, max_bytes=10**9, what="the output")


def test_safe_text_escapes_lone_surrogates_and_cuts():
    assert safe_text("a\udc80b") == "a\\udc80b"
    assert safe_text("x" * 10, limit=3) == "xxx…"


def test_error_messages_are_estimated_before_they_are_rendered():
    value: list = ["x"]
    for _ in range(80):
        value = [value, value]
    message = error_message(ValueError(value))
    assert message.startswith("(ValueError with a message of more than")
    assert error_message(ValueError("bad \ud800")) == "bad \\ud800"


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e300, "100000 weeks"])
def test_durations_are_bounded(value):
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59", 10**15, -(10**15), "0001-01-01"])
def test_instants_are_bounded(value):
    with pytest.raises(ValueError, match="between 1970 and the year 9000"):
        parse_instant(value)
