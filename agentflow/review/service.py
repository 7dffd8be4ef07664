"""`engine.reviews`: approve or reject plan versions; every decision is stored."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agentflow.errors import MissingReviewer
from agentflow.models import PlanState, Simulation
from agentflow.review.context import ReviewContext, review_context
from agentflow.runtime import PlanVersion
from agentflow.simulation import simulate
from agentflow.store.mappers import plan_version_of

if TYPE_CHECKING:
    from agentflow.engine import Engine


class Reviews:
    """Review decisions on plan versions. A plan that is not approved never runs."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def pending(self, agent_id: str | None = None) -> list[PlanVersion]:
        """Plan versions that await a reviewer, newest first."""
        return [
            plan_version_of(r) for r in self._engine.store.list_plans(agent_id, PlanState.PENDING)
        ]

    def approve(self, plan_id: int, reviewer: str, comment: str | None = None) -> PlanVersion:
        """Approve a pending plan version; a run the planner queued for it starts (or restarts).

        Under the two-person rule (`engine.agent(..., approvals={"high": 2})`) a version of
        that risk stays pending until as many distinct reviewers approved it; the returned
        version says how far it got (`approvals_given` of `approvals_required`), and the
        queued run starts with the last approval.

        Raises:
            MissingReviewer: `reviewer` is blank.
            PlanAlreadyDecided: the version was already approved or rejected; decisions are final.
            DuplicateApproval: this reviewer already approved the still pending version.
        """
        # The store starts a queued fresh run in the decision's own transaction.
        plan = self._decide(plan_id, PlanState.APPROVED, reviewer, comment)
        if not plan.approved:
            return plan  # more approvals to come: nothing starts yet
        self._engine.notify()
        start = self._engine.store.start_on_approval(plan_id)
        if start is not None:
            agent = self._engine.get_agent(plan.agent_id)
            if start.restart_run_id:
                # a repaired version: the failed run goes on with it, keeping its checkpoints
                agent.get_run(start.restart_run_id).restart(
                    plan=plan_id, actor=reviewer, reason=comment
                )
            else:
                agent.start(start.params, plan=plan_id, run_id=start.run_id)
            self._engine.store.clear_start_on_approval(plan_id)
        return plan

    def simulate(
        self,
        plan_id: int,
        fixtures: Mapping[str, Any] | None = None,
        events: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        waits: str = "answer",
        max_seconds: float = 60.0,
    ) -> Simulation:
        """Dry-run a plan version (pending or not) and return its trace; no real tool is called.

        The plan runs against fake tools on a throw-away store with a virtual clock: sleeps,
        retry delays and wait timeouts take no real time, and the result says how long the run
        would take. Each fake returns `fixtures[tool]` (a value, or a callable given the call's
        arguments), else an example of the real tool's return annotation, else None.

        Args:
            plan_id: the plan version to simulate.
            fixtures: return values per tool name.
            events: example payloads per event type that answer the plan's waits (a list gives
                one payload per wait, in order; a type with no example is answered with `{}`).
            params: the run's params (default: those of the run queued for the version).
            waits: "answer" (waits get example events) or "timeout" (waits time out).
            max_seconds: the most real time the simulation may take.
        """
        return simulate(
            self._engine,
            plan_id,
            fixtures,
            events,
            params=params,
            waits=waits,
            max_seconds=max_seconds,
        )

    def reject(self, plan_id: int, reviewer: str, comment: str | None = None) -> PlanVersion:
        """Reject a pending plan version; it will never run.

        Runs already pinned to it that have not ended are settled as `errored` with the reason
        ("plan version N was rejected by REVIEWER"); their leases are revoked.

        Raises:
            MissingReviewer: `reviewer` is blank.
            PlanAlreadyDecided: the version was already approved or rejected; decisions are final.
        """
        return self._decide(plan_id, PlanState.REJECTED, reviewer, comment)

    def _decide(
        self, plan_id: int, decision: PlanState, reviewer: str, comment: str | None
    ) -> PlanVersion:
        if not reviewer or not reviewer.strip():
            raise MissingReviewer()
        # The store decides only a pending version, in one statement: of two reviewers acting
        # at once exactly one wins, and the other gets PlanAlreadyDecided.
        return plan_version_of(self._engine.store.decide_plan(plan_id, decision, reviewer, comment))

    def context(self, plan_id: int) -> ReviewContext:
        """What a reviewer decides a plan version on, beside its source and summary.

        The queued run's params; for a repaired version, the run it continues, the error it
        answers and the checkpoints kept; what changed against the plan it replaces (steps
        added, removed and moved, tools, durations); and risk reasons for side-effecting calls
        whose count or literal arguments changed, saying when the original was refused.

        Raises:
            NotFound: no such plan version.
        """
        return review_context(self._engine, plan_id)

    def decisions(self, plan_id: int) -> list[dict[str, Any]]:
        """Every decision taken on a plan version, oldest first."""
        return [d.model_dump() for d in self._engine.store.list_decisions(plan_id)]

    def diff(self, plan_id: int) -> str:
        """A unified diff of a plan version against its agent's last approved version before it."""
        store = self._engine.store
        plan = store.get_plan(plan_id)
        earlier = [
            p
            for p in store.list_plans(plan.agent_id, PlanState.APPROVED)
            if p.version < plan.version
        ]
        base = earlier[0] if earlier else None
        base_name = f"{plan.agent_id} v{base.version}" if base else "(no approved plan)"
        return "".join(
            difflib.unified_diff(
                (base.source if base else "").splitlines(keepends=True),
                plan.source.splitlines(keepends=True),
                fromfile=base_name,
                tofile=f"{plan.agent_id} v{plan.version}",
            )
        )
