"""Leases: which worker runs which run, until when, and how an activation gives its run back."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    true,
    union,
    update,
)

from agentflow.checkpoints import WAKE_LEAD
from agentflow.states import CLAIMABLE, TERMINAL, PlanState, RunState
from agentflow.store.agents import AGENT_TOOLS
from agentflow.store.claims import Claimed, Handoff
from agentflow.store.history import append_history, error_summary
from agentflow.store.journal import RUN_STEPS, JournalStore
from agentflow.store.tables import AGENTS, EVENTS, PLANS, RUNS, STEPS, RunRow, StepRecord
from agentflow.store.transitions import Settlement, Transition

log = logging.getLogger("agentflow.leases")

# A run claimed while still `running` lost its last activation before it settled.
_UNSETTLED_ON_CLAIM = case(
    (RUNS.c.status == RunState.RUNNING, RUNS.c.unsettled + 1), else_=RUNS.c.unsettled
)


# Checked inside every claim's own statement: a run whose plan version is not approved (any
# more) is never leased, whatever a reader saw a moment before.
def _plan_approved(runs: Any) -> ColumnElement[bool]:
    return (
        select(PLANS.c.id)
        .where(PLANS.c.id == runs.c.plan_id, PLANS.c.status == PlanState.APPROVED)
        .exists()
    )


_PLAN_APPROVED = _plan_approved(RUNS)
_CANDIDATES = RUNS.alias("candidates")
_DUE_UNLEASED = (RunState.QUEUED, RunState.SLEEPING, RunState.WAITING)
_BUSY_RUNS = RUNS.alias("busy_runs")
_AGENT_LIMIT = (
    select(AGENTS.c.max_concurrent_runs).where(AGENTS.c.id == RUNS.c.agent_id).scalar_subquery()
)


_PENDING_EVENT = (
    select(EVENTS.c.id)
    .where(
        EVENTS.c.run_id == bindparam("key"),
        EVENTS.c.type == bindparam("type"),
        EVENTS.c.consumed_by.is_(None),
    )
    .limit(1)
)
_DUE_NOW = update(RUNS).where(RUNS.c.id == bindparam("key")).values(wake_at=bindparam("now"))
# One UPDATE per set of columns a settlement writes (see `_settled`), built on first use.
_SETTLE_UPDATES: dict[tuple[str, ...], Any] = {}


def _settle_update(columns: tuple[str, ...]) -> Any:
    statement = _SETTLE_UPDATES.get(columns)
    if statement is None:
        statement = _SETTLE_UPDATES[columns] = (
            update(RUNS)
            .where(RUNS.c.id == bindparam("key"), RUNS.c.lease_owner == bindparam("owner"))
            .values({name: bindparam(f"v_{name}") for name in columns})
        )
    return statement


class LeaseStore(JournalStore):
    """Claiming due runs, keeping their leases, and settling them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._statements: _LeaseStatements | None = None

    def _claimable(
        self, now: Any, runs: Any = RUNS, reserved_by: Any = None, clock: Any = None
    ) -> list[ColumnElement[bool]]:
        clock = self.dialect.lease_clock() if clock is None else clock
        free = [runs.c.lease_owner.is_(None), runs.c.lease_expires_at < clock]
        if reserved_by is not None:
            free.append(and_(runs.c.lease_owner == reserved_by, runs.c.status != RunState.RUNNING))
        return [
            runs.c.status.in_(CLAIMABLE),
            # Asleep and due within WAKE_LEAD (see there), or due.
            runs.c.wake_at <= now + WAKE_LEAD,
            or_(runs.c.wake_at <= now, runs.c.status == RunState.SLEEPING),
            or_(*free),
            _PLAN_APPROVED if runs is RUNS else _plan_approved(runs),
        ]

    def _busy(self, runs: Any, clock: Any = None) -> list[ColumnElement[bool]]:
        """Runs held under a live lease: the ones that count against an agent's limit."""
        clock = self.dialect.lease_clock() if clock is None else clock
        return [
            runs.c.status == RunState.RUNNING,
            runs.c.lease_owner.is_not(None),
            runs.c.lease_expires_at >= clock,
        ]

    def _under_limit(self, clock: Any) -> ColumnElement[bool]:
        """The run's agent has no limit, or fewer of its runs than the limit are running."""
        running = (
            select(func.count())
            .select_from(_BUSY_RUNS)
            .where(_BUSY_RUNS.c.agent_id == RUNS.c.agent_id, *self._busy(_BUSY_RUNS, clock))
            .scalar_subquery()
        )
        return or_(_AGENT_LIMIT.is_(None), running < _AGENT_LIMIT)

    def _lock_limited_agents(self, agent_id: Any = None) -> Any:
        """The statement serialising the claims of agents with a limit, or None (SQLite).

        So two workers never both see room. SQLite's transactions already hold the whole
        file; on PostgreSQL the limited agents' rows are locked until the claim commits.
        """
        query = select(AGENTS.c.id).where(AGENTS.c.max_concurrent_runs.is_not(None))
        if agent_id is not None:
            query = query.where(AGENTS.c.id == agent_id)
        locked = self.dialect.lock_rows(query)
        return None if locked is query else locked

    def _lease(self) -> dict[str, Any]:
        """A claim's values for the run's row; bound to `owner`, `now` and `lease_seconds`."""
        now = bindparam("now", type_=Float)
        return {
            "lease_owner": bindparam("owner"),
            "lease_expires_at": self._clock() + bindparam("lease_seconds", type_=Float),
            "status": RunState.RUNNING,
            "wake_at": now,
            "started_at": func.coalesce(RUNS.c.started_at, now),
            "activations": RUNS.c.activations + 1,
            "unsettled": _UNSETTLED_ON_CLAIM,
            "updated_at": now,
        }

    def _claim_query(self, limit: int, idle_only: bool) -> Any:
        """The locking form of `_fair_due`, built once per shape; run it with `{"now": ...}`.

        Building the statement costs milliseconds of SQLAlchemy's Python, more than running
        it; bound to `now` (and, where leases use this machine's clock, to it as well), one
        statement serves every claim.
        """
        query = self._claim_queries.get((limit, idle_only))
        if query is None:
            now = bindparam("now", type_=Float)
            fair = self._fair_due(now, limit, idle_only=idle_only, clock=self._clock())
            # FOR UPDATE may not share a query with a window function: the ids are locked outside.
            outside = select(RUNS.c.id).where(RUNS.c.id.in_(fair))
            locked = self.dialect.lock_rows(outside, skip_locked=True)
            query = fair if locked is outside else locked
            self._claim_queries[(limit, idle_only)] = query
        return query

    def _fair_due(self, now: Any, limit: int, *, idle_only: bool = False, clock: Any = None) -> Any:
        """The ids of up to `limit` claimable runs, taking turns between agents.

        Each agent's due runs are numbered by when they became due (its 1st, 2nd, ...); the
        claim takes every agent's 1st before any agent's 2nd, so one agent's backlog never
        starves another's. An agent with `max_concurrent_runs` gets no more turns than it has
        room for beside its runs already running.
        """
        turn = func.row_number().over(
            partition_by=RUNS.c.agent_id, order_by=(RUNS.c.wake_at, RUNS.c.id)
        )
        due = (
            select(RUNS.c.id, RUNS.c.agent_id, RUNS.c.wake_at, turn.label("turn"))
            .where(RUNS.c.id.in_(self._candidates(now, limit, idle_only, clock)))
            .subquery("due")
        )
        busy = (
            select(RUNS.c.agent_id, func.count().label("running"))
            .where(*self._busy(RUNS, clock))
            .group_by(RUNS.c.agent_id)
            .subquery("busy")
        )
        room = or_(
            AGENTS.c.max_concurrent_runs.is_(None),
            due.c.turn + func.coalesce(busy.c.running, 0) <= AGENTS.c.max_concurrent_runs,
        )
        return (
            select(due.c.id)
            .select_from(
                due.outerjoin(AGENTS, AGENTS.c.id == due.c.agent_id).outerjoin(
                    busy, busy.c.agent_id == due.c.agent_id
                )
            )
            .where(due.c.turn <= limit, room)
            .order_by(due.c.turn, due.c.wake_at)
            .limit(limit)
        )

    def _candidates(self, now: Any, limit: int, idle_only: bool, clock: Any = None) -> Any:
        """The ids the turns are taken among, found by index without reading every due run.

        Each agent's `limit` earliest claimable runs (an index seek per agent), and the
        `limit` earliest of all (which covers runs whose agent has no row).
        """
        runs = _CANDIDATES
        per_agent = (
            select(runs.c.id)
            .where(
                runs.c.agent_id == AGENTS.c.id,
                *self._claimable(now, runs, clock=clock),
                *([runs.c.status != RunState.RUNNING] if idle_only else []),
            )
            .order_by(runs.c.wake_at)
            .limit(limit)
        )
        each_agent: Select[Any]
        if self.dialect.lateral_joins:
            turns = per_agent.lateral("turns")
            each_agent = select(turns.c.id).select_from(AGENTS.join(turns, true()))
        else:
            listed = RUNS.c.id.in_(per_agent.correlate(AGENTS))
            each_agent = select(RUNS.c.id).select_from(AGENTS.join(RUNS, listed))
        earliest = (
            select(RUNS.c.id)
            .where(
                *self._claimable(now, clock=clock),
                *([RUNS.c.status != RunState.RUNNING] if idle_only else []),
            )
            .order_by(RUNS.c.wake_at)
            .limit(limit)
            .subquery("earliest")
        )
        return union(each_agent, select(earliest.c.id))

    def _clock(self) -> Any:
        """The lease clock in a prepared statement: the server's, or `now` bound by the caller."""
        clock = self.dialect.lease_clock()
        return clock if isinstance(clock, ColumnElement) else bindparam("now", type_=Float)

    def _lease_statements(self) -> _LeaseStatements:
        """The lease statements (`_LeaseStatements`), built and compiled once for this database."""
        if self._statements is None:
            self._statements = _LeaseStatements(self)
        return self._statements

    def _claim_key(
        self, cursor: Any, key: str, owner: str, lease_seconds: float, now: float
    ) -> RunRow:
        """Lease the run `key` (already chosen under this transaction's locks) to `owner`."""
        claims = self._lease_statements()
        (was,) = claims.status.rows(cursor, {"key": key})
        values = {"key": key, "owner": owner, "now": now, "lease_seconds": lease_seconds}
        (row,) = claims.lease.rows(cursor, values)
        self._append_claim(cursor, key, owner, was["status"], now)
        return RunRow.model_construct(**row)

    def _append_claim(self, cursor: Any, key: str, owner: str, was: str | None, now: float) -> None:
        """`woken` for a run that slept or waited, else `claimed`; either names the worker."""
        kind = "woken" if was in _SUSPENDED else "claimed"
        detail = {"owner": owner, "was": was}
        self._journal.append(cursor, key, kind, detail, at=now)

    def _due_keys(self, cursor: Any, limit: int, idle_only: bool, now: float) -> list[str]:
        """The keys of up to `limit` claimable runs, in turn order (see `_fair_due`)."""
        prepared = self._prepare(self._claim_query(limit, idle_only))
        return [row[0] for row in prepared.execute(cursor, {"now": now}).fetchall()]

    def prepare_claims(self, limit: int) -> None:
        """Compile the statements of claims of up to `limit` runs now, not at the first claim.

        A worker that starts idle would otherwise compile them (milliseconds of SQLAlchemy)
        when its first run falls due, and wake it that much late.
        """
        claims = self._lease_statements()
        self._prepare(claims.any_claimable, [RUNS.c.id])
        # The drain's shapes: one run at a time, or `limit` reserved then one taken alone.
        shapes = {(1, False), (limit, True)} if limit > 1 else {(1, False)}
        for shape in shapes:
            self._prepare(self._claim_query(*shape))

    def _surely_none_due(self, now: float) -> bool:
        """Whether a read shows no claimable run, where a claim's transaction would lock the file.

        A claim that finds nothing then costs a read, not the write lock and a commit.
        """
        if not self.dialect.writes_hold_database:
            return False
        claims = self._lease_statements()
        return not self._fetch(claims.any_claimable, {"now": now}, [RUNS.c.id])

    def claim_run(self, key: str, owner: str, lease_seconds: float) -> RunRow | None:
        """Lease one run to `owner` if it is due, nobody holds it, and its plan is approved.

        All three, and its agent's `max_concurrent_runs`, are checked in the one statement, so
        a rejection can never be raced. A run `owner` reserved (`reserve_due_runs`) counts as
        held by nobody else.
        """
        self.hold_session(owner)
        with self._hot() as cursor:
            return self._claim_if_claimable(cursor, key, owner, lease_seconds, time.time())

    def claim_loaded(self, key: str, owner: str, lease_seconds: float) -> Claimed | None:
        """`claim_run`, with the agent's tools and the run's steps read in its transaction."""
        self.hold_session(owner)
        with self._hot() as cursor:
            row = self._claim_if_claimable(cursor, key, owner, lease_seconds, time.time())
            return None if row is None else self._loaded(cursor, row)

    def _claim_if_claimable(
        self, cursor: Any, key: str, owner: str, lease_seconds: float, now: float
    ) -> RunRow | None:
        """Lease the run `key` to `owner` in this transaction if it is claimable (`claim_run`)."""
        claims = self._lease_statements()
        values = {"key": key, "owner": owner, "now": now, "lease_seconds": lease_seconds}
        if claims.lock_agent_of is not None:
            claims.lock_agent_of.execute(cursor, {"key": key}).fetchall()
        was = claims.status.rows(cursor, {"key": key})
        rows = claims.lease_if_claimable.rows(cursor, values)
        if not rows:
            return None
        self._append_claim(cursor, key, owner, was[0]["status"], now)
        return RunRow.model_construct(**rows[0])

    def _loaded(self, cursor: Any, row: RunRow) -> Claimed:
        """`row` with its agent's tools and its step records, read in this transaction."""
        claims = self._lease_statements()
        tools = claims.tools.rows(cursor, {"agent_id": row.agent_id})
        steps = claims.steps.rows(cursor, {"key": row.id})
        return Claimed(
            row,
            list(tools[0]["tools"]) if tools else [],
            [StepRecord(**step) for step in steps],
        )

    def _hand_over(
        self, cursor: Any, owner: str, handoff: Handoff, now: float
    ) -> tuple[bool, Claimed | None]:
        """Claim the handoff's run in this (a settlement's) transaction, under a savepoint.

        Returns whether the claim ran, and the run if it was claimable. A claim that fails
        is rolled back alone: the settlement stands, and the handoff is left untried.
        """
        cursor.execute("SAVEPOINT handoff")
        try:
            row = self._claim_if_claimable(cursor, handoff.key, owner, handoff.lease_seconds, now)
            claimed = None if row is None else self._loaded(cursor, row)
        except Exception:
            cursor.execute("ROLLBACK TO SAVEPOINT handoff")
            log.warning("could not claim run %s with a settlement", handoff.key, exc_info=True)
            return False, None
        cursor.execute("RELEASE SAVEPOINT handoff")
        return True, claimed

    def claim_due_runs(self, owner: str, lease_seconds: float, limit: int = 1) -> list[RunRow]:
        """Lease up to `limit` due runs of approved plan versions to `owner`.

        Agents take turns (see `_fair_due`), each agent's runs earliest first, and no agent
        gets more runs running than its `max_concurrent_runs`. The due runs are read and
        leased in one transaction, whose locks keep other workers off them (on PostgreSQL
        they skip the rows, and take the next ones).
        """
        self.hold_session(owner)
        now = time.time()
        if self._surely_none_due(now):
            return []
        claims = self._lease_statements()
        with self._hot() as cursor:
            claims.lock_limited_agents(cursor)
            keys = self._due_keys(cursor, limit, False, now)
            return [self._claim_key(cursor, key, owner, lease_seconds, now) for key in keys]

    def reserve_due_runs(self, owner: str, lease_seconds: float, limit: int) -> list[str]:
        """Hold up to `limit` due runs for `owner` to claim one by one (`claim_run`).

        One transaction picks them as `claim_due_runs` does (agents taking turns) and puts
        `owner`'s lease on them, leaving their state alone: until its activation claims it, a
        reserved run is not running, so a worker that dies holding reservations costs those
        runs nothing (no lost activation is counted) and other workers take them once the
        lease lapses. Runs a dead worker left `running` are not reserved: `claim_due_runs`
        takes them (counting the lost activation). Returns their keys, in turn order.
        Nothing is written to their history until each is claimed.
        """
        self.hold_session(owner)
        claims = self._lease_statements()
        with self._hot() as cursor:
            claims.lock_limited_agents(cursor)
            return self._reserve(cursor, owner, lease_seconds, limit)

    def claim_and_reserve(
        self, owner: str, lease_seconds: float, limit: int
    ) -> tuple[RunRow | None, list[str]]:
        """Claim the first of up to `limit` due runs and reserve the others, in one transaction.

        The claimed run starts at once; the reserved ones are as `reserve_due_runs` leaves
        them, for `claim_run` one by one. When no idle run is due, a run a dead worker left
        `running` is claimed alone (as `claim_due_runs` would), in the same transaction.
        (None, []) when no run is due. The claimed run's history gets its `claimed` (or
        `woken`) entry; the reserved ones get theirs when claimed.
        """
        claimed, reserved = self.claim_and_reserve_loaded(owner, lease_seconds, limit)
        return (None if claimed is None else claimed.row), reserved

    def claim_and_reserve_loaded(
        self, owner: str, lease_seconds: float, limit: int
    ) -> tuple[Claimed | None, list[str]]:
        """`claim_and_reserve`, with the claimed run's tools and steps read in its transaction."""
        self.hold_session(owner)
        now = time.time()
        if self._surely_none_due(now):
            return None, []
        claims = self._lease_statements()
        with self._hot() as cursor:
            claims.lock_limited_agents(cursor)
            keys = self._reserve(cursor, owner, lease_seconds, limit, now)
            if not keys:
                keys = self._due_keys(cursor, 1, False, now)
                if not keys:
                    return None, []
            # Reserved runs keep their state: the first's is still the one before this claim.
            row = self._claim_key(cursor, keys[0], owner, lease_seconds, now)
            return self._loaded(cursor, row), keys[1:]

    def _reserve(
        self, cursor: Any, owner: str, lease_seconds: float, limit: int, now: float | None = None
    ) -> list[str]:
        now = time.time() if now is None else now
        keys = self._due_keys(cursor, limit, True, now)
        if keys:
            values = {"owner": owner, "now": now, "lease_seconds": lease_seconds}
            self._lease_statements().reserve.execute_many(
                cursor, [{"key": key, **values} for key in keys]
            )
        return keys

    def release_reservations(self, owner: str, keys: Iterable[str]) -> int:
        """Give back the runs `owner` reserved and never claimed (its worker is stopping)."""
        ids = list(keys)
        if not ids:
            return 0
        with self._tx() as conn:
            found = conn.execute(
                update(RUNS)
                .where(
                    RUNS.c.id.in_(ids),
                    RUNS.c.lease_owner == owner,
                    RUNS.c.status != RunState.RUNNING,
                )
                .values(lease_owner=None, lease_expires_at=None)
            )
            if found.rowcount:
                self.dialect.signal_due(conn)
        return found.rowcount

    def leased_elsewhere(self, me: str) -> bool:
        """Whether an owner other than `me` holds a live lease (on a running or reserved run)."""
        query = self._lease_statements().leased_elsewhere
        return bool(self._fetch(query, {"me": me, "now": time.time()}))

    def lease_owners_on(self, host: str) -> list[str]:
        """The owners of live leases (on running or reserved runs) whose id names `host`."""
        claims = self._lease_statements()
        values = {"pattern": f"{host}:%", "now": time.time()}
        return [row["lease_owner"] for row in self._fetch(claims.owners_like, values)]

    def expire_leases(self, owners: list[str]) -> int:
        """End every lease these owners hold now (their processes are gone); how many runs."""
        with self._tx() as conn:
            found = conn.execute(
                update(RUNS).where(RUNS.c.lease_owner.in_(owners)).values(lease_expires_at=0.0)
            )
            if found.rowcount:
                self.dialect.signal_due(conn)
        return found.rowcount

    def hold_session(self, owner: str) -> None:
        """Make sure `owner`'s session lock is held before it takes a lease (PostgreSQL).

        Opened on the first claim, and again if its connection broke. A worker whose session
        ended while it ran may lose its runs to another worker: its next checkpoint or
        settlement then finds the lease gone and writes nothing.
        """
        if not self.dialect.owner_sessions:
            return
        with self._sessions_lock:
            session = self._sessions.get(owner)
            if session is not None and session.alive:
                return
            if session is not None:
                session.close()
            session = self.dialect.hold_session(self.engine, owner)
            if session is not None:
                self._sessions[owner] = session

    def expire_leases_of_ended_sessions(self, me: str, owners: list[str] | None = None) -> int:
        """End at once the live leases whose owner's session lock is free; how many runs.

        PostgreSQL releases a worker's session lock when its connection ends, on any host, so
        such a lease's worker is gone. `owners` limits the check to these owners (default: every
        owner of a live lease); `me` is never checked. A no-op where the database has no such
        sessions (SQLite).
        """
        if not self.dialect.owner_sessions:
            return 0
        # Running and reserved runs alike (as `expire_leases`): a dead worker's reservations
        # are given back too.
        owners_query = (
            select(RUNS.c.lease_owner)
            .where(
                RUNS.c.lease_owner.is_not(None),
                RUNS.c.lease_owner != me,
                RUNS.c.lease_expires_at >= self.dialect.lease_clock(),
            )
            .distinct()
        )
        if owners is not None:
            owners_query = owners_query.where(RUNS.c.lease_owner.in_(owners))
        elif not self._fetch(self._lease_statements().leased_elsewhere, {"me": me}):
            return 0  # nobody else holds a lease: no write transaction to find that out
        with self._tx() as conn:
            gone = self.dialect.sessions_ended(conn, [r[0] for r in conn.execute(owners_query)])
            if not gone:
                return 0
            found = conn.execute(
                update(RUNS).where(RUNS.c.lease_owner.in_(gone)).values(lease_expires_at=0.0)
            )
            self.dialect.signal_due(conn)
        return found.rowcount

    def next_wake_at(self) -> float | None:
        """The earliest time at which some run becomes due (leased runs: when the lease ends)."""
        claims = self._lease_statements()
        (due,) = self._fetch(claims.next_due, columns=[RUNS.c.wake_at])
        # Running and reserved runs alike: they are claimable again when the lease ends.
        (expiry,) = self._fetch(claims.next_expiry, columns=[RUNS.c.lease_expires_at])
        times = [t for t in (due["wake_at"], expiry["lease_expires_at"]) if t is not None]
        return min(times) if times else None

    def renew_leases(self, owner: str, keys: Iterable[str], lease_seconds: float) -> set[str]:
        """Extend the leases `owner` still holds; returns the keys it holds no longer."""
        ids = list(keys)
        if not ids:
            return set()
        with self._tx() as conn:
            conn.execute(
                update(RUNS)
                .where(RUNS.c.id.in_(ids), RUNS.c.lease_owner == owner)
                .values(lease_expires_at=self.dialect.lease_clock() + lease_seconds)
            )
            held = {
                r[0]
                for r in conn.execute(
                    select(RUNS.c.id).where(RUNS.c.id.in_(ids), RUNS.c.lease_owner == owner)
                )
            }
        return set(ids) - held

    def settle(
        self, key: str, owner: str, settlement: Settlement, handoff: Handoff | None = None
    ) -> Transition:
        """Write the run's new state and release its lease, if `owner` still holds it.

        A run that suspends to wait for an event type it already has in its inbox is made due
        at once, so an event sent during the activation is never missed. Given a `handoff`,
        the settlement also claims the worker's next reserved run, in its transaction (see
        `Handoff`).

        Returns:
            DONE, or LOST when `owner` no longer holds the lease (nothing is written).
        """
        now = time.time()
        values = _settled(settlement, now)
        written = self._prepare(_settle_update(tuple(values)))
        handed: tuple[bool, Claimed | None] = (False, None)
        with self._hot() as cursor:
            parameters = {f"v_{name}": value for name, value in values.items()}
            written.execute(cursor, {"key": key, "owner": owner, **parameters})
            if cursor.rowcount == 0:
                return Transition.LOST
            for step in settlement.checkpoints:
                self._journal.write_step(cursor, step)
            kind, detail = _settlement_entry(settlement)
            self._journal.append(cursor, key, kind, detail, at=now)
            if settlement.wake_at is not None:
                self.dialect.signal_due_on(cursor)
            if settlement.status == RunState.WAITING and settlement.waiting_for:
                pending = self._prepare(_PENDING_EVENT).execute(
                    cursor, {"key": key, "type": settlement.waiting_for}
                )
                if pending.fetchall():
                    self._prepare(_DUE_NOW).execute(cursor, {"key": key, "now": now})
            if handoff is not None:
                handed = self._hand_over(cursor, owner, handoff, now)
        if handoff is not None:
            # Only once committed: a claim rolled back with its settlement was never made.
            handoff.tried, handoff.claimed = handed
        return Transition.DONE

    def requeue_unsettled(
        self, key: str, owner: str, wake_at: float, error: dict[str, Any]
    ) -> Transition:
        """Give the run back to the queue after an activation that could not settle it.

        Its sandbox died; the lost activation counts against the run.

        Returns:
            DONE, or LOST when `owner` no longer holds the lease.
        """
        now = time.time()
        with self._tx() as conn:
            found = conn.execute(
                update(RUNS)
                .where(RUNS.c.id == key, RUNS.c.lease_owner == owner)
                .values(
                    lease_owner=None,
                    lease_expires_at=None,
                    status=RunState.QUEUED,
                    wake_at=wake_at,
                    error=error,
                    unsettled=RUNS.c.unsettled + 1,
                    updated_at=now,
                )
            )
            if found.rowcount == 0:
                return Transition.LOST
            detail = {"error": error_summary(error), "retry_at": wake_at}
            append_history(conn, key, "requeued", detail, at=now)
            self.dialect.signal_due(conn)
        return Transition.DONE


