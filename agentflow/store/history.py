"""A run's history: append-only entries, each written in the transaction of its transition.

Rows of `run_history` are only ever inserted. A run's entries are numbered from 1 by `seq`,
which the insert takes from the run's last entry; every caller has already written (and so,
on PostgreSQL, locked) the run's row in the same transaction, so two transitions of one run
never take the same number.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select

from agentflow.states import StepState
from agentflow.store.database import Database
from agentflow.store.tables import HISTORY, HistoryRow, StepWrite

_NEXT_SEQ = (
    select(func.coalesce(func.max(HISTORY.c.seq), 0) + 1)
    .where(HISTORY.c.run_key == bindparam("h_run"))
    .scalar_subquery()
)
#: One history entry; its parameters are `entry_values`'s. Run through SQLAlchemy, or
#: prepared (`Database._prepare`) on a cursor. Built once: it runs on the hot path, once per
#: finished step attempt. `inline()`: nothing is read back (no RETURNING of the new id).
APPEND = (
    insert(HISTORY)
    .inline()
    .values(
        run_key=bindparam("h_run"),
        seq=_NEXT_SEQ,
        at=bindparam("h_at"),
        kind=bindparam("h_kind"),
        actor=bindparam("h_actor"),
        reason=bindparam("h_reason"),
        detail=bindparam("h_detail"),
    )
)
#: Step statuses that end an attempt: each such write of a step is one history entry.
ATTEMPT_ENDS = frozenset(
    {StepState.COMPLETE, StepState.FAILED, StepState.RETRYING, StepState.TIMED_OUT}
)
_ERROR_CHARS = 500
_TEXT_CHARS = 2000


def error_summary(error: dict[str, Any] | None) -> dict[str, Any] | None:
    """An error's type and the start of its message (the run's row keeps the whole of it)."""
    if not error:
        return None
    message = str(error.get("message", ""))
    return {"type": str(error.get("type", "Error")), "message": message[:_ERROR_CHARS]}


def _bounded(text: str | None) -> str | None:
    return None if text is None else text[:_TEXT_CHARS]


def entry_values(
    key: str,
    kind: str,
    detail: dict[str, Any] | None = None,
    *,
    actor: str | None = None,
    reason: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """The parameters of `APPEND` for one entry of the run's history."""
    return {
        "h_run": key,
        "h_at": time.time() if at is None else at,
        "h_kind": kind,
        "h_actor": _bounded(actor),
        "h_reason": _bounded(reason),
        "h_detail": detail or {},
    }


def append_history(
    conn: Connection,
    key: str,
    kind: str,
    detail: dict[str, Any] | None = None,
    *,
    actor: str | None = None,
    reason: str | None = None,
    at: float | None = None,
) -> None:
    """Append one entry to the run's history, in the caller's transaction.

    The caller has written the run's row in this transaction already (see the module's note).
    """
    conn.execute(APPEND, entry_values(key, kind, detail, actor=actor, reason=reason, at=at))


def attempt_detail(step: StepWrite) -> dict[str, Any] | None:
    """The `step` entry's detail of an attempt that just ended; None for a step under way."""
    if step.status not in ATTEMPT_ENDS:
        return None
    detail: dict[str, Any] = {
        "step": step.name,
        "key": step.key,
        "kind": step.kind,
        "attempt": step.attempts,
        "status": step.status,
    }
    if step.error:
        detail["error"] = error_summary(step.error)
    return detail


def append_attempt(conn: Connection, step: StepWrite) -> None:
    """The entry of a step attempt that just ended (nothing for a step still under way)."""
    detail = attempt_detail(step)
    if detail is not None:
        append_history(conn, step.run_id, "step", detail, at=step.ended_at)


class HistoryStore(Database):
    """Reading runs' histories (the transitions write them)."""

    def load_history(self, key: str) -> list[HistoryRow]:
        """Every entry of a run's history, oldest first."""
        query = select(HISTORY).where(HISTORY.c.run_key == key).order_by(HISTORY.c.seq)
        with self._tx() as conn:
            return [HistoryRow(**row._mapping) for row in conn.execute(query)]
