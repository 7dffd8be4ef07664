"""Runs: creating and reading them, and the transitions a host asks for.

Pause, terminate, resume and restart each return the `Transition` that happened.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, insert, or_, select, update

from agentflow.errors import NotFound
from agentflow.plain import safe_text
from agentflow.states import TERMINAL, PlanState, RunControl, RunState
from agentflow.store.dialect import Dialect
from agentflow.store.history import append_history, error_summary
from agentflow.store.journal import JournalStore, delete_steps
from agentflow.store.tables import DECISIONS, PLANS, RUNS, STEPS, RunRow
from agentflow.store.transitions import Transition

_RUN_BY_KEY = select(RUNS).where(RUNS.c.id == bindparam("key"))
_RUN_OF_AGENT = select(RUNS).where(
    RUNS.c.agent_id == bindparam("agent_id"), RUNS.c.run_id == bindparam("run_id")
)
_INSERT_QUEUED = (
    insert(RUNS)
    .values(
        id=bindparam("key"),
        run_id=bindparam("run_id"),
        agent_id=bindparam("agent_id"),
        plan_id=bindparam("plan_id"),
        params=bindparam("params", type_=RUNS.c.params.type),
        status=RunState.QUEUED,
        created_at=bindparam("now"),
        updated_at=bindparam("now"),
        wake_at=bindparam("now"),
        log="",
        rebase=False,
        activations=0,
        unsettled=0,
    )
    .returning(*RUNS.c)
)
_TERMINATED_ON_REQUEST = {"type": "Terminated", "message": "terminated on request"}
_CONTROL_DONE = {RunControl.PAUSE: "paused", RunControl.TERMINATE: "terminated"}


def insert_queued_run(
    conn: Connection,
    dialect: Dialect,
    run_id: str,
    agent_id: str,
    plan_id: int,
    params: dict[str, Any],
    key: str | None,
    now: float,
) -> None:
    """Insert a run, queued and due now, and its `created` history entry, in the caller's tx."""
    run_key, values, created = _queued(run_id, agent_id, plan_id, params, key, now)
    conn.execute(_INSERT_QUEUED, values)
    append_history(conn, run_key, "created", created, at=now)
    dialect.signal_due(conn)


