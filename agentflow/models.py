"""The domain, named once: run, step and plan states, and the models hosts read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentflow.states import CLAIMABLE as CLAIMABLE
from agentflow.states import STEP_OUTCOMES as STEP_OUTCOMES
from agentflow.states import SUSPENDED as SUSPENDED
from agentflow.states import TERMINAL as TERMINAL
from agentflow.states import PlanState as PlanState
from agentflow.states import RunControl as RunControl
from agentflow.states import RunState as RunState
from agentflow.states import StepState as StepState


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
    status: StepState
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
        return self.status in TERMINAL


class StepSummary(BaseModel):
    """One `step.*` call as written in the source."""

    kind: Literal["do", "sleep", "sleep_until", "wait_for_event", "map", "parallel", "now"]
    name: str | None
    tool: str | list[str] | None = None
    line: int
    in_loop: bool = False
    side_effects: bool = False
    duration_seconds: float | None = None
    until: str | None = None
    event_type: str | None = None
    timeout_seconds: float | None = None
    retries_limit: int | None = None


class ToolUse(BaseModel):
    """A tool the plan references, how often, and whether it has side effects."""

    name: str
    side_effects: bool
    count: int


class PlanSummary(BaseModel):
    """What a reviewer needs to judge a plan; JSON-serialisable."""

    docstring: str | None = None
    steps: list[StepSummary] = Field(default_factory=list)
    total_sleep_seconds: float = 0.0
    event_types: list[str] = Field(default_factory=list)
    tools_used: list[ToolUse] = Field(default_factory=list)
    side_effects_in_loops: list[StepSummary] = Field(default_factory=list)
    imports: list[str] = Field(default_factory=list)
    risk: Literal["low", "medium", "high"] = "low"
    risk_reasons: list[str] = Field(default_factory=list)


class PlanVersion(BaseModel):
    """One stored, immutable version of an agent's plan, with its review state."""

    id: int
    agent_id: str
    version: int
    sha256: str
    source: str
    summary: PlanSummary = Field(default_factory=PlanSummary)
    warnings: list[Any] = Field(default_factory=list)
    goal: str | None = None
    origin: str = "submitted"
    status: PlanState
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
    approvals_required: int = 1
    approvals_given: int = 0

    @property
    def approved(self) -> bool:
        """True once a reviewer (or the agent's policy) approved this version."""
        return self.status == PlanState.APPROVED

    @property
    def approvals_text(self) -> str:
        """The two-person rule's progress in words, e.g. "1 of 2 approvals"."""
        return f"{self.approvals_given} of {self.approvals_required} approvals"


class AgentChange(BaseModel):
    """One explicit change to an agent (`agent.update(...)`): who, when, and what it was."""

    model_config = ConfigDict(frozen=True)

    id: int
    agent_id: str
    changed_by: str
    before: dict[str, Any]
    after: dict[str, Any]
    created_at: datetime


class HistoryEntry(BaseModel):
    """One entry of a run's append-only history (`run.history()`); entries are never rewritten.

    `kind` is one of `created`, `claimed`, `woken`, `step` (a finished attempt), `suspended`,
    `event`, `pause_requested`, `paused`, `resumed`, `terminate_requested`, `terminated`,
    `failed`, `requeued`, `restarted`, `repaired` (moved to a repaired plan version),
    `rebased` (steps the new version no longer keeps) or `completed`. `actor` and `reason` say
    who asked for a change and why (None for the worker's own transitions); `detail` holds the
    kind's facts (a step's name, attempt and status; an event's type, id and payload; ...).
    """

    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    kind: str
    actor: str | None = None
    reason: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class TraceEntry(BaseModel):
    """One thing a simulated run did, `at_seconds` after it started on the virtual clock.

    `kind` is "tool" (a call, with its arguments and the value the fake returned), "sleep" or
    "retry_delay" (skipped, `seconds` long), "event" (an example event answering a wait),
    "wait_timeout" (a wait left to time out, after `seconds`), "output" or "error".
    """

    model_config = ConfigDict(frozen=True)

    at_seconds: float
    kind: str
    step: str | None = None
    tool: str | None = None
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    value: Any = None
    value_from: str | None = None
    seconds: float | None = None
    event_type: str | None = None


class Simulation(BaseModel):
    """A dry run of a plan version: fake tools, a throw-away store and a virtual clock.

    `status` is the simulated run's end ("complete", "errored", "terminated"), or "stuck" when
    it could go no further (it waited on nothing the simulation could answer, or ran past the
    simulation's wall-clock limit). `virtual_seconds` is how long the run would take in real
    time; `wall_seconds` how long the simulation took.
    """

    plan_id: int
    agent_id: str
    version: int
    params: dict[str, Any] = Field(default_factory=dict)
    status: str
    output: Any = None
    error: dict[str, Any] | None = None
    reason: str | None = None
    trace: list[TraceEntry] = Field(default_factory=list)
    virtual_seconds: float
    wall_seconds: float

    @property
    def tool_calls(self) -> list[TraceEntry]:
        """The tool calls, in the order the plan made them."""
        return [entry for entry in self.trace if entry.kind == "tool"]
