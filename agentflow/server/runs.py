"""`/api/v1` routes of runs: start, plan-and-run, read, list, events and control."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query

from agentflow.engine import Engine
from agentflow.models import HistoryEntry, RunState, RunStatus
from agentflow.planner import plan_and_run
from agentflow.planner.model import PlannerModel
from agentflow.run import Run, run_status_of
from agentflow.server.access import Access, Caller, Scope
from agentflow.server.plans import PROBLEMS
from agentflow.server.schemas import (
    AgentFilter,
    AgentId,
    ControlRequest,
    EventReceipt,
    EventRequest,
    PlanAndRunReply,
    PlanAndRunRequest,
    RestartRequest,
    RunId,
    RunPage,
    RunRequest,
)
from agentflow.store.pages import page_runs

log = logging.getLogger("agentflow.server")


def encode_cursor(created_at: float, key: str) -> str:
    """The opaque cursor that continues a page after this run."""
    raw = json.dumps([created_at, key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The run a cursor continues after; ValueError for one this API did not give."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, key = json.loads(raw)
        if isinstance(created_at, int | float) and isinstance(key, str):
            return float(created_at), key
    except (binascii.Error, ValueError, TypeError):
        pass
    raise ValueError(f"cursor {cursor!r} is not one this API gave: pass a page's next_cursor")


def _epoch(moment: datetime | None) -> float | None:
    # Times are shown to the microsecond, rounded: half a microsecond earlier, `since` a run's
    # shown `created_at` includes that run and `until` it excludes it.
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() - 0.5e-6


def runs_router(
    engine: Engine, access: Access, model: str | PlannerModel | None = None
) -> APIRouter:
    """The run routes over an engine, each scoped to the caller's token.

    Args:
        engine: the engine whose runs these are.
        access: how callers are authenticated.
        model: the model plan-and-run asks (default: the agent's, the engine's,
            `AGENTFLOW_MODEL`, else a recorded reply), as `agentflow plan` does.
    """
    router = APIRouter(tags=["runs"], responses=PROBLEMS)

    def scope(caller: Caller = Depends(access)) -> Scope:
        return Scope(engine, caller)

    @router.post("/agents/{agent}/runs", status_code=201, response_model=RunStatus)
    def start_run(agent: AgentId, body: RunRequest, scope: Scope = Depends(scope)) -> RunStatus:
        """Start a run of an approved plan version (the latest by default).

        The same `run_id` never starts two runs: asking again answers the run it started.
        """
        scope.caller.must_act()
        found = scope.agent(agent)
        run = found.start(body.params, plan=body.plan_id, run_id=body.run_id)
        return run.status()

    @router.post("/agents/{agent}/plan-and-run", response_model=PlanAndRunReply)
    def plan_and_run_route(
        agent: AgentId, body: PlanAndRunRequest, scope: Scope = Depends(scope)
    ) -> PlanAndRunReply:
        """Plan a goal for the agent, apply its review policy and start the run.

        The agent's approved plan for the same goal is reused; with `wait`, answer once the run
        has ended.
        """
        scope.caller.must_act()
        found = scope.agent(agent)
        result = plan_and_run(
            body.goal,
            found,
            body.params,
            engine=engine,
            model=model,
            wait=body.wait,
            timeout=body.timeout,
            run_id=body.run_id,
        )
        return PlanAndRunReply(**result.model_dump())

    @router.get("/runs", response_model=RunPage)
    def list_runs(
        scope: Scope = Depends(scope),
        agent: AgentFilter = None,
        status: RunState | None = None,
        since: datetime | None = Query(default=None, description="Created at or after."),
        until: datetime | None = Query(default=None, description="Created before."),
        goal: str | None = Query(
            default=None, max_length=200, description="Its plan's goal contains this (any case)."
        ),
        limit: int = Query(default=50, ge=1, le=1000),
        cursor: str | None = Query(default=None, max_length=1000),
    ) -> RunPage:
        """Runs, newest first, a page at a time; an agent token sees only its own agent's."""
        own = scope.caller.visible_agent(agent)
        if agent is not None and own != agent:
            return RunPage(items=[])
        rows = page_runs(
            engine.store,
            agent_id=own,
            status=status.value if status else None,
            since=_epoch(since),
            until=_epoch(until),
            goal=goal or None,
            limit=limit + 1,
            after=decode_cursor(cursor) if cursor else None,
        )
        page = rows[:limit]
        last = page[-1] if len(rows) > limit else None
        return RunPage(
            items=[run_status_of(r, []) for r in page],
            next_cursor=encode_cursor(last.created_at, last.id) if last is not None else None,
        )

    @router.get("/runs/{run_id}", response_model=RunStatus)
    def get_run(
        run_id: RunId, scope: Scope = Depends(scope), agent: AgentFilter = None
    ) -> RunStatus:
        """A run.

        Status, output, error and step timeline (`agent` picks among agents that use the
        same run id).
        """
        return scope.run(run_id, agent).status()

    @router.get("/runs/{run_id}/history", response_model=list[HistoryEntry])
    def run_history(
        run_id: RunId, scope: Scope = Depends(scope), agent: AgentFilter = None
    ) -> list[HistoryEntry]:
        """A run's append-only history, oldest first.

        Every change to the run (created, claimed, step attempts, suspensions, events, pauses,
        restarts, repairs, its end), with who asked for it and why; entries are never rewritten.
        """
        return scope.run(run_id, agent).history()

    @router.post("/runs/{run_id}/events", status_code=202, response_model=EventReceipt)
    def send_event(
        run_id: RunId, body: EventRequest, scope: Scope = Depends(scope), agent: AgentFilter = None
    ) -> EventReceipt:
        """Send an event to a run; with an `id`, the same id is delivered at most once."""
        scope.caller.must_act()
        run = scope.run(run_id, agent)
        delivered = run.send_event(body.type, body.payload, id=body.id, actor=scope.caller.name)
        return EventReceipt(run_id=run.id, type=body.type, id=body.id, delivered=delivered)

    def control(
        scope: Scope, run_id: str, agent: str | None, action: str, reason: str | None
    ) -> Run:
        scope.caller.must_act()
        run = scope.run(run_id, agent)
        log.info("%s asked to %s run %s: %s", scope.caller.name, action, run.id, reason or "-")
        return run

    @router.post("/runs/{run_id}/pause", response_model=RunStatus)
    def pause_run(
        run_id: RunId,
        body: ControlRequest | None = None,
        scope: Scope = Depends(scope),
        agent: AgentFilter = None,
    ) -> RunStatus:
        """Pause a run at its next step boundary."""
        reason = body.reason if body else None
        run = control(scope, run_id, agent, "pause", reason)
        run.pause(actor=scope.caller.name, reason=reason)
        return run.status()

    @router.post("/runs/{run_id}/resume", response_model=RunStatus)
    def resume_run(
        run_id: RunId,
        body: ControlRequest | None = None,
        scope: Scope = Depends(scope),
        agent: AgentFilter = None,
    ) -> RunStatus:
        """Resume a paused run."""
        reason = body.reason if body else None
        run = control(scope, run_id, agent, "resume", reason)
        run.resume(actor=scope.caller.name, reason=reason)
        return run.status()

    @router.post("/runs/{run_id}/terminate", response_model=RunStatus)
    def terminate_run(
        run_id: RunId,
        body: ControlRequest | None = None,
        scope: Scope = Depends(scope),
        agent: AgentFilter = None,
    ) -> RunStatus:
        """Terminate a run for good."""
        reason = body.reason if body else None
        run = control(scope, run_id, agent, "terminate", reason)
        run.terminate(actor=scope.caller.name, reason=reason)
        return run.status()

    @router.post("/runs/{run_id}/restart", response_model=RunStatus)
    def restart_run(
        run_id: RunId,
        body: RestartRequest | None = None,
        scope: Scope = Depends(scope),
        agent: AgentFilter = None,
    ) -> RunStatus:
        """Run again: from the start, from a named step, or on another approved plan version."""
        body = body or RestartRequest()
        run = control(scope, run_id, agent, "restart", body.reason)
        run.restart(
            from_step=body.from_step,
            plan=body.plan_id,
            actor=scope.caller.name,
            reason=body.reason,
        )
        return run.status()

    return router
