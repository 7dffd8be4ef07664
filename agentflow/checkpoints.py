"""Step checkpoints as plain records: what an activation writes, and what the store reads back.

Plain dataclasses, free of SQL and of the table definitions, so a sandbox process (which
builds and sends them) never imports SQLAlchemy: its zygote starts in a fraction of the time.
`agentflow.store.tables` re-exports both.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from agentflow.states import StepState


@dataclass(frozen=True, slots=True)
class StepRecord:
    """A step checkpoint as read back: a plain record, cheap to build by the hundred on replay."""

    id: int
    run_id: str
    seq: int
    key: str
    name: str
    occurrence: int
    kind: str
    parent_key: str | None
    status: str
    output: Any
    error: dict[str, Any] | None
    attempts: int
    input_hash: str | None
    started_at: float | None
    ended_at: float | None
    wake_at: float | None


@dataclass(frozen=True, slots=True)
class StepWrite:
    """A step checkpoint to write (`StepRecord` is the same row read back).

    `new` says the activation knows the store has no record of this step yet, so the write is
    an insert; otherwise it updates the record, unless that one is already `complete`.
    """

    run_id: str
    seq: int
    key: str
    name: str
    occurrence: int
    kind: str
    status: str = StepState.RUNNING
    parent_key: str | None = None
    output: Any = None
    error: dict[str, Any] | None = None
    attempts: int = 0
    input_hash: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    wake_at: float | None = None
    new: bool = False

    def amended(self, **changes: Any) -> StepWrite:
        """This write with `changes` (`dataclasses.replace`, at a third of its cost).

        Raises:
            TypeError: a change names no field of a `StepWrite`.
        """
        values = list(write_row(self))
        for name, value in changes.items():
            position = _STEP_WRITE_POSITIONS.get(name)
            if position is None:
                raise TypeError(f"a StepWrite has no field {name!r}")
            values[position] = value
        return StepWrite(*values)


#: Seconds before its wake-up time a sleeping run may be claimed. The claim, the plan's load
#: and the replay happen in that time; the sleep (or retry delay) then waits out the rest in
#: the activation, so the run resumes at its time instead of a claim's length after it.
WAKE_LEAD = 0.005

STEP_WRITE_FIELDS = tuple(f.name for f in fields(StepWrite))
_STEP_WRITE_POSITIONS = {name: position for position, name in enumerate(STEP_WRITE_FIELDS)}
write_row: Callable[[StepWrite], tuple[Any, ...]] = operator.attrgetter(*STEP_WRITE_FIELDS)
"""A step write's values in `STEP_WRITE_FIELDS` order (as a sandbox sends it to its host)."""
STEP_COLUMNS = tuple(name for name in STEP_WRITE_FIELDS if name != "new")
"""The step table's columns a `StepWrite` fills."""
