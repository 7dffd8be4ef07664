"""`PlanLimits`: the compute budget of one execution of plan code, as hosts configure it.

`budget.Meter` enforces it; a sandbox receives it as a plain `budget.Budget`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
