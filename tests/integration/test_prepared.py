"""Prepared statements: Core statements compiled once, run on a DBAPI cursor, read back typed.

Each test runs on a SQLite file and on PostgreSQL (`db_url`).
"""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, insert, select

from agentflow.models import RunState
from agentflow.store import Store
from agentflow.store.prepared import Prepared
from agentflow.store.tables import AGENTS, RUNS


def test_json_booleans_and_fixed_in_lists_round_trip(store: Store) -> None:
    row, _ = store.create_run("r1", "acme", 1, {"order": 7, "items": ["a", None], "ok": True})
    query = select(RUNS).where(
        RUNS.c.id == bindparam("key"),
        RUNS.c.status.in_([RunState.QUEUED, RunState.SLEEPING]),  # written out once
    )
    prepared = store._prepare(query, list(RUNS.c))

    with store._raw_read() as cursor:
        (read,) = prepared.rows(cursor, {"key": row.id})
        assert prepared.rows(cursor, {"key": "no-such-run"}) == []

    assert read["params"] == {"order": 7, "items": ["a", None], "ok": True}
    assert read["rebase"] is False  # an integer on SQLite, decoded by the column's type
    assert read["status"] == RunState.QUEUED
    assert read["output"] is None


def test_a_statement_whose_defaults_sqlalchemy_would_compute_is_refused(store: Store) -> None:
    # `tools` has a Python-side default: written through a bare cursor it would be NULL.
    statement = insert(AGENTS).values(id=bindparam("id"), created_at=0.0, updated_at=0.0)
    with pytest.raises(ValueError, match="tools"):
        Prepared(statement, store.engine.dialect)


def test_the_parameters_are_in_the_drivers_style(store: Store) -> None:
    query = select(RUNS.c.id).where(RUNS.c.id == bindparam("key"), RUNS.c.agent_id == "acme")
    prepared = Prepared(query, store.engine.dialect)
    parameters = prepared.parameters({"key": "r1"})
    if store.url.startswith("sqlite"):  # qmark: in the order of the SQL
        assert parameters == ("r1", "acme")
    else:  # pyformat: by name, constants included
        assert parameters["key"] == "r1" and "acme" in parameters.values()
