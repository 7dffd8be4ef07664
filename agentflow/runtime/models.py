"""Pydantic models that cross the runtime's boundary: what plans receive and hosts read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunState = Literal[
    "queued", "running", "sleeping", "waiting", "paused", "complete", "errored", "terminated"
]


def to_datetime(epoch: float | None) -> datetime | None:
    """An aware UTC datetime from epoch seconds (None stays None)."""
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)


class RunEvent(BaseModel):
    """The `event` a plan's `run(event, step)` receives: the run's input and identity."""

    model_config = ConfigDict(frozen=True)

    params: dict[str, Any] = Field(default_factory=dict)
    run_id: str
    agent_id: str
    timestamp: datetime


class Event(BaseModel):
    """An event delivered to `step.wait_for_event`."""

    model_config = ConfigDict(frozen=True)

    type: str
    payload: Any = None
    timestamp: datetime


class StepStatus(BaseModel):
    """One entry of a run's step timeline."""

    key: str
    name: str
    occurrence: int
    kind: str
    status: str
    attempts: int
    parent: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    wake_at: datetime | None = None
    duration_ms: float | None = None
    output: Any = None
    error: dict[str, Any] | None = None


class RunStatus(BaseModel):
    """A run as a host sees it: its state, output or error, and its step timeline."""

    id: str
    agent_id: str
    plan_id: int
    status: RunState
    params: dict[str, Any] = Field(default_factory=dict)
    output: Any = None
    error: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    wake_at: datetime | None = None
    waiting_for: str | None = None
    activations: int = 0
    log: str = ""
    steps: list[StepStatus] = Field(default_factory=list)

    @property
    def done(self) -> bool:
        """True once the run is complete, errored or terminated."""
        return self.status in ("complete", "errored", "terminated")


class PlanVersion(BaseModel):
    """One stored, immutable version of an agent's plan, with its review state."""

    id: int
    agent_id: str
    version: int
    sha256: str
    source: str
    summary: dict[str, Any] = Field(default_factory=dict)
    warnings: list[Any] = Field(default_factory=list)
    goal: str | None = None
    origin: str = "submitted"
    status: Literal["pending", "approved", "rejected"]
    parent_id: int | None = None
    model: str | None = None
    prompt_hash: str | None = None
    tokens: int | None = None
    cost: float | None = None
    generation: list[Any] = Field(default_factory=list)
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_comment: str | None = None
    reused: bool = False

    @property
    def approved(self) -> bool:
        """True once a reviewer (or the agent's policy) approved this version."""
        return self.status == "approved"


class AgentChange(BaseModel):
    """One explicit change to an agent (`agent.update(...)`): who, when, and what it was."""

    model_config = ConfigDict(frozen=True)

    id: int
    agent_id: str
    changed_by: str
    before: dict[str, Any]
    after: dict[str, Any]
    created_at: datetime
