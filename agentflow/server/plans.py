"""`/api/v1` routes of plans: submit, check, list, read, approve and reject."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from agentflow.engine import Engine
from agentflow.errors import PlanValidationError
from agentflow.models import PlanState, PlanVersion
from agentflow.review.api import decide
from agentflow.server.access import Access, Caller, Scope
from agentflow.server.problems import Problem
from agentflow.server.schemas import (
    AgentFilter,
    AgentId,
    CheckRequest,
    CheckResult,
    Decision,
    DecisionBody,
    PlanDetail,
    PlanId,
    PlanSubmission,
)
from agentflow.store.mappers import plan_version_of

PROBLEMS: dict[int | str, dict[str, object]] = {
    status: {"model": Problem} for status in (401, 403, 404, 409, 422)
}


def plans_router(engine: Engine, access: Access) -> APIRouter:
    """The plan routes over an engine, each scoped to the caller's token."""
    router = APIRouter(tags=["plans"], responses=PROBLEMS)

    def scope(caller: Caller = Depends(access)) -> Scope:
        return Scope(engine, caller)

    @router.post("/agents/{agent}/plans", status_code=201, response_model=PlanVersion)
    def submit_plan(
        agent: AgentId, body: PlanSubmission, scope: Scope = Depends(scope)
    ) -> PlanVersion:
        """Compile a plan and store it as the agent's next version.

        422 with `diagnostics` when it breaks the rules; nothing is stored then. The agent's
        review policy applies.
        """
        scope.caller.must_act()
        return scope.agent(agent).submit_plan(body.source, goal=body.goal)

    @router.post("/check", response_model=CheckResult)
    def check_plan(body: CheckRequest, scope: Scope = Depends(scope)) -> CheckResult:
        """Compile a plan without storing it: its diagnostics, or its review summary."""
        agent_id = body.agent or scope.caller.agent_id
        try:
            if agent_id is not None:
                compiled = scope.agent(agent_id).compile(body.source)
            else:
                compiled = engine.compile_for_agent(body.source, engine.tools.names())
        except PlanValidationError as exc:
            return CheckResult(ok=False, agent_id=agent_id, diagnostics=exc.diagnostics)
        return CheckResult(
            ok=True,
            agent_id=agent_id,
            warnings=list(compiled.warnings),
            summary=compiled.summary.model_dump(mode="json"),
        )

    @router.get("/plans", response_model=list[PlanVersion])
    def list_plans(
        scope: Scope = Depends(scope),
        agent: AgentFilter = None,
        status: PlanState | None = None,
    ) -> list[PlanVersion]:
        """Plan versions, newest first; an agent token sees only its own agent's."""
        own = scope.caller.visible_agent(agent)
        if agent is not None and own != agent:
            return []
        rows = engine.store.list_plans(own, status.value if status else None)
        return [plan_version_of(r) for r in rows]

    @router.get("/plans/{plan_id}", response_model=PlanDetail)
    def get_plan(plan_id: PlanId, scope: Scope = Depends(scope)) -> PlanDetail:
        """A plan version.

        Source, review summary, diff against the agent's last approved version, every decision
        taken on it, and the reviewer's context (queued params, repair, what changed).
        """
        plan = scope.plan(plan_id)
        return PlanDetail(
            **plan.model_dump(),
            diff=engine.reviews.diff(plan_id),
            decisions=[Decision(**d) for d in engine.reviews.decisions(plan_id)],
            context=engine.reviews.context(plan_id),
        )

    def decided(plan_id: PlanId, kind: str, body: DecisionBody | None, scope: Scope) -> PlanVersion:
        scope.plan(plan_id)
        scope.caller.must_review()
        comment = body.comment if body is not None else None
        # A decided plan raises PlanAlreadyDecided: a 409 through the problem table.
        return decide(engine, plan_id, kind, scope.caller.name, comment)

    @router.post("/plans/{plan_id}/approve", response_model=PlanVersion)
    def approve_plan(
        plan_id: PlanId, body: DecisionBody | None = None, scope: Scope = Depends(scope)
    ) -> PlanVersion:
        """Approve a pending plan version as the token's holder (reviewer and admin tokens)."""
        return decided(plan_id, "approve", body, scope)

    @router.post("/plans/{plan_id}/reject", response_model=PlanVersion)
    def reject_plan(
        plan_id: PlanId, body: DecisionBody | None = None, scope: Scope = Depends(scope)
    ) -> PlanVersion:
        """Reject a pending plan version as the token's holder (reviewer and admin tokens)."""
        return decided(plan_id, "reject", body, scope)

    return router
