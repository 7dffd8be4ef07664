"""A run's journal: its step checkpoints and its inbox of events.

Every write is fenced by the run's lease.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from agentflow.errors import LeaseLost
from agentflow.states import RunControl, RunState, StepState
from agentflow.store.database import Database
from agentflow.store.history import (
    APPEND,
    append_attempt,
    append_history,
    attempt_detail,
    entry_values,
)
from agentflow.store.tables import (
    EVENTS,
    RUNS,
    STEP_COLUMNS,
    STEPS,
    EventRow,
    StepRecord,
    StepWrite,
)

# Statements on the hot path of every checkpoint, built once: run through SQLAlchemy in a
# transaction of `_tx`, or prepared (`Database._prepare`) on a cursor of `_hot`.
_FENCE = (
    update(RUNS)
    .where(RUNS.c.id == bindparam("fence_id"), RUNS.c.lease_owner == bindparam("fence_owner"))
    .values(updated_at=bindparam("fence_now"), unsettled=0)
    .returning(RUNS.c.control)
)
# A step record's columns are bound as `v_<column>` (`_step_values`).
_UPDATE_STEP = (
    update(STEPS)
    .where(
        STEPS.c.run_id == bindparam("w_run_id"),
        STEPS.c.key == bindparam("w_key"),
        STEPS.c.status != StepState.COMPLETE,
    )
    .values({c: bindparam(f"v_{c}") for c in STEP_COLUMNS if c not in ("run_id", "key")})
)
_INSERT_STEP = insert(STEPS).values({c: bindparam(f"v_{c}") for c in STEP_COLUMNS})
RUN_STEPS = (
    select(STEPS).where(STEPS.c.run_id == bindparam("key")).order_by(STEPS.c.seq, STEPS.c.id)
)


_STEP_BINDS = tuple((name, f"v_{name}") for name in STEP_COLUMNS)


def _step_values(step: StepWrite) -> dict[str, Any]:
    """The parameters of `_UPDATE_STEP` and `_INSERT_STEP` for one step record."""
    values = {bound: getattr(step, name) for name, bound in _STEP_BINDS}
    values.update(w_run_id=step.run_id, w_key=step.key)
    return values


class HotJournal:
    """A run's step writes and history entries on a DBAPI cursor of `Database._hot`.

    The statements are the module's own, prepared once for the database's driver.
    """

    def __init__(self, db: Database) -> None:
        self._fence = db._prepare(_FENCE, [RUNS.c.control])
        self._update = db._prepare(_UPDATE_STEP)
        self._insert = db._prepare(_INSERT_STEP)
        self._append = db._prepare(APPEND)
        self._integrity_error = db.integrity_error

    def fence(self, cursor: Any, key: str, owner: str) -> str | None:
        """`fence`, on the cursor: raises LeaseLost; returns the run's control request."""
        values = {"fence_id": key, "fence_owner": owner, "fence_now": time.time()}
        held = self._fence.rows(cursor, values)
        if not held:
            raise LeaseLost(key)
        control: str | None = held[0]["control"]
        return control

    def write_step(self, cursor: Any, step: StepWrite) -> None:
        """`write_step`, on the cursor (fenced by the caller), with its attempt's history entry."""
        values = _step_values(step)
        updated = False
        if not step.new:
            updated = bool(self._update.execute(cursor, values).rowcount)
        if not updated:
            try:
                self._insert.execute(cursor, values)
            except self._integrity_error as exc:
                raise LeaseLost(step.run_id) from exc
        detail = attempt_detail(step)
        if detail is not None:
            self.append(cursor, step.run_id, "step", detail, at=step.ended_at)

    def append(
        self,
        cursor: Any,
        key: str,
        kind: str,
        detail: dict[str, Any] | None = None,
        *,
        at: float | None = None,
    ) -> None:
        """`append_history`, on the cursor (the caller has written the run's row already)."""
        self._append.execute(cursor, entry_values(key, kind, detail, at=at))


def fence(conn: Connection, key: str, owner: str) -> str | None:
    """Check that `owner` still holds the run's lease, in the caller's transaction.

    The activation is marked alive; the run's pending control request is returned.

    Raises:
        LeaseLost: another worker holds the run now, or nobody does.
    """
    held = conn.execute(
        _FENCE, {"fence_id": key, "fence_owner": owner, "fence_now": time.time()}
    ).first()
    if held is None:
        raise LeaseLost(key)
    control: str | None = held[0]
    return control


def delete_steps(conn: Connection, key: str, from_seq: int) -> list[str]:
    """Drop a run's step records from `from_seq` on, re-opening the events they consumed.

    Returns the keys of the records dropped.
    """
    doomed = [
        r[0]
        for r in conn.execute(
            select(STEPS.c.key).where(STEPS.c.run_id == key, STEPS.c.seq >= from_seq)
        )
    ]
    if doomed:
        conn.execute(
            update(EVENTS)
            .where(EVENTS.c.run_id == key, EVENTS.c.consumed_by.in_(doomed))
            .values(consumed_by=None)
        )
    conn.execute(delete(STEPS).where(STEPS.c.run_id == key, STEPS.c.seq >= from_seq))
    return doomed


def write_step(conn: Connection, step: StepWrite) -> None:
    """Write one step record in the caller's transaction (fenced by the caller).

    An attempt that ended also gets its history entry, in the same transaction.
    """
    # A record this activation has not seen is inserted; a clash means another worker
    # wrote it, and the whole transaction rolls back.
    values = _step_values(step)
    updated = False
    if not step.new:
        updated = bool(conn.execute(_UPDATE_STEP, values).rowcount)
    if not updated:
        try:
            conn.execute(_INSERT_STEP, values)
        except IntegrityError as exc:
            raise LeaseLost(step.run_id) from exc
    append_attempt(conn, step)


