"""Plan versions and the review decisions on them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from agentflow.errors import (
    ConfigurationError,
    DuplicateApproval,
    NotFound,
    PlanAlreadyDecided,
    RunStateError,
)
from agentflow.states import TERMINAL, PlanState, RunState
from agentflow.store.database import Database
from agentflow.store.history import append_history
from agentflow.store.runs import insert_queued_run
from agentflow.store.tables import (
    AGENTS,
    DECISIONS,
    PLANS,
    RUNS,
    PlanVersionRow,
    ReviewDecisionRow,
)
from agentflow.store.transitions import NewPlanVersion, StartOnApproval

_PLAN_BY_ID = select(PLANS).where(PLANS.c.id == bindparam("plan_id"))
_PLAN_SOURCE = select(PLANS.c.source).where(PLANS.c.id == bindparam("plan_id"))
_SOURCES_KEPT = 256
_LATEST_PLAN = (
    select(PLANS)
    .where(PLANS.c.agent_id == bindparam("agent_id"), PLANS.c.status == bindparam("status"))
    .order_by(PLANS.c.version.desc())
    .limit(1)
)
_LATEST_PLAN_ID = _LATEST_PLAN.with_only_columns(PLANS.c.id)


def approvals_for(approvals: Mapping[str, int] | None, summary: Mapping[str, Any] | None) -> int:
    """How many distinct approvals a plan version with this summary needs under the policy."""
    risk = str((summary or {}).get("risk") or "")
    return max(1, int((approvals or {}).get(risk, 1)))


def refresh_pending_approvals(
    conn: Connection, agent_id: str, approvals: Mapping[str, int]
) -> None:
    """Set the approvals each pending version of the agent needs under its (new) policy."""
    pending = conn.execute(
        select(PLANS.c.id, PLANS.c.summary).where(
            PLANS.c.agent_id == agent_id, PLANS.c.status == PlanState.PENDING
        )
    ).all()
    for plan in pending:
        conn.execute(
            update(PLANS)
            .where(PLANS.c.id == plan.id)
            .values(approvals_required=approvals_for(approvals, plan.summary))
        )


def _agent_approvals(conn: Connection, agent_id: str) -> dict[str, int]:
    stored = conn.execute(select(AGENTS.c.approvals).where(AGENTS.c.id == agent_id)).scalar()
    return dict(stored or {})


class PlanStore(Database):
    """The store's plan versions and review decisions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plan_sources: dict[int, str] = {}

    def add_plan_version(self, plan: NewPlanVersion) -> PlanVersionRow:
        """Store a new plan version, pending review, numbered after the agent's last one."""
        for _ in range(20):
            with self._tx() as conn:
                last = conn.execute(
                    select(func.max(PLANS.c.version)).where(PLANS.c.agent_id == plan.agent_id)
                ).scalar()
                required = approvals_for(_agent_approvals(conn, plan.agent_id), plan.summary)
                try:
                    with conn.begin_nested():
                        result = conn.execute(
                            insert(PLANS).values(
                                version=(last or 0) + 1,
                                created_at=time.time(),
                                status=PlanState.PENDING,
                                approvals_required=required,
                                approvals_given=0,
                                **asdict(plan),
                            )
                        )
                except IntegrityError:
                    continue
                plan_id = result.inserted_primary_key[0]  # type: ignore[index]
            return self.get_plan(plan_id)
        raise ConfigurationError(f"could not number a new plan version for agent {plan.agent_id!r}")

    def get_plan(self, plan_id: int) -> PlanVersionRow:
        """The plan version with this id; raises NotFound."""
        rows = self._fetch(_PLAN_BY_ID, {"plan_id": plan_id})
        if not rows:
            raise NotFound(f"no plan version with id {plan_id}")
        return PlanVersionRow.model_construct(**rows[0])

    def plan_source(self, plan_id: int) -> str:
        """The source of a plan version (never changed once stored: kept after the first read).

        Raises:
            NotFound: no such plan version.
        """
        sources = self._plan_sources
        source = sources.get(plan_id)
        if source is None:
            rows = self._fetch(_PLAN_SOURCE, {"plan_id": plan_id})
            if not rows:
                raise NotFound(f"no plan version with id {plan_id}")
            if len(sources) >= _SOURCES_KEPT:
                sources.clear()
            source = sources[plan_id] = rows[0]["source"]
        return source

    def list_plans(
        self, agent_id: str | None = None, status: str | None = None
    ) -> list[PlanVersionRow]:
        """Plan versions, newest first, filtered by agent and status."""
        query = select(PLANS).order_by(PLANS.c.id.desc())
        if agent_id is not None:
            query = query.where(PLANS.c.agent_id == agent_id)
        if status is not None:
            query = query.where(PLANS.c.status == status)
        with self._tx() as conn:
            return [PlanVersionRow(**r._mapping) for r in conn.execute(query)]

    def latest_plan(self, agent_id: str, status: str = PlanState.APPROVED) -> PlanVersionRow | None:
        """The agent's newest plan version with that status."""
        rows = self._fetch(_LATEST_PLAN, {"agent_id": agent_id, "status": status})
        return PlanVersionRow.model_construct(**rows[0]) if rows else None

    def latest_plan_id(self, agent_id: str, status: str = PlanState.APPROVED) -> int | None:
        """The id of the agent's newest plan version with that status (no source read)."""
        rows = self._fetch(_LATEST_PLAN_ID, {"agent_id": agent_id, "status": status})
        return int(rows[0]["id"]) if rows else None

    def find_reusable_plan(
        self, agent_id: str, goal_key: str, catalogue_hash: str
    ) -> PlanVersionRow | None:
        """The newest approved plan for the same normalised goal and tool catalogue."""
        query = (
            select(PLANS)
            .where(
                PLANS.c.agent_id == agent_id,
                PLANS.c.goal_key == goal_key,
                PLANS.c.catalogue_hash == catalogue_hash,
                PLANS.c.status == PlanState.APPROVED,
            )
            .order_by(PLANS.c.version.desc())
            .limit(1)
        )
        with self._tx() as conn:
            row = conn.execute(query).first()
        return PlanVersionRow(**row._mapping) if row else None

    def start_on_approval(self, plan_id: int) -> StartOnApproval | None:
        """What the approval of this plan version is still to set going, if anything."""
        with self._tx() as conn:
            stored = conn.execute(
                select(PLANS.c.start_on_approval).where(PLANS.c.id == plan_id)
            ).scalar()
        return StartOnApproval.stored(stored)

    def clear_start_on_approval(self, plan_id: int) -> None:
        """Record that the approval of this plan version has set going what it had to."""
        self.update_plan(plan_id, start_on_approval=None)

    def update_plan(self, plan_id: int, **fields: Any) -> None:
        """Set mutable bookkeeping fields of a plan version (never its source)."""
        assert "source" not in fields and "sha256" not in fields
        with self._tx() as conn:
            conn.execute(update(PLANS).where(PLANS.c.id == plan_id).values(**fields))

    def decide_plan(
        self,
        plan_id: int,
        decision: PlanState,
        reviewer: str,
        comment: str | None,
        *,
        final: bool = False,
    ) -> PlanVersionRow:
        """Record a review decision on a pending plan version, in one transaction.

        Only a `pending` version can be decided, so of two reviewers deciding at once exactly
        one wins. A rejection is final at once. An approval counts towards the approvals the
        agent's policy asks for a version of its risk (`approvals={"high": 2}`): until they are
        all given, by distinct reviewers, the version stays pending; the last one approves it
        and starts the run queued for it, in the same transaction. `final` (the agent's own
        review policy deciding) approves at once. Rejecting a version also settles every run
        still pinned to it that has not ended (queued, sleeping, waiting, paused, or running
        under a lease, which the rejection revokes) as `errored` with the reason, so a rejected
        plan never runs another step.

        Raises:
            NotFound: there is no plan version with this id.
            PlanAlreadyDecided: the version was already decided (by another reviewer, perhaps).
            DuplicateApproval: this reviewer already approved the version, which still needs
                another reviewer's approval.
        """
        now = time.time()
        with self._tx() as conn:
            plan = self._pending_plan(conn, plan_id)
            given = plan.approvals_given
            required = approvals_for(_agent_approvals(conn, plan.agent_id), plan.summary)
            if decision == PlanState.APPROVED and not final:
                if self._approved_by(conn, plan_id, reviewer):
                    raise DuplicateApproval(plan_id, reviewer, given, max(required, given + 1))
                given += 1
            else:
                given += decision == PlanState.APPROVED
            done = decision == PlanState.REJECTED or final or given >= required
            values: dict[str, Any] = {"approvals_given": given, "approvals_required": required}
            if done:
                values.update(
                    status=decision, decided_by=reviewer, decided_at=now, decision_comment=comment
                )
            # Conditional on the count read above, so that even a store whose transactions do not
            # hold the row from the read on can never lose a concurrent reviewer's approval.
            written = conn.execute(
                update(PLANS)
                .where(
                    PLANS.c.id == plan_id,
                    PLANS.c.status == PlanState.PENDING,
                    PLANS.c.approvals_given == plan.approvals_given,
                )
                .values(**values)
            )
            if written.rowcount != 1:
                raise RunStateError(
                    f"plan version {plan_id} changed while this decision was taken (another "
                    "reviewer decided at the same moment); nothing was recorded: try again"
                )
            conn.execute(
                insert(DECISIONS).values(
                    plan_id=plan_id,
                    decision=decision,
                    reviewer=reviewer,
                    comment=comment,
                    created_at=now,
                )
            )
            if decision == PlanState.REJECTED:
                self._settle_rejected_runs(conn, plan_id, reviewer, comment, now)
            elif done:
                self._start_queued_on_approval(conn, plan_id, now)
            # as this decision left it: a reviewer whose approval was not the last one must not
            # see (and act on) the approval another reviewer gave right after
            decided = conn.execute(select(PLANS).where(PLANS.c.id == plan_id)).one()
        return PlanVersionRow(**decided._mapping)

    def _pending_plan(self, conn: Connection, plan_id: int) -> Any:
        """The pending version's row, locked for this transaction's decision."""
        query = self.dialect.lock_rows(
            select(
                PLANS.c.agent_id,
                PLANS.c.status,
                PLANS.c.decided_by,
                PLANS.c.summary,
                PLANS.c.approvals_given,
            ).where(PLANS.c.id == plan_id)
        )
        plan = conn.execute(query).first()
        if plan is None:
            raise NotFound(f"no plan version with id {plan_id}")
        if plan.status != PlanState.PENDING:
            raise PlanAlreadyDecided(plan_id, plan.status, plan.decided_by)
        return plan

    @staticmethod
    def _approved_by(conn: Connection, plan_id: int, reviewer: str) -> bool:
        found = conn.execute(
            select(DECISIONS.c.id).where(
                DECISIONS.c.plan_id == plan_id,
                DECISIONS.c.reviewer == reviewer,
                DECISIONS.c.decision == PlanState.APPROVED,
            )
        ).first()
        return found is not None

    def _settle_rejected_runs(
        self, conn: Connection, plan_id: int, reviewer: str, comment: str | None, now: float
    ) -> None:
        version = conn.execute(select(PLANS.c.version).where(PLANS.c.id == plan_id)).scalar()
        reason = f"plan version {version} was rejected by {reviewer}"
        unfinished = self.dialect.lock_rows(
            select(RUNS.c.id).where(RUNS.c.plan_id == plan_id, RUNS.c.status.not_in(TERMINAL))
        )
        keys = [r[0] for r in conn.execute(unfinished)]
        conn.execute(
            update(RUNS)
            .where(RUNS.c.id.in_(keys))
            .values(
                status=RunState.ERRORED,
                error={
                    "type": "PlanRejected",
                    "message": reason + (f": {comment}" if comment else ""),
                },
                ended_at=now,
                updated_at=now,
                wake_at=None,
                waiting_for=None,
                control=None,
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        for key in keys:
            detail = {"error": {"type": "PlanRejected", "message": reason}, "plan_id": plan_id}
            append_history(conn, key, "failed", detail, actor=reviewer, reason=comment, at=now)

    def _start_queued_on_approval(self, conn: Connection, plan_id: int, now: float) -> None:
        """Start the run a pending version was queued with, in its approval's transaction.

        No crash can then leave an approved plan whose run never starts. A repaired version's
        restart of its failed run is left to `Reviews.approve`.
        """
        row = conn.execute(
            select(PLANS.c.agent_id, PLANS.c.start_on_approval).where(PLANS.c.id == plan_id)
        ).first()
        if row is None or not row.start_on_approval:
            return
        start = StartOnApproval.stored(row.start_on_approval)
        if start is None or not start.run_id or start.restart_run_id:
            return
        run_id, params = start.run_id, start.params
        exists = conn.execute(
            select(RUNS.c.id).where(RUNS.c.agent_id == row.agent_id, RUNS.c.run_id == run_id)
        ).first()
        if exists is None:
            key = f"run_{uuid.uuid4().hex}"
            insert_queued_run(conn, self.dialect, run_id, row.agent_id, plan_id, params, key, now)
        conn.execute(update(PLANS).where(PLANS.c.id == plan_id).values(start_on_approval=None))

    def list_decisions(self, plan_id: int) -> list[ReviewDecisionRow]:
        """Every review decision on a plan version, oldest first."""
        query = select(DECISIONS).where(DECISIONS.c.plan_id == plan_id).order_by(DECISIONS.c.id)
        with self._tx() as conn:
            return [ReviewDecisionRow(**r._mapping) for r in conn.execute(query)]
