"""What a reviewer needs beside a plan's source to decide on it: `engine.reviews.context(id)`.

The run the planner queued for the version and its params; for a repaired version, the run it
continues, the error it answers and which checkpoints the run keeps; a plain-language list of
what changed against the plan it replaces; and risk reasons for side-effecting calls whose count
or amount changed against a refused original.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from agentflow.errors import NotFound
from agentflow.models import STEP_OUTCOMES, PlanState, PlanSummary, PlanVersion, StepStatus
from agentflow.plan.changes import call_changes, tool_calls, what_changed
from agentflow.run import Run
from agentflow.store.mappers import plan_version_of
from agentflow.store.transitions import StartOnApproval

if TYPE_CHECKING:
    from agentflow.engine import Engine


class RepairContext(BaseModel):
    """The failed run a repaired version continues, its error, and the checkpoints it keeps."""

    run_id: str
    status: str
    params: dict[str, Any] = Field(default_factory=dict)
    error: dict[str, Any] | None = None
    failed_step: str | None = None
    kept_steps: list[str] = Field(default_factory=list)
    redone_steps: list[str] = Field(default_factory=list)


class ReviewContext(BaseModel):
    """Everything beside the source a reviewer decides a plan version on."""

    plan_id: int
    base_plan_id: int | None = None
    base_version: int | None = None
    base_reason: str = "no earlier plan to compare with"
    queued_run_id: str | None = None
    queued_params: dict[str, Any] | None = None
    repair: RepairContext | None = None
    changes: list[str] = Field(default_factory=list)
    risk_reasons: list[str] = Field(default_factory=list)


def review_context(engine: Engine, plan_id: int) -> ReviewContext:
    """The reviewer's context of a plan version (see `ReviewContext`); raises NotFound."""
    plan = engine.get_plan(plan_id)
    start = engine.store.start_on_approval(plan_id)
    context = ReviewContext(plan_id=plan_id)
    if start is not None and start.run_id and not start.restart_run_id:
        context.queued_run_id, context.queued_params = start.run_id, dict(start.params)
    base = _base_plan(engine, plan)
    if base is not None:
        context.base_plan_id, context.base_version = base.id, base.version
        context.base_reason = (
            "the plan it repairs" if base.id == plan.parent_id else "the last approved plan"
        )
        context.changes = what_changed(base.summary, plan.summary)
    failed = _failed_run(engine, plan, start)
    if failed is not None:
        context.repair = _repair_context(failed, plan.summary)
        # approving restarts that run on this version, with the params it was started with
        context.queued_run_id, context.queued_params = failed.id, context.repair.params
    if base is not None:
        context.risk_reasons = _risk_reasons(base, plan, context.repair)
    return context


def _base_plan(engine: Engine, plan: PlanVersion) -> PlanVersion | None:
    """The version to compare with: the one a repair replaces, else the last approved before."""
    if plan.parent_id is not None:
        try:
            return engine.get_plan(plan.parent_id)
        except NotFound:
            pass
    earlier = [
        p
        for p in engine.store.list_plans(plan.agent_id, PlanState.APPROVED)
        if p.version < plan.version
    ]
    return plan_version_of(earlier[0]) if earlier else None


def _failed_run(engine: Engine, plan: PlanVersion, start: StartOnApproval | None) -> Run | None:
    """The run a repaired version was written to continue, while it still waits for it."""
    if start is None or not start.restart_run_id:
        return None
    try:
        return engine.get_run(start.restart_run_id, agent=plan.agent_id)
    except NotFound:
        return None


def _repair_context(run: Run, summary: PlanSummary) -> RepairContext:
    status = run.status()
    top = [s for s in status.steps if s.parent is None]
    unfinished = [i for i, s in enumerate(top) if s.status not in STEP_OUTCOMES]
    # A restart on the new version keeps every finished step before the first unfinished one;
    # the replay reuses those the new version still runs under the same name.
    finished = top[: unfinished[0]] if unfinished else top
    names = {s.name for s in summary.steps if s.name is not None}
    failed = next((s for s in reversed(top) if s.error), None)
    return RepairContext(
        run_id=status.id,
        status=status.status,
        params=dict(status.params),
        error=status.error,
        failed_step=failed.name if failed else None,
        kept_steps=[_label(s) for s in finished if s.name in names],
        redone_steps=[_label(s) for s in finished if s.name not in names],
    )


def _label(step: StepStatus) -> str:
    return step.name if step.occurrence == 0 else f"{step.name} #{step.occurrence + 1}"


def _risk_reasons(base: PlanVersion, plan: PlanVersion, repair: RepairContext | None) -> list[str]:
    side_effecting = {t.name for t in plan.summary.tools_used if t.side_effects}
    reasons = call_changes(tool_calls(base.source), tool_calls(plan.source), side_effecting)
    if not reasons or repair is None or not repair.error:
        return reasons
    refused_tool = _tool_of(base.summary, repair.failed_step)
    where = f" at step {repair.failed_step!r}" if repair.failed_step else ""
    uses = f" (tool {refused_tool!r})" if refused_tool else ""
    message = repair.error.get("message") or repair.error.get("type") or "an error"
    reasons.append(
        f"the original (v{base.version}) was refused: run {repair.run_id} failed{where}{uses}: "
        f"{message}; check that the new calls do not split what was refused to get under a limit"
    )
    return reasons


def _tool_of(summary: PlanSummary, step_name: str | None) -> str | None:
    for step in summary.steps:
        if step.name == step_name and isinstance(step.tool, str):
            return step.tool
    return None
