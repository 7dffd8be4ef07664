from datetime import UTC, datetime, timedelta

import pytest

from agentflow.durations import parse_duration, parse_instant
from agentflow.runtime.retry import RetryPolicy


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (30, 30.0),
        (1.5, 1.5),
        ("30 seconds", 30.0),
        ("1 second", 1.0),
        ("2 hours", 7200.0),
        ("1 day", 86400.0),
        ("3 days", 259200.0),
        ("1 hour 30 minutes", 5400.0),
        ("500 ms", 0.5),
        ("10s", 10.0),
        ("2.5", 2.5),
        (timedelta(minutes=2), 120.0),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "3 fortnights", "-1", -5, True, None, "1 day extra"])
def test_bad_durations_say_what_is_wrong(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_instants():
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_instant("2026-01-02T03:04:05Z") == moment
    assert parse_instant(moment.timestamp()) == moment
    assert parse_instant(datetime(2026, 1, 2, 3, 4, 5)) == moment
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_instant("tomorrow")


def test_retry_policies():
    default = RetryPolicy.parse(None, "s")
    assert (default.limit, default.delay, default.backoff) == (5, 10.0, "exponential")
    assert [default.delay_before(n) for n in (1, 2, 3)] == [10.0, 20.0, 40.0]
    linear = RetryPolicy.parse({"limit": 2, "delay": "1 second", "backoff": "linear"}, "s")
    assert [linear.delay_before(n) for n in (1, 2, 3)] == [1.0, 2.0, 3.0]
    constant = RetryPolicy.parse({"delay": 3, "backoff": "constant"}, "s")
    assert constant.delay_before(4) == 3.0
    with pytest.raises(ValueError, match="step 'send'"):
        RetryPolicy.parse({"limit": 2, "tries": 3}, "send")


def test_retries_must_be_a_dict_as_the_compiler_says():
    with pytest.raises(ValueError, match="retries must look like"):
        RetryPolicy.parse(3, "send")
