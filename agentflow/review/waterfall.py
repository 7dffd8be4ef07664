"""A run's steps as a waterfall: one bar per step on a time axis, drawn server-side as SVG.

Bars run from a step's start to its end (or to now while it runs); a sleep or a wait is drawn
hatched up to its wake-up time; colour says the status, and a step that took several attempts
says so. Every text in the picture comes from a plan or a model, so all of it is escaped, and
each bar carries a `<title>` that screen readers and tooltips read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from html import escape

from agentflow.models import RunStatus, StepState, StepStatus

ROW = 22
LABEL_WIDTH = 220
PLOT_WIDTH = 560
AXIS_HEIGHT = 24
MIN_BAR = 2.0

# Named for the stylesheet; the class carries the colour so dark mode can restyle it.
STATUS_CLASS = {
    StepState.COMPLETE: "wf-complete",
    StepState.RUNNING: "wf-running",
    StepState.FAILED: "wf-failed",
    StepState.TIMED_OUT: "wf-failed",
    StepState.RETRYING: "wf-retrying",
    StepState.SLEEPING: "wf-suspended",
    StepState.WAITING: "wf-suspended",
}
STATUS_FILL = {
    "wf-complete": "#2e7d32",
    "wf-running": "#1565c0",
    "wf-failed": "#c62828",
    "wf-retrying": "#ef6c00",
    "wf-suspended": "#6d6d6d",
}


@dataclass(frozen=True)
class _Bar:
    step: StepStatus
    start: float
    end: float
    until: float | None  # a sleep's or a wait's wake-up time, drawn hatched


def waterfall_svg(status: RunStatus, now: float | None = None) -> str:
    """The run's step waterfall as an inline `<svg>` element (an empty string with no steps)."""
    bars = [_bar(step, now or time.time()) for step in status.steps if step.started_at]
    if not bars:
        return ""
    scale = _Scale(bars)
    height = AXIS_HEIGHT + ROW * len(bars) + 4
    width = LABEL_WIDTH + PLOT_WIDTH + 16
    parts = [
        f'<svg class="waterfall" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(_summary(status, scale.span))}">',
        '<defs><pattern id="wf-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="3" height="6" fill="#9e9e9e"/></pattern>'
        "</defs>",
        *_axis(scale),
    ]
    for row, bar in enumerate(bars):
        parts.extend(_row(row, bar, scale))
    parts.append("</svg>")
    return "".join(parts)


class _Scale:
    """Seconds since the first step to x.

    Linear while a step is at work; a stretch where the run only sleeps or waits is drawn at
    most a quarter as wide as all the work, so a 3-day sleep does not squash the steps around
    it into slivers.
    """

    def __init__(self, bars: list[_Bar]) -> None:
        self.origin = min(bar.start for bar in bars)
        busy = [(bar.start - self.origin, bar.end - self.origin) for bar in bars]
        points = {0.0}
        for bar in bars:
            points.update((bar.start - self.origin, bar.end - self.origin))
            if bar.until is not None:
                points.add(bar.until - self.origin)
        self.points = sorted(points)
        self.span = max(self.points[-1], 0.001)
        lengths = [b - a for a, b in zip(self.points, self.points[1:], strict=False)]
        covered = [
            any(lo <= a and b <= hi for lo, hi in busy)
            for a, b in zip(self.points, self.points[1:], strict=False)
        ]
        cap = max(0.25 * sum(n for n, c in zip(lengths, covered, strict=True) if c), 0.001)
        self.weights = [n if c else min(n, cap) for n, c in zip(lengths, covered, strict=True)]
        self.compressed = [
            (a, b)
            for (a, b), n, w in zip(
                zip(self.points, self.points[1:], strict=False), lengths, self.weights, strict=True
            )
            if w < n
        ]
        self.total = max(sum(self.weights), 0.001)

    def x(self, seconds: float) -> float:
        """The x of a point `seconds` after the first step started."""
        drawn = 0.0
        for (a, b), weight in zip(
            zip(self.points, self.points[1:], strict=False), self.weights, strict=True
        ):
            if seconds <= a:
                break
            part = (min(seconds, b) - a) / (b - a) if b > a else 1.0
            drawn += weight * part
        return LABEL_WIDTH + PLOT_WIDTH * min(drawn / self.total, 1.0)

    def at(self, fraction: float) -> float:
        """The seconds drawn at `fraction` of the plot's width."""
        wanted = fraction * self.total
        for (a, b), weight in zip(
            zip(self.points, self.points[1:], strict=False), self.weights, strict=True
        ):
            if wanted <= weight:
                return a + (b - a) * (wanted / weight if weight else 0.0)
            wanted -= weight
        return self.span


