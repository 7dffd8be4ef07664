"""Durations and points in time as plans write them: ``30``, ``"30 seconds"``, ``"1 day"``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_UNITS: dict[str, float] = {
    "ms": 0.001,
    "millisecond": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "w": 604800.0,
    "week": 604800.0,
}
#: The longest duration a plan may ask for (a sleep, a wait's timeout, a retry delay).
MAX_DURATION_SECONDS = 100 * 365.25 * 86400
#: Points in time a plan may name: from the epoch to the start of the year 9000, so that every
#: reader can turn them into dates (and add time zones) without overflowing.
MIN_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(9000, 1, 1, tzinfo=UTC)
_WORD_UNITS = (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0), ("second", 1.0))
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*,?", re.IGNORECASE)


def parse_duration(value: object) -> float:
    """Return a duration in seconds.

    Accepts a non-negative number of seconds, a `timedelta`, or text such as ``"30 seconds"``,
    ``"2 hours"``, ``"1 day"``, ``"1 hour 30 minutes"``, ``"500 ms"``.

    Raises:
        ValueError: the value is negative, or text names no known unit.
    """
    if isinstance(value, bool):
        raise ValueError(f"a duration cannot be a boolean: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str):
        seconds = _parse_text(value)
    else:
        raise ValueError(
            f"a duration must be seconds, a timedelta or text like '2 hours', not {value!r}"
        )
    if seconds != seconds:
        raise ValueError(f"a duration must be a number of seconds, not {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(
            f"a duration can be at most 100 years ({MAX_DURATION_SECONDS:.0f} seconds), "
            f"not {_short(value)}"
        )
    return seconds


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_text(text: str) -> float:
    stripped = text.strip()
    try:
        return float(stripped)
    except ValueError:
        pass
    total, pos = 0.0, 0
    while pos < len(stripped):
        match = _PART.match(stripped, pos)
        if not match:
            break
        unit = match.group(2).lower()
        if unit not in _UNITS and unit.endswith("s"):
            unit = unit[:-1]
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {match.group(2)!r} in duration {text!r}")
        total += float(match.group(1)) * _UNITS[unit]
        pos = match.end()
    if pos == 0 or pos < len(stripped):
        raise ValueError(
            f"cannot read duration {text!r}: write e.g. '30 seconds', '2 hours' or '1 day'"
        )
    return total


def parse_instant(value: object) -> datetime:
    """Return an aware UTC `datetime` from an ISO-8601 text, a `datetime` or epoch seconds."""
    moment = _as_datetime(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(_out_of_range(value)) from None
    if not MIN_INSTANT <= moment <= MAX_INSTANT:
        raise ValueError(_out_of_range(value))
    return moment


def _as_datetime(value: object) -> datetime:
    if isinstance(value, bool):
        raise ValueError(f"a point in time cannot be a boolean: {value!r}")
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float):
        seconds = float(value)
        if not MIN_INSTANT.timestamp() <= seconds <= MAX_INSTANT.timestamp():
            raise ValueError(_out_of_range(value))
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str):
        if len(value) > 64:
            raise ValueError(f"cannot read {_short(value)} as an ISO-8601 time")
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"cannot read {value!r} as an ISO-8601 time") from exc
    raise ValueError(f"expected an ISO-8601 time, datetime or epoch seconds, not {_short(value)}")


def _out_of_range(value: object) -> str:
    return f"a point in time must lie between 1970 and the year 9000, not {_short(value)}"


def duration_words(seconds: float) -> str:
    """A duration in words, in its largest whole unit: `1 day`, `1.5 hours`, `30 seconds`."""
    for unit, size in _WORD_UNITS:
        if abs(seconds) >= size or unit == "second":
            count = round(seconds / size, 2)
            return f"{count:g} {unit}{'' if count == 1 else 's'}"
    raise AssertionError("unreachable")
