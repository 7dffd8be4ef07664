"""The compute budget at run time: its limits and the meter of one execution.

Every loop iteration and every call of a plan-defined function costs one tick; operations
that can build huge values (`**`, `<<`, `*`, `+` on sequences, `%` on strings, `range`, ...)
are routed through guards that estimate the result's size before computing it. The calls that
feed the meter are inserted at compile time, by `rewrite.py`.
"""

from __future__ import annotations

import sys

from pydantic import BaseModel, ConfigDict, Field

from agentflow.errors import BudgetSignal


class PlanLimits(BaseModel):
    """Budget of one `CompiledPlan.execute` call; every field is configurable."""

    model_config = ConfigDict(frozen=True)

    max_ticks: int = Field(default=1_000_000, ge=1, description="loop iterations + function calls")
    max_sequence_length: int = Field(
        default=1_000_000,
        ge=1,
        description="length of a str/list/tuple/range built in one operation",
    )
    max_power_bits: int = Field(
        default=4096,
        ge=64,
        description="bits of an int built by **, << or * (estimated beforehand)",
    )
    max_print_chars: int = Field(default=65_536, ge=0, description="characters `print` may emit")
    max_call_depth: int = Field(
        default=100, ge=1, description="nesting of plan-defined function calls"
    )
    max_allocated_items: int = Field(
        default=20_000_000, ge=1, description="total items/characters built by guarded operations"
    )


class Meter:
    """Counts the work of one execution and stops it when a limit is crossed."""

    __slots__ = ("_alloc_left", "_depth", "_filename", "_ticks_left", "limits")

    def __init__(self, limits: PlanLimits, filename: str) -> None:
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