def _queued(
    run_id: str,
    agent_id: str,
    plan_id: int,
    params: dict[str, Any],
    key: str | None,
    now: float,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A new run's key, the parameters of `_INSERT_QUEUED`, and its `created` entry's detail."""
    run_key = key or run_id
    values = {
        "key": run_key,
        "run_id": run_id,
        "agent_id": agent_id,
        "plan_id": plan_id,
        "params": params,
        "now": now,
    }
    return run_key, values, {"run_id": run_id, "plan_id": plan_id, "params": params}


def _the_run(key: str, agent_id: str | None) -> list[ColumnElement[bool]]:
    """The run with this key, and only if it is that agent's (when one is named)."""
    conditions = [RUNS.c.id == key]
    if agent_id is not None:
        conditions.append(RUNS.c.agent_id == agent_id)
    return conditions


class RunStore(JournalStore):
    """The store's runs.

    The transitions take the run's store-wide key and, for a handle bound to an agent, that
    agent's id: a run of another agent is not found.
    """

    def set_trace_context(self, key: str, carrier: dict[str, str]) -> None:
        """Store the trace a run's spans belong to, across its activations and workers."""
        with self._tx() as conn:
            conn.execute(update(RUNS).where(RUNS.c.id == key).values(trace_context=carrier))

    def create_run(
        self,
        run_id: str,
        agent_id: str,
        plan_id: int,
        params: dict[str, Any],
        key: str | None = None,
    ) -> tuple[RunRow, bool]:
        """Insert a queued run; returns (row, created).

        The same `run_id` never makes two runs of one agent: the second call returns the
        first. Another agent's run with the same id is a different run. `key` is the run's
        store-wide key (default: `run_id`, for ids agentflow generated itself).
        """
        now = time.time()
        run_key, values, created = _queued(run_id, agent_id, plan_id, params, key, now)
        try:
            with self._hot() as cursor:
                (row,) = self._prepare(_INSERT_QUEUED, list(RUNS.c)).rows(cursor, values)
                self._journal.append(cursor, run_key, "created", created, at=now)
                self.dialect.signal_due_on(cursor)
            return RunRow.model_construct(**row), True
        except self.integrity_error:
            return self.find_run(agent_id, run_id), False

    def get_run(self, key: str) -> RunRow:
        """The run with this store-wide key; raises NotFound."""
        rows = self._fetch(_RUN_BY_KEY, {"key": key})
        if not rows:
            raise NotFound(f"no run with id {key!r}")
        return RunRow.model_construct(**rows[0])

    def find_run(self, agent_id: str, run_id: str) -> RunRow:
        """The agent's run with this id; raises NotFound."""
        rows = self._fetch(_RUN_OF_AGENT, {"agent_id": agent_id, "run_id": run_id})
        if not rows:
            raise NotFound(f"agent {agent_id!r} has no run {run_id!r}")
        return RunRow.model_construct(**rows[0])

    def runs_with_id(self, run_id: str, limit: int = 10) -> list[RunRow]:
        """Every agent's run with this id (for the operator's lookups), oldest first."""
        query = select(RUNS).where(RUNS.c.run_id == run_id).order_by(RUNS.c.created_at)
        with self._read() as conn:
            return [RunRow.model_construct(**r._mapping) for r in conn.execute(query.limit(limit))]

    def list_runs(
        self, agent_id: str | None = None, status: str | None = None, limit: int = 1000
    ) -> list[RunRow]:
        """Runs, newest first, filtered by agent and status."""
        query = select(RUNS).order_by(RUNS.c.created_at.desc()).limit(limit)
        if agent_id is not None:
            query = query.where(RUNS.c.agent_id == agent_id)
        if status is not None:
            query = query.where(RUNS.c.status == status)
        with self._read() as conn:
            return [RunRow.model_construct(**r._mapping) for r in conn.execute(query)]

    def append_log(self, key: str, text: str, limit: int) -> None:
        """Append to a run's captured `print` output, keeping at most `limit` characters."""
        with self._tx() as conn:
            current = conn.execute(select(RUNS.c.log).where(RUNS.c.id == key)).scalar() or ""
            combined = safe_text((current + text)[-limit:])
            conn.execute(update(RUNS).where(RUNS.c.id == key).values(log=combined))

    # --- a host's transitions ------------------------------------------------------------

    def request_pause(
        self,
        key: str,
        agent_id: str | None = None,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> Transition:
        """Pause a run: at once when no worker holds it, else at its next step boundary.

        The run's history records who asked and why (`paused`, or `pause_requested`).

        Returns:
            DONE (paused now), REQUESTED (its worker pauses it) or ENDED.

        Raises:
            NotFound: there is no such run (of that agent).
        """
        settled = {"status": RunState.PAUSED}
        return self._control(key, agent_id, RunControl.PAUSE, settled, (actor, reason))

    def request_terminate(
        self,
        key: str,
        agent_id: str | None = None,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> Transition:
        """End a run for good: at once when no worker holds it, else at its next step boundary.

        The run's history records who asked and why (`terminated`, or `terminate_requested`).

        Returns:
            DONE (terminated now), REQUESTED (its worker ends it) or ENDED.

        Raises:
            NotFound: there is no such run (of that agent).
        """
        ended = {
            "status": RunState.TERMINATED,
            "ended_at": time.time(),
            "error": _TERMINATED_ON_REQUEST,
        }
        return self._control(key, agent_id, RunControl.TERMINATE, ended, (actor, reason))

    def _control(
        self,
        key: str,
        agent_id: str | None,
        request: RunControl,
        settled: dict[str, Any],
        by: tuple[str | None, str | None],
    ) -> Transition:
        actor, reason = by
        now = time.time()
        run = _the_run(key, agent_id)
        idle = or_(
            RUNS.c.lease_owner.is_(None),
            RUNS.c.lease_expires_at < self.dialect.lease_clock(),
            RUNS.c.status != RunState.RUNNING,  # reserved by a worker, not claimed yet
        )
        with self._tx() as conn:
            done = conn.execute(
                update(RUNS)
                .where(*run, RUNS.c.status.not_in(TERMINAL), idle)
                .values(
                    lease_owner=None,
                    lease_expires_at=None,
                    wake_at=None,
                    waiting_for=None,
                    control=None,
                    updated_at=now,
                    **settled,
                )
            )
            if done.rowcount:
                kind = _CONTROL_DONE[request]
                append_history(conn, key, kind, actor=actor, reason=reason, at=now)
                return Transition.DONE
            requested = conn.execute(
                update(RUNS)
                .where(*run, RUNS.c.status == RunState.RUNNING)
                .values(control=request, updated_at=now)
            )
            if requested.rowcount:
                kind = f"{request}_requested"
                append_history(conn, key, kind, actor=actor, reason=reason, at=now)
                return Transition.REQUESTED
            self._require(conn, key, agent_id)
        return Transition.ENDED

    def resume(
        self,
        key: str,
        agent_id: str | None = None,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> Transition:
        """Queue a paused run again, or withdraw a pause its worker has not honoured yet.

        The run's history records who resumed it and why.

        Returns:
            DONE (queued), WITHDRAWN (the pause request is gone) or REFUSED (not paused).

        Raises:
            NotFound: there is no such run (of that agent).
        """
        now = time.time()
        run = _the_run(key, agent_id)
        with self._tx() as conn:
            resumed = conn.execute(
                update(RUNS)
                .where(*run, RUNS.c.status == RunState.PAUSED)
                .values(status=RunState.QUEUED, wake_at=now, control=None, updated_at=now)
            )
            if resumed.rowcount:
                append_history(conn, key, "resumed", actor=actor, reason=reason, at=now)
                self.dialect.signal_due(conn)
                return Transition.DONE
            withdrawn = conn.execute(
                update(RUNS)
                .where(*run, RUNS.c.control == RunControl.PAUSE)
                .values(control=None, updated_at=now)
            )
            if withdrawn.rowcount:
                detail = {"withdrew": "pause request"}
                append_history(conn, key, "resumed", detail, actor=actor, reason=reason, at=now)
                return Transition.WITHDRAWN
            self._require(conn, key, agent_id)
        return Transition.REFUSED

    def restart(
        self,
        key: str,
        agent_id: str | None = None,
        *,
        from_seq: int | None = 0,
        plan_id: int | None = None,
        actor: str | None = None,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Transition:
        """Queue a run again from step `from_seq`, optionally on another plan version.

        Checkpoints from `from_seq` on are dropped (None keeps them all); on another plan
        version the next replay rebases the run. The run's history records it, with the steps
        kept, who asked and why (`restarted`, or `repaired` for another plan version, with the
        version and the approval that let it run); `detail` adds the caller's facts.

        Returns:
            DONE (queued) or REFUSED (a worker holds a live lease on it).

        Raises:
            NotFound: there is no such run (of that agent).
        """
        now = time.time()
        run = _the_run(key, agent_id)
        leased = and_(
            RUNS.c.status == RunState.RUNNING,
            RUNS.c.lease_expires_at > self.dialect.lease_clock(),
        )
        values: dict[str, Any] = {
            "status": RunState.QUEUED,
            "wake_at": now,
            "waiting_for": None,
            "output": None,
            "error": None,
            "ended_at": None,
            "control": None,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
        }
        if plan_id is not None:
            values.update(plan_id=plan_id, rebase=True)
        with self._tx() as conn:
            row = conn.execute(
                self.dialect.lock_rows(select(leased.label("leased"), RUNS.c.error).where(*run))
            ).first()
            if row is None:
                raise NotFound(f"no run with id {key!r}")
            if row.leased:
                return Transition.REFUSED
            conn.execute(update(RUNS).where(*run).values(**values))
            facts = {**(detail or {}), "from_seq": from_seq, "error": error_summary(row.error)}
            facts["steps_kept"] = _steps_kept(conn, key, from_seq)
            if from_seq is not None:
                delete_steps(conn, key, from_seq)
            kind = "restarted"
            if plan_id is not None:
                kind = "repaired"
                facts.update(_plan_facts(conn, plan_id))
            append_history(conn, key, kind, facts, actor=actor, reason=reason, at=now)
            self.dialect.signal_due(conn)
        return Transition.DONE

    def _require(self, conn: Connection, key: str, agent_id: str | None) -> None:
        if conn.execute(select(RUNS.c.id).where(*_the_run(key, agent_id))).first() is None:
            raise NotFound(f"no run with id {key!r}")


def _steps_kept(conn: Connection, key: str, from_seq: int | None) -> list[str]:
    """The names of the top-level steps a restart from `from_seq` keeps, in order."""
    query = select(STEPS.c.name).where(STEPS.c.run_id == key, STEPS.c.parent_key.is_(None))
    if from_seq is not None:
        query = query.where(STEPS.c.seq < from_seq)
    return [r[0] for r in conn.execute(query.order_by(STEPS.c.seq))]


def _plan_facts(conn: Connection, plan_id: int) -> dict[str, Any]:
    """Which plan version a run moves to, and the approval that let it run."""
    facts: dict[str, Any] = {"plan_id": plan_id}
    version = conn.execute(select(PLANS.c.version).where(PLANS.c.id == plan_id)).scalar()
    if version is not None:
        facts["plan_version"] = version
    decision = conn.execute(
        select(DECISIONS.c.id, DECISIONS.c.reviewer)
        .where(DECISIONS.c.plan_id == plan_id, DECISIONS.c.decision == PlanState.APPROVED)
        .order_by(DECISIONS.c.id.desc())
        .limit(1)
    ).first()
    if decision is not None:
        facts.update(decision_id=decision.id, approved_by=decision.reviewer)
    return facts
