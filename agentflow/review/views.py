"""What the review pages show, shaped from plans and runs: summaries, diffs, timelines, filters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from agentflow.durations import duration_words
from agentflow.runtime import StepStatus

WAIT_KINDS = ("sleep", "sleep_until", "wait_for_event")


def when(value: datetime | float | None) -> str:
    """A timestamp (or epoch seconds) as `2024-05-01 12:00:00 UTC` ("-" when unset)."""
    if value is None:
        return "-"
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(value, tz=UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def time_tag(value: datetime | float | None) -> Markup | str:
    """A `<time>` element: UTC text readable without JavaScript, which live.js shows locally."""
    if value is None:
        return "-"
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(value, tz=UTC)
    moment = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    iso = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    return Markup('<time datetime="{}">{}</time>').format(iso, escape(when(moment)))


def seconds(value: float | None) -> str:
    """A duration in words: `1 day`, `1.5 hours`, `30 seconds` ("-" when unset)."""
    return "-" if value is None else duration_words(value)


def to_json(value: Any, indent: int | None = 2) -> str:
    """Pretty JSON of a stored value (non-JSON values shown by `str`)."""
    return json.dumps(value, indent=indent, default=str, ensure_ascii=False)


def short(value: Any, width: int = 80) -> str:
    """One line of at most `width` characters: text as is, anything else as compact JSON."""
    text = value if isinstance(value, str) else to_json(value, indent=None)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def is_cut(value: Any, width: int = 80) -> bool:
    """True when `short(value, width)` leaves something out (so the page offers the whole)."""
    if isinstance(value, str):
        return short(value, width) != value
    return value is not None and short(value, width) != to_json(value, indent=None)


def tool_names(tool: str | list[str] | None) -> str:
    """A step's tool (or a parallel step's tools) as text."""
    if tool is None:
        return ""
    return ", ".join(tool) if isinstance(tool, list) else tool


def summary_view(summary: dict[str, Any]) -> dict[str, Any]:
    """The stored review summary with its sleeps and waits picked out, every key defaulted."""
    steps = list(summary.get("steps") or [])
    return {
        "risk": summary.get("risk") or "unknown",
        "risk_reasons": list(summary.get("risk_reasons") or []),
        "docstring": summary.get("docstring"),
        "steps": steps,
        "waits": [s for s in steps if s.get("kind") in WAIT_KINDS],
        "total_sleep_seconds": summary.get("total_sleep_seconds") or 0.0,
        "event_types": list(summary.get("event_types") or []),
        "tools_used": list(summary.get("tools_used") or []),
        "imports": list(summary.get("imports") or []),
    }


def numbered(source: str) -> list[tuple[int, str]]:
    """The source's lines with their 1-based numbers."""
    return list(enumerate(source.splitlines(), start=1))


@dataclass(frozen=True)
class DiffLine:
    """One line of a unified diff and how to show it (add, remove, hunk, file or context)."""

    kind: str
    text: str


def diff_lines(diff: str) -> list[DiffLine]:
    """A unified diff split into lines tagged for colouring."""
    lines: list[DiffLine] = []
    for text in diff.splitlines():
        if text.startswith(("+++", "---")):
            kind = "file"
        elif text.startswith("@@"):
            kind = "hunk"
        elif text.startswith("+"):
            kind = "add"
        elif text.startswith("-"):
            kind = "remove"
        else:
            kind = "context"
        lines.append(DiffLine(kind, text))
    return lines


@dataclass(frozen=True)
class TimelineEntry:
    """A step in a run's timeline: top-level steps numbered, map/parallel children indented."""

    step: StepStatus
    number: int | None
    depth: int


def timeline(steps: list[StepStatus]) -> list[TimelineEntry]:
    """Steps in order, each group's children right under their group (nested groups too)."""
    keys = {s.key for s in steps}
    children: dict[str, list[StepStatus]] = {}
    for step in steps:
        if step.parent is not None and step.parent in keys:
            children.setdefault(step.parent, []).append(step)
    entries: list[TimelineEntry] = []

    def add(step: StepStatus, number: int | None, depth: int) -> None:
        entries.append(TimelineEntry(step, number, depth))
        for child in children.get(step.key, []):
            add(child, None, depth + 1)

    number = 0
    for step in steps:
        if step.parent is None or step.parent not in keys:
            number += 1
            add(step, number, 0)
    return entries
