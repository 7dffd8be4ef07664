"""The compute budget at run time: its limits and the meter of one execution.

Every loop iteration and every call of a plan-defined function costs one tick; operations
that can build huge values (`**`, `<<`, `*`, `+` on sequences, `%` on strings, `range`, ...)
are routed through guards that estimate the result's size before computing it. The calls that
feed the meter are inserted at compile time, by `rewrite.py`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Protocol

from agentflow.errors import BudgetSignal


class Limits(Protocol):
    """The six bounds a meter enforces: `PlanLimits` in a worker, `Budget` in a sandbox."""

    @property
    def max_ticks(self) -> int:
        """Loop iterations + function calls."""

    @property
    def max_sequence_length(self) -> int:
        """Length of a str/list/tuple/range built in one operation."""

    @property
    def max_power_bits(self) -> int:
        """Bits of an int built by **, << or * (estimated beforehand)."""

    @property
    def max_print_chars(self) -> int:
        """Characters `print` may emit."""

    @property
    def max_call_depth(self) -> int:
        """Nesting of plan-defined function calls."""

    @property
    def max_allocated_items(self) -> int:
        """Total items/characters built by guarded operations."""


@dataclass(frozen=True, slots=True)
class Budget:
    """Limits as a sandbox receives them: the worker's `PlanLimits`, already validated there.

    A plain record, so that a sandbox process never imports pydantic.
    """

    max_ticks: int
    max_sequence_length: int
    max_power_bits: int
    max_print_chars: int
    max_call_depth: int
    max_allocated_items: int


class Meter:
    """Counts the work of one execution and stops it when a limit is crossed."""

    __slots__ = ("_alloc_left", "_depth", "_filename", "_ticks_left", "limits")

    def __init__(self, limits: Limits, filename: str) -> None:
        self.limits = limits
        self._ticks_left = limits.max_ticks
        self._alloc_left = limits.max_allocated_items
        self._depth = 0
        self._filename = filename

    def tick(self) -> None:
        """Charge one loop iteration or call."""
        self._ticks_left -= 1
        if self._ticks_left < 0:
            self.exhausted(
                f"the plan ran more than max_ticks={self.limits.max_ticks} loop iterations and "
                "calls; make loops shorter or move the work into a tool"
            )

    def enter(self) -> None:
        """Charge a call of a plan-defined function and count its depth."""
        self.tick()
        self._depth += 1
        if self._depth > self.limits.max_call_depth:
            self._depth = 0  # sticky failure; `leave` calls that follow must not underflow
            self.exhausted(
                f"plan functions nested deeper than max_call_depth={self.limits.max_call_depth} "
                "(unbounded recursion?)"
            )

    def leave(self) -> None:
        """Pop one level of plan-function depth; never raises."""
        if self._depth > 0:
            self._depth -= 1

    def charge(self, size: int, what: str) -> None:
        """Charge an operation that builds `size` items, refusing it when it is too big."""
        if size > self.limits.max_sequence_length:
            self.exhausted(
                f"{what} would build {size} items, over max_sequence_length="
                f"{self.limits.max_sequence_length}"
            )
        self._alloc_left -= size
        if self._alloc_left < 0:
            self.exhausted(
                f"the plan built more than max_allocated_items="
                f"{self.limits.max_allocated_items} items in total ({what})"
            )

    def check_bits(self, bits: int, what: str) -> None:
        """Refuse an integer operation whose result would exceed `max_power_bits`."""
        if bits > self.limits.max_power_bits:
            self.exhausted(
                f"{what} would build an integer of about {bits} bits, over max_power_bits="
                f"{self.limits.max_power_bits}"
            )

    def exhausted(self, message: str) -> None:
        """Raise the uncatchable budget signal, naming the plan line that was running."""
        self._ticks_left = min(self._ticks_left, 0)
        line = self._plan_line()
        where = f" (plan line {line})" if line is not None else ""
        raise BudgetSignal(f"compute budget exceeded{where}: {message}", line)

    def _plan_line(self) -> int | None:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self._filename:
                return frame.f_lineno
            frame = frame.f_back  # type: ignore[assignment]
        return None