_SUSPENDED = (RunState.SLEEPING, RunState.WAITING)
_SETTLED_KINDS = {
    RunState.SLEEPING: "suspended",
    RunState.WAITING: "suspended",
    RunState.PAUSED: "paused",
    RunState.TERMINATED: "terminated",
    RunState.ERRORED: "failed",
    RunState.COMPLETE: "completed",
    RunState.QUEUED: "requeued",
}


class _LeaseStatements:
    """The statements of claims, reservations and the idle loop's lease checks, for one database.

    Each is bound to `key` (the run), `owner`, `now`, `lease_seconds`, `me` or `pattern` as it
    needs. The writes are prepared here, for a cursor of `_hot`; the reads (`owners_like`,
    `leased_elsewhere`, `next_due`, `next_expiry`) are statements for `_fetch`, which prepares
    them on first use.
    """

    def __init__(self, store: LeaseStore) -> None:
        key: Any = bindparam("key")
        now = bindparam("now", type_=Float)
        clock = store._clock()
        prepare = store._prepare
        status = select(RUNS.c.status).where(RUNS.c.id == key)
        self.status = prepare(store.dialect.lock_rows(status), [RUNS.c.status])
        leased = update(RUNS).values(**store._lease()).returning(*RUNS.c)
        self.lease = prepare(leased.where(RUNS.c.id == key), list(RUNS.c))
        claimable = store._claimable(now, reserved_by=bindparam("owner"), clock=clock)
        self.lease_if_claimable = prepare(
            leased.where(RUNS.c.id == key, *claimable, store._under_limit(clock)), list(RUNS.c)
        )
        self.reserve = prepare(
            update(RUNS)
            .where(RUNS.c.id == key)
            .values(
                lease_owner=bindparam("owner"),
                lease_expires_at=clock + bindparam("lease_seconds", type_=Float),
            )
        )
        self.owners_like = (
            select(RUNS.c.lease_owner)
            .where(RUNS.c.lease_owner.like(bindparam("pattern")), RUNS.c.lease_expires_at >= clock)
            .distinct()
        )
        self.leased_elsewhere = (
            select(RUNS.c.id)
            .where(
                RUNS.c.lease_owner.is_not(None),
                RUNS.c.lease_owner != bindparam("me"),
                RUNS.c.lease_expires_at >= clock,
            )
            .limit(1)
        )
        # Every run a claim could take is one of these (the claim adds the agents' limits).
        self.any_claimable = select(RUNS.c.id).where(*store._claimable(now, clock=clock)).limit(1)
        self.next_due = select(func.min(RUNS.c.wake_at)).where(
            RUNS.c.status.in_(_DUE_UNLEASED), RUNS.c.lease_owner.is_(None), _PLAN_APPROVED
        )
        self.next_expiry = select(func.min(RUNS.c.lease_expires_at)).where(
            RUNS.c.lease_owner.is_not(None)
        )
        limited = store._lock_limited_agents()
        self._lock_limited = None if limited is None else prepare(limited)
        self.tools = prepare(AGENT_TOOLS, [AGENTS.c.tools])
        self.steps = prepare(RUN_STEPS, list(STEPS.c))
        agent_of = select(RUNS.c.agent_id).where(RUNS.c.id == key).scalar_subquery()
        limited_one = store._lock_limited_agents(agent_of)
        self.lock_agent_of = None if limited_one is None else prepare(limited_one)

    def lock_limited_agents(self, cursor: Any) -> None:
        """Lock the rows of agents with a limit for this claim (PostgreSQL; see the store's)."""
        if self._lock_limited is not None:
            self._lock_limited.execute(cursor).fetchall()


