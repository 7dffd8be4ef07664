"""What the terminal shows of runs: the step timeline and short renderings of values."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.table import Table

from agentflow.models import RunStatus, StepState

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
