"""Runs and plan versions a page at a time: filtered by agent, status, time and goal text.

Paging is by key (keyset), never by offset: a page starts right after (or ends right before)
the row that closed the page next to it, so rows inserted meanwhile never shift a page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, func, or_, select

from agentflow.store.repository import Store
from agentflow.store.tables import AGENTS, PLANS, RUNS, PlanVersionRow, RunRow


def _filtered(
    query: Select[Any],
    table: Any,
    agent_id: str | None,
    status: str | None,
    since: float | None,
    until: float | None,
) -> Select[Any]:
    """`query` kept to one agent, one state and a creation time in `[since, until)`."""
    if agent_id is not None:
        query = query.where(table.c.agent_id == agent_id)
    if status is not None:
        query = query.where(table.c.status == status)
    if since is not None:
        query = query.where(table.c.created_at >= since)
    if until is not None:
        query = query.where(table.c.created_at < until)
    return query


def _goal_matches(column: Any, text: str) -> Any:
    """A case-insensitive "contains" on both dialects (`%` and `_` in `text` taken literally)."""
    return func.lower(column).contains(text.lower(), autoescape=True)


def page_runs(
    store: Store,
    *,
    agent_id: str | None = None,
    status: str | None = None,
    since: float | None = None,
    until: float | None = None,
    goal: str | None = None,
    limit: int = 50,
    after: tuple[float, str] | None = None,
    before: tuple[float, str] | None = None,
) -> list[RunRow]:
    """Up to `limit` runs, newest first (ties broken by key), created in `[since, until)`.

    Args:
        store: the store to read.
        agent_id: only this agent's runs.
        status: only runs in this state.
        since: created at or after (epoch seconds).
        until: created before (epoch seconds).
        goal: only runs whose plan version's goal contains this text (any case).
        limit: the most rows returned.
        after: the (created_at, key) of the last run of the previous page: this page starts
            right after it.
        before: the (created_at, key) of the first run of the next page: this page ends right
            before it (the "previous" link); still newest first.
    """
    order = (RUNS.c.created_at, RUNS.c.id)
    query = _filtered(select(RUNS), RUNS, agent_id, status, since, until)
    if goal:
        with_goal = select(PLANS.c.id).where(_goal_matches(PLANS.c.goal, goal))
        query = query.where(RUNS.c.plan_id.in_(with_goal))
    if after is not None:
        query = query.where(_older(order, after))
    if before is not None:
        query = query.where(_newer(order, before))
    query = _ordered(query, order, backwards=before is not None and after is None).limit(limit)
    with store._read() as conn:
        rows = [RunRow(**r._mapping) for r in conn.execute(query)]
    return _newest_first(rows, backwards=before is not None and after is None)


def page_plans(
    store: Store,
    *,
    agent_id: str | None = None,
    status: str | None = None,
    since: float | None = None,
    until: float | None = None,
    goal: str | None = None,
    limit: int = 50,
    after: int | None = None,
    before: int | None = None,
) -> list[PlanVersionRow]:
    """Up to `limit` plan versions, newest first, created in `[since, until)`.

    `goal` keeps the versions whose goal contains that text (any case); `after` and `before`
    are plan ids: the last of the previous page and the first of the next page.
    """
    query = _filtered(select(PLANS), PLANS, agent_id, status, since, until)
    if goal:
        query = query.where(_goal_matches(PLANS.c.goal, goal))
    if after is not None:
        query = query.where(PLANS.c.id < after)
    if before is not None:
        query = query.where(PLANS.c.id > before)
    backwards = before is not None and after is None
    query = query.order_by(PLANS.c.id.asc() if backwards else PLANS.c.id.desc()).limit(limit)
    with store._read() as conn:
        rows = [PlanVersionRow(**r._mapping) for r in conn.execute(query)]
    return _newest_first(rows, backwards=backwards)


def _older(order: tuple[Any, Any], mark: tuple[float, str]) -> Any:
    created, key = order
    return or_(created < mark[0], and_(created == mark[0], key < mark[1]))


def _newer(order: tuple[Any, Any], mark: tuple[float, str]) -> Any:
    created, key = order
    return or_(created > mark[0], and_(created == mark[0], key > mark[1]))


def _ordered(query: Select[Any], order: tuple[Any, Any], *, backwards: bool) -> Select[Any]:
    # Going back, the rows nearest the mark are the oldest of the wanted page: read them
    # oldest first so LIMIT keeps the right ones, then turn them round.
    if backwards:
        return query.order_by(*(column.asc() for column in order))
    return query.order_by(*(column.desc() for column in order))


def _newest_first(rows: list[Any], *, backwards: bool) -> list[Any]:
    return rows[::-1] if backwards else rows


def plan_goals(store: Store, plan_ids: set[int]) -> dict[int, str | None]:
    """The goal of each of these plan versions (to show beside their runs)."""
    if not plan_ids:
        return {}
    query = select(PLANS.c.id, PLANS.c.goal).where(PLANS.c.id.in_(sorted(plan_ids)))
    with store._read() as conn:
        return {row.id: row.goal for row in conn.execute(query)}


def agent_ids(store: Store) -> list[str]:
    """Every agent's id, in order (the run list's agent filter offers them)."""
    with store._read() as conn:
        return list(conn.execute(select(AGENTS.c.id).order_by(AGENTS.c.id)).scalars())