def _settlement_entry(settlement: Settlement) -> tuple[str, dict[str, Any]]:
    """The history entry of an activation's settlement: its kind and detail."""
    detail: dict[str, Any] = {"status": str(settlement.status)}
    if settlement.status == RunState.SLEEPING:
        detail["until"] = settlement.wake_at
    elif settlement.status == RunState.WAITING:
        detail.update(waiting_for=settlement.waiting_for, timeout_at=settlement.wake_at)
    elif settlement.status == RunState.PAUSED:
        detail["at"] = "a step boundary"
    if settlement.error:
        detail["error"] = error_summary(settlement.error)
    return _SETTLED_KINDS.get(settlement.status, str(settlement.status)), detail


def _settled(settlement: Settlement, now: float) -> dict[str, Any]:
    """The run's columns after `settlement`: the one place that says what settling means."""
    values: dict[str, Any] = {
        "status": settlement.status,
        "wake_at": settlement.wake_at,
        "lease_owner": None,
        "lease_expires_at": None,
        "unsettled": 0,
        "updated_at": now,
    }
    if settlement.status == RunState.QUEUED:
        # The plan did not run: its pending control request and rebase wait for one that does.
        values["error"] = settlement.error
        return values
    values.update(waiting_for=settlement.waiting_for, control=None, rebase=False)
    if settlement.status in TERMINAL:
        values.update(ended_at=now, error=settlement.error, wake_at=None, waiting_for=None)
    if settlement.status == RunState.COMPLETE:
        values["output"] = settlement.output
    return values
