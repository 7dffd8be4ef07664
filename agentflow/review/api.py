"""The review app's JSON API (`/api/...`): the same plans, decisions and runs as its pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from agentflow.run import run_status_of
from agentflow.runtime import PlanVersion, RunStatus
from agentflow.states import PlanState, RunState
from agentflow.store.mappers import plan_version_of

if TYPE_CHECKING:
    from agentflow.engine import Engine


class DecisionRequest(BaseModel):
    """The body of `POST /api/plans/{id}/approve` and `/reject`."""

    reviewer: str
    comment: str | None = None


class Decision(BaseModel):
    """A stored review decision (`created_at` in epoch seconds)."""

    plan_id: int
    decision: str
    reviewer: str
    comment: str | None = None
    created_at: float


PlanFilter = Literal[PlanState.PENDING, PlanState.APPROVED, PlanState.REJECTED, "all"]
"""A plan list's status filter: one state, or every plan."""


def signed_in(request: Request) -> str:
    """The name of the reviewer signed in with a named token ("" when there is none)."""
    return str(getattr(request.state, "reviewer", "") or "")


def decide(
    engine: Engine, plan_id: int, decision: str, reviewer: str, comment: str | None
) -> PlanVersion:
    """Approve or reject a pending plan version for the web app and its API.

    Raises:
        NotFound: no such plan version.
        MissingReviewer: `reviewer` is blank.
        PlanAlreadyDecided: the version was already approved or rejected.
    """
    engine.get_plan(plan_id)  # an unknown plan is reported before a missing reviewer
    act = engine.reviews.approve if decision == "approve" else engine.reviews.reject
    return act(plan_id, reviewer=reviewer.strip(), comment=(comment or "").strip() or None)


def api_router(engine: Engine) -> APIRouter:
    """The JSON routes over an engine's store, to mount under `/api`."""
    router = APIRouter(tags=["review"])

    @router.get("/plans", response_model=list[PlanVersion])
    def plans(
        status: PlanFilter = PlanState.PENDING,
        agent: str | None = None,
    ) -> list[PlanVersion]:
        """Plan versions, newest first (`status=all` for every one)."""
        rows = engine.store.list_plans(agent, None if status == "all" else status)
        return [plan_version_of(r) for r in rows]

    @router.get("/plans/{plan_id}", response_model=PlanVersion)
    def plan(plan_id: int) -> PlanVersion:
        """One plan version: source, review summary, generation and review state."""
        return engine.get_plan(plan_id)

    @router.get("/plans/{plan_id}/diff", response_class=PlainTextResponse)
    def diff(plan_id: int) -> str:
        """The unified diff against the agent's last approved plan before this one."""
        return engine.reviews.diff(plan_id)

    @router.get("/plans/{plan_id}/decisions", response_model=list[Decision])
    def decisions(plan_id: int) -> list[dict[str, Any]]:
        """Every decision taken on the plan version, oldest first."""
        engine.get_plan(plan_id)
        return engine.reviews.decisions(plan_id)

    def decided(plan_id: int, kind: str, body: DecisionRequest, request: Request) -> PlanVersion:
        reviewer = signed_in(request) or body.reviewer
        return decide(engine, plan_id, kind, reviewer, body.comment)

    @router.post("/plans/{plan_id}/approve", response_model=PlanVersion)
    def approve(plan_id: int, body: DecisionRequest, request: Request) -> PlanVersion:
        """Approve a pending plan version (400 without a reviewer, 409 if already decided)."""
        return decided(plan_id, "approve", body, request)

    @router.post("/plans/{plan_id}/reject", response_model=PlanVersion)
    def reject(plan_id: int, body: DecisionRequest, request: Request) -> PlanVersion:
        """Reject a pending plan version (400 without a reviewer, 409 if already decided)."""
        return decided(plan_id, "reject", body, request)

    @router.get("/runs", response_model=list[RunStatus])
    def runs(
        status: RunState | None = None, agent: str | None = None, limit: int = 200
    ) -> list[RunStatus]:
        """Runs, newest first; their `steps` are left empty here (see `/api/runs/{id}`)."""
        rows = engine.store.list_runs(agent, status, limit=max(1, min(limit, 1000)))
        return [run_status_of(r, []) for r in rows]

    @router.get("/runs/{run_id}", response_model=RunStatus)
    def run(run_id: str, agent: str | None = None) -> RunStatus:
        """One run (of `agent`, since run ids are unique per agent): status and timeline."""
        status: RunStatus = engine.get_run(run_id, agent=agent or None).status()
        return status

    return router