def _bar(step: StepStatus, now: float) -> _Bar:
    start = _seconds(step.started_at) or now
    if step.ended_at is not None:
        end = _seconds(step.ended_at) or start
    elif step.status in (StepState.SLEEPING, StepState.WAITING, StepState.RETRYING):
        end = start
    else:
        end = max(now, start)
    until = _seconds(step.wake_at) if step.status in _SUSPENDING else None
    return _Bar(step, start, end, until)


_SUSPENDING = (StepState.SLEEPING, StepState.WAITING, StepState.RETRYING)


def _seconds(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _axis(scale: _Scale) -> list[str]:
    y = AXIS_HEIGHT - 4
    parts = [
        f'<line x1="{LABEL_WIDTH}" y1="{y}" x2="{LABEL_WIDTH + PLOT_WIDTH}" y2="{y}" '
        'stroke="currentColor" stroke-opacity="0.4"/>'
    ]
    for index in range(5):
        x = LABEL_WIDTH + PLOT_WIDTH * index / 4
        anchor = "start" if index == 0 else "end" if index == 4 else "middle"
        parts.append(
            f'<text x="{x:.1f}" y="{y - 4}" font-size="11" text-anchor="{anchor}" '
            f'fill="currentColor">+{escape(_duration(scale.at(index / 4)))}</text>'
        )
    for start, end in scale.compressed:
        middle = (scale.x(start) + scale.x(end)) / 2
        parts.append(
            f'<path d="M{middle - 4:.1f},{y + 3} l4,-6 M{middle:.1f},{y + 3} l4,-6" '
            'stroke="currentColor" stroke-width="1.2"><title>time skipped on this axis: '
            f"{escape(_duration(end - start))} of sleeping or waiting</title></path>"
        )
    return parts


def _row(row: int, bar: _Bar, scale: _Scale) -> list[str]:
    step = bar.step
    y = AXIS_HEIGHT + row * ROW
    css = STATUS_CLASS.get(step.status, "wf-running")
    x0 = scale.x(bar.start - scale.origin)
    x1 = max(scale.x(bar.end - scale.origin), x0 + MIN_BAR)
    indent = 14 if step.parent else 0
    label = step.name if len(step.name) <= 28 else step.name[:27] + "…"
    if step.attempts > 1:
        label += f" \u00d7{step.attempts}"  # the multiplication sign
    title = escape(_describe(bar))
    parts = [
        f'<g class="wf-step {css}"><title>{title}</title>',
        f'<text x="{4 + indent}" y="{y + 15}" font-size="12" fill="currentColor">'
        f"{escape(label)}</text>",
        f'<rect x="{x0:.1f}" y="{y + 4}" width="{x1 - x0:.1f}" height="{ROW - 8}" rx="2" '
        f'fill="{STATUS_FILL[css]}"/>',
    ]
    if bar.until is not None and bar.until > bar.end:
        xw = max(scale.x(bar.until - scale.origin), x1 + MIN_BAR)
        parts.append(
            f'<rect x="{x1:.1f}" y="{y + 6}" width="{xw - x1:.1f}" height="{ROW - 12}" '
            'fill="url(#wf-hatch)" stroke="#9e9e9e" stroke-width="0.5"/>'
        )
    parts.append("</g>")
    return parts


def _describe(bar: _Bar) -> str:
    step = bar.step
    text = f"{step.name} ({step.kind}): {step.status}, {_duration(bar.end - bar.start)}"
    if step.attempts > 1:
        text += f", {step.attempts} attempts"
    if bar.until is not None:
        text += (
            f", until {datetime.fromtimestamp(bar.until).astimezone().isoformat(' ', 'seconds')}"
        )
    if step.error:
        text += f": {step.error.get('message', '')}"[:300]
    return text


def _summary(status: RunStatus, span: float) -> str:
    return f"run {status.id}: {len(status.steps)} steps over {_duration(span)}, {status.status}"


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