class JournalStore(Database):
    """The store's step checkpoints and events."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._journal = HotJournal(self)

    def load_steps(self, key: str) -> list[StepRecord]:
        """Every step record of a run, in order, in one query."""
        return [StepRecord(**row) for row in self._fetch(RUN_STEPS, {"key": key})]

    def save_step(self, owner: str, step: StepWrite) -> str | None:
        """Insert or update a step record, fenced by the run's lease.

        A record already `complete` is never overwritten: a step's result is written once.

        Returns:
            The run's pending control request (a `RunControl`, or None).

        Raises:
            LeaseLost: the lease moved to another worker, or the step was completed elsewhere.
        """
        with self._hot() as cursor:
            control = self._journal.fence(cursor, step.run_id, owner)
            self._journal.write_step(cursor, step)
        return control

    def save_steps(self, owner: str, key: str, steps: Sequence[StepWrite]) -> str | None:
        """Write several step records of one run in one transaction, in the order given."""
        with self._hot() as cursor:
            control = self._journal.fence(cursor, key, owner)
            for step in steps:
                self._journal.write_step(cursor, step)
        return control

    def checkpoint_then(
        self, owner: str, key: str, done: StepWrite, then: Sequence[StepWrite]
    ) -> str | None:
        """Write a finished step's checkpoint and, unless the run was asked to stop, `then`.

        One transaction for a step's end and the next step's start. The checkpoint is always
        written; when a pause or terminate is pending, the records of the work that would
        follow are not (that work must not start).

        Returns:
            The run's pending control request (a `RunControl`, or None).

        Raises:
            LeaseLost: the lease moved to another worker, or the step was completed elsewhere.
        """
        with self._hot() as cursor:
            control = self._journal.fence(cursor, key, owner)
            self._journal.write_step(cursor, done)
            if control not in (RunControl.PAUSE, RunControl.TERMINATE):
                for step in then:
                    self._journal.write_step(cursor, step)
        return control

    def delete_steps(self, key: str, from_seq: int = 0) -> None:
        """Drop a run's step records from `from_seq` on, re-opening the events they consumed."""
        with self._tx() as conn:
            delete_steps(conn, key, from_seq)

    def truncate_steps_in_activation(self, owner: str, key: str, from_seq: int) -> None:
        """Like `delete_steps`, fenced by the lease (used when a run moves to a new plan).

        The run's history records the steps the new plan no longer keeps.
        """
        with self._tx() as conn:
            fence(conn, key, owner)
            dropped = delete_steps(conn, key, from_seq)
            append_history(conn, key, "rebased", {"from_seq": from_seq, "dropped": dropped})

    def add_event(
        self,
        key: str,
        event_type: str,
        payload: Any,
        idempotency_key: str | None = None,
        *,
        actor: str | None = None,
    ) -> EventRow | None:
        """Buffer an event for a run, and make the run due if it waits for that type.

        With an `idempotency_key`, an event this run already received under the same key is
        not added again: the call returns None and changes nothing. The run's history records
        the event (type, id, payload) and who sent it.
        """
        now = time.time()
        seen = select(EVENTS.c.id).where(
            EVENTS.c.run_id == key, EVENTS.c.idempotency_key == idempotency_key
        )
        try:
            with self._tx() as conn:
                # The run's row is locked first, as every transition that writes history does.
                conn.execute(self.dialect.lock_rows(select(RUNS.c.id).where(RUNS.c.id == key)))
                if idempotency_key is not None and conn.execute(seen).first():
                    return None
                result = conn.execute(
                    insert(EVENTS).values(
                        run_id=key,
                        type=event_type,
                        payload=payload,
                        created_at=now,
                        idempotency_key=idempotency_key,
                    )
                )
                conn.execute(
                    update(RUNS)
                    .where(
                        RUNS.c.id == key,
                        RUNS.c.status == RunState.WAITING,
                        RUNS.c.waiting_for == event_type,
                    )
                    .values(wake_at=now)
                )
                event_id = result.inserted_primary_key[0]  # type: ignore[index]
                detail = {"type": event_type, "event_id": event_id, "payload": payload}
                if idempotency_key is not None:
                    detail["idempotency_key"] = idempotency_key
                append_history(conn, key, "event", detail, actor=actor, at=now)
                self.dialect.signal_due(conn)
        except IntegrityError:
            if idempotency_key is None:
                raise
            return None  # the same key, sent at the same moment by another process
        return EventRow(
            id=event_id,
            run_id=key,
            type=event_type,
            payload=payload,
            created_at=now,
            idempotency_key=idempotency_key,
        )

    def event_received(self, key: str, idempotency_key: str) -> bool:
        """Whether the run already received an event under this idempotency key."""
        query = select(EVENTS.c.id).where(
            EVENTS.c.run_id == key, EVENTS.c.idempotency_key == idempotency_key
        )
        with self._read() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def take_event(self, owner: str, key: str, event_type: str, step: StepWrite) -> EventRow | None:
        """Consume the oldest undelivered event of a type and complete the wait step with it."""
        with self._tx() as conn:
            fence(conn, key, owner)
            row = conn.execute(
                select(EVENTS)
                .where(
                    EVENTS.c.run_id == key,
                    EVENTS.c.type == event_type,
                    EVENTS.c.consumed_by.is_(None),
                )
                .order_by(EVENTS.c.id)
                .limit(1)
            ).first()
            if row is None:
                return None
            conn.execute(update(EVENTS).where(EVENTS.c.id == row.id).values(consumed_by=step.key))
            taken = EventRow(**row._mapping)
            output = {"type": taken.type, "payload": taken.payload, "timestamp": taken.created_at}
            write_step(conn, replace(step, output=output))
        return taken
