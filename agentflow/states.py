"""Run, step and plan states: plain enums, free of pydantic.

A sandbox process needs them and nothing else of the models, so its zygote starts without
importing pydantic. `agentflow.models` re-exports every name.
"""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    """Where a run is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SLEEPING = "sleeping"
    WAITING = "waiting"
    PAUSED = "paused"
    COMPLETE = "complete"
    ERRORED = "errored"
    TERMINATED = "terminated"


TERMINAL: frozenset[RunState] = frozenset(
    {RunState.COMPLETE, RunState.ERRORED, RunState.TERMINATED}
)
"""Runs that have ended for good."""
CLAIMABLE: frozenset[RunState] = frozenset(
    {RunState.QUEUED, RunState.SLEEPING, RunState.WAITING, RunState.RUNNING}
)
"""Runs a worker may claim (a running one only once its lease has lapsed)."""
SUSPENDED: frozenset[RunState] = frozenset(
    {RunState.SLEEPING, RunState.WAITING, RunState.PAUSED, RunState.TERMINATED}
)
"""How an activation can end without settling its run for good (terminated ends it)."""


class RunControl(StrEnum):
    """A request a running run's activation honours at its next step boundary."""

    PAUSE = "pause"
    TERMINATE = "terminate"


HALTED_BY: dict[str, RunState] = {
    RunControl.PAUSE: RunState.PAUSED,
    RunControl.TERMINATE: RunState.TERMINATED,
}
"""The state a run stops in when its activation honours a control request."""


class StepState(StrEnum):
    """Where one step (or one attempt of it) is."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    RETRYING = "retrying"
    SLEEPING = "sleeping"
    WAITING = "waiting"
    TIMED_OUT = "timed_out"


STEP_OUTCOMES: frozenset[StepState] = frozenset({StepState.COMPLETE, StepState.TIMED_OUT})
"""Steps whose outcome replays as recorded (a result, or a wait that timed out): a run moved to
a new plan version keeps them when the new plan asks for the same steps."""


class PlanState(StrEnum):
    """A plan version's review state."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
