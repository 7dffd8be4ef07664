"""The bodies the HTTP API takes and answers (besides `PlanVersion` and `RunStatus`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from agentflow.diagnostics import Diagnostic
from agentflow.models import PlanVersion, RunStatus
from agentflow.review.context import ReviewContext

MAX_SOURCE = 200_000
MAX_TEXT = 10_000
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
MAX_ID = 2**62

AgentId = Annotated[str, Path(pattern=ID_PATTERN, description="The agent's id.")]
RunId = Annotated[str, Path(pattern=ID_PATTERN, description="The run's id (unique per agent).")]
PlanId = Annotated[int, Path(ge=1, le=MAX_ID, description="The plan version's id.")]
AgentFilter = Annotated[str | None, Query(pattern=ID_PATTERN, description="Only this agent's.")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanSubmission(_Body):
    """`POST /api/v1/agents/{agent}/plans`: a plan's source, and the goal it serves."""

    source: str = Field(max_length=MAX_SOURCE)
    goal: str | None = Field(default=None, max_length=MAX_TEXT)


class CheckRequest(_Body):
    """`POST /api/v1/check`: a plan to compile against an agent's tools, storing nothing."""

    source: str = Field(max_length=MAX_SOURCE)
    agent: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="The agent whose tools the plan may use (an agent token's own by default; "
        "otherwise every tool this server knows).",
    )


class CheckResult(BaseModel):
    """Whether a plan compiles: its diagnostics, or its review summary and warnings."""

    ok: bool
    agent_id: str | None = None
    diagnostics: list[Diagnostic] = Field(default_factory=list)
    warnings: list[Diagnostic] = Field(default_factory=list)
    summary: dict[str, Any] | None = None


class Decision(BaseModel):
    """A stored review decision (`created_at` in epoch seconds)."""

    plan_id: int
    decision: str
    reviewer: str
    comment: str | None = None
    created_at: float


class PlanDetail(PlanVersion):
    """A plan version with its diff against the agent's last approved version and decisions."""

    diff: str = ""
    decisions: list[Decision] = Field(default_factory=list)
    context: ReviewContext | None = None


class DecisionBody(_Body):
    """`POST /api/v1/plans/{id}/approve|reject`: the reviewer is the token's name."""

    comment: str | None = Field(default=None, max_length=MAX_TEXT)


class RunRequest(_Body):
    """`POST /api/v1/agents/{agent}/runs`: start a run of an approved plan version."""

    params: dict[str, Any] = Field(default_factory=dict)
    run_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="Idempotency: the same id never starts two runs of the agent.",
    )
    plan_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="Default: the agent's latest approved plan version.",
    )


class PlanAndRunRequest(_Body):
    """`POST /api/v1/agents/{agent}/plan-and-run`: plan a goal (or reuse its plan) and run it."""

    goal: str = Field(min_length=1, max_length=MAX_TEXT)
    params: dict[str, Any] = Field(default_factory=dict)
    wait: bool = Field(default=False, description="Answer once the run has ended (or timed out).")
    timeout: float = Field(default=30.0, gt=0, le=300, description="Seconds to wait with `wait`.")
    run_id: str | None = Field(default=None, pattern=ID_PATTERN)


class PlanAndRunReply(BaseModel):
    """What plan-and-run did: the plan version, and the run (started, or awaiting review)."""

    run_id: str
    status: str
    agent_id: str
    plan_id: int
    plan_version: int
    review: str
    reused: bool
    output: Any = None
    message: str


class RunPage(BaseModel):
    """A page of runs, newest first (their `steps` left empty: see `GET /api/v1/runs/{id}`)."""

    items: list[RunStatus]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last one."
    )


class EventRequest(_Body):
    """`POST /api/v1/runs/{run_id}/events`: an event for the run's waits."""

    type: str = Field(min_length=1, max_length=256)
    payload: Any = None
    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Idempotency key: an event id the run already received is not delivered again.",
    )


class EventReceipt(BaseModel):
    """The answer to an event: `delivered` is false when its id had been received before."""

    run_id: str
    type: str
    id: str | None = None
    delivered: bool


class ControlRequest(_Body):
    """`POST /api/v1/runs/{run_id}/pause|resume|terminate`: why (kept in the server's log)."""

    reason: str | None = Field(default=None, max_length=MAX_TEXT)


class RestartRequest(ControlRequest):
    """`POST /api/v1/runs/{run_id}/restart`: from the start, from a step, or on another plan."""

    from_step: str | None = Field(default=None, max_length=MAX_TEXT)
    plan_id: int | None = Field(default=None, ge=1, le=MAX_ID)
