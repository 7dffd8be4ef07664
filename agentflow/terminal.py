"""What the terminal shows of runs: the step timeline, the history, short renderings of values."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.markup import escape
from rich.table import Table

from agentflow.models import HistoryEntry, RunStatus, Simulation, StepState, TraceEntry

WAKING = (StepState.SLEEPING, StepState.WAITING, StepState.RETRYING)


def when(value: datetime | None) -> str:
    """A time as `YYYY-MM-DD HH:MM:SS`, or "-"."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def short(value: Any, width: int = 48) -> str:
    """A value as JSON (a string as itself), cut to `width` characters."""
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 1] + "…"


def timeline_table(status: RunStatus) -> Table:
    """A run's steps as a table: name, kind, status, attempts, start, duration, result."""
    table = Table("#", "step", "kind", "status", "tries", "started", "ms", "result")
    number = 0
    for step in status.steps:
        if step.parent is None:
            number += 1
        label = f"  {step.name}" if step.parent else step.name
        result = step.error.get("message", "") if step.error else short(step.output, 40)
        if step.status in WAKING and step.wake_at:
            result = f"until {when(step.wake_at)}"
        table.add_row(
            "" if step.parent else str(number),
            label,
            step.kind,
            step.status,
            str(step.attempts),
            when(step.started_at),
            f"{step.duration_ms:.1f}" if step.duration_ms is not None else "-",
            result,
        )
    return table


_UNITS = (("d", 86400.0), ("h", 3600.0), ("m", 60.0))


def duration_text(seconds: float) -> str:
    """A length of time for people: "3d 4h", "2h 5m", "1m 30s", "0.25 s"."""
    if seconds < 60:
        return f"{seconds:.2f} s"
    parts = []
    left = seconds
    for unit, size in _UNITS:
        if left >= size:
            parts.append(f"{int(left // size)}{unit}")
            left %= size
    if seconds < 3600 and left >= 1:
        parts.append(f"{int(left)}s")
    return " ".join(parts[:2])


def simulation_table(simulation: Simulation) -> Table:
    """A dry run's trace: when (virtual time), what, which step, and the detail."""
    table = Table("at", "what", "step", "detail")
    for entry in simulation.trace:
        # Step names, arguments and payloads come from a model and a plan: never markup.
        table.add_row(
            duration_text(entry.at_seconds),
            entry.kind,
            escape(entry.step or ""),
            escape(trace_detail(entry)),
        )
    return table


def trace_detail(entry: TraceEntry) -> str:
    """One trace entry's detail in a line: a tool call with its arguments and value, ..."""
    if entry.kind == "tool":
        arguments = [short(a, 24) for a in entry.args]
        arguments += [f"{k}={short(v, 24)}" for k, v in entry.kwargs.items()]
        returned = short(entry.value, 32)
        return f"{entry.tool}({', '.join(arguments)}) -> {returned} [{entry.value_from}]"
    if entry.kind in ("sleep", "retry_delay"):
        return duration_text(entry.seconds or 0.0)
    if entry.kind == "wait_timeout":
        return f"no {entry.event_type!r} event: timed out after {duration_text(entry.seconds or 0)}"
    if entry.kind == "event":
        return f"{entry.event_type}: {short(entry.value, 48)}"
    return short(entry.value, 64)


def _epoch(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    return when(datetime.fromtimestamp(value, tz=UTC))


def _error_text(error: Any) -> str:
    if not isinstance(error, dict):
        return ""
    return f"{error.get('type', 'Error')}: {short(error.get('message', ''), 120)}"


def _step_text(d: dict[str, Any]) -> str:
    text = f"{d.get('step')!s} ({d.get('kind')}) attempt {d.get('attempt')}: {d.get('status')}"
    return text + (f" - {_error_text(d['error'])}" if d.get("error") else "")


def _suspended_text(d: dict[str, Any]) -> str:
    if d.get("waiting_for"):
        return f"waiting for event {d['waiting_for']!r} until {_epoch(d.get('timeout_at'))}"
    return f"sleeping until {_epoch(d.get('until'))}"


def _restart_text(d: dict[str, Any]) -> str:
    kept = ", ".join(str(name) for name in d.get("steps_kept") or []) or "none"
    text = f"steps kept: {kept}"
    if d.get("from_step"):
        text = f"from step {d['from_step']!r}; " + text
    if d.get("plan_id") is not None:
        text = f"onto plan #{d['plan_id']} (version {d.get('plan_version', '?')}"
        text += f", approved by {d['approved_by']}); " if d.get("approved_by") else "); "
        text += f"steps kept: {kept}"
    return text + (f"; it had failed with {_error_text(d['error'])}" if d.get("error") else "")


_HISTORY_TEXT: dict[str, Callable[[dict[str, Any]], str]] = {
    "created": lambda d: f"params {short(d.get('params', {}), 80)} on plan #{d.get('plan_id')}",
    "claimed": lambda d: f"by worker {d.get('owner')} (was {d.get('was')})",
    "woken": lambda d: f"by worker {d.get('owner')} (was {d.get('was')})",
    "step": _step_text,
    "suspended": _suspended_text,
    "event": lambda d: (
        f"{d.get('type')!s} (event {d.get('event_id')}): {short(d.get('payload'), 80)}"
    ),
    "failed": lambda d: _error_text(d.get("error")),
    "requeued": lambda d: _error_text(d.get("error")),
    "restarted": _restart_text,
    "repaired": _restart_text,
    "rebased": lambda d: f"dropped {len(d.get('dropped') or [])} step(s) from #{d.get('from_seq')}",
}


def history_detail(entry: HistoryEntry) -> str:
    """One history entry's facts in a line: a step's attempt and outcome, an event, ..."""
    render = _HISTORY_TEXT.get(entry.kind)
    if render is not None:
        return render(entry.detail)
    return short(entry.detail, 120) if entry.detail else ""


def history_table(history: list[HistoryEntry]) -> Table:
    """A run's history as a table: number, time, what happened, who, why, and its facts."""
    table = Table("#", "at", "kind", "actor", "reason", "detail")
    for entry in history:
        table.add_row(
            str(entry.seq),
            when(entry.at),
            entry.kind,
            escape(entry.actor or "-"),
            escape(entry.reason or ""),
            escape(history_detail(entry)),
        )
    return table
