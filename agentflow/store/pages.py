"""Runs a page at a time: filtered by agent, status and creation time, newest first."""

from __future__ import annotations

from sqlalchemy import and_, or_, select

from agentflow.store.repository import Store
from agentflow.store.tables import RunRow

_runs = RunRow.__table__  # type: ignore[attr-defined]


def page_runs(
    store: Store,
    *,
    agent_id: str | None = None,
    status: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = 50,
    after: tuple[float, str] | None = None,
) -> list[RunRow]:
    """Up to `limit` runs, newest first (ties broken by key), created in `[since, until)`.

    `after` is the (created_at, key) of the last run of the previous page: this page starts
    right after it, so rows inserted meanwhile never shift a page.
    """
    query = select(_runs).order_by(_runs.c.created_at.desc(), _runs.c.id.desc()).limit(limit)
    if agent_id is not None:
        query = query.where(_runs.c.agent_id == agent_id)
    if status is not None:
        query = query.where(_runs.c.status == status)
    if since is not None:
        query = query.where(_runs.c.created_at >= since)
    if until is not None:
        query = query.where(_runs.c.created_at < until)
    if after is not None:
        created, key = after
        query = query.where(
            or_(
                _runs.c.created_at < created,
                and_(_runs.c.created_at == created, _runs.c.id < key),
            )
        )
    with store.engine.begin() as conn:
        return [RunRow(**r._mapping) for r in conn.execute(query)]
