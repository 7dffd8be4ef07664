"""`run.send_event(..., id=...)`: an event id is delivered at most once, in every store."""

from __future__ import annotations

import sqlite3

import pytest

from agentflow.errors import RunStateError
from agentflow.store import SCHEMA_VERSION, Store

WAIT_TWICE = """
def run(event, step):
    first = step.wait_for_event("first", type="go", timeout="1 hour")
    try:
        again = step.wait_for_event("again", type="go", timeout="1 second").payload
    except WaitTimeout:
        again = None
    return [first.payload, again]
"""


def test_the_same_event_id_is_delivered_once(engine):
    agent = engine.agent("a", review="auto")
    agent.submit_plan(WAIT_TWICE)
    run = agent.start()
    engine.work()
    assert run.send_event("go", 1, id="mail-1") is True
    assert run.send_event("go", 2, id="mail-1") is False
    assert run.result(timeout=20) == [1, None]


def test_events_without_ids_are_each_delivered(engine):
    agent = engine.agent("a", review="auto")
    agent.submit_plan(WAIT_TWICE)
    run = agent.start()
    assert run.send_event("go", 1) is True
    assert run.send_event("go", 2) is True
    assert run.result(timeout=20) == [1, 2]


def test_an_id_is_per_run(engine):
    agent = engine.agent("a", review="auto")
    agent.submit_plan(WAIT_TWICE)
    one, two = agent.start(run_id="one"), agent.start(run_id="two")
    assert one.send_event("go", 1, id="same") and two.send_event("go", 2, id="same")


def test_a_version_4_database_gets_the_event_id_column(tmp_path):
    path = tmp_path / "old.db"
    Store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX ux_events_run_key")
        conn.execute("ALTER TABLE events DROP COLUMN idempotency_key")
        conn.execute("DROP TABLE api_tokens")
        conn.execute("UPDATE agentflow_meta SET value = '4' WHERE key = 'schema_version'")
    store = Store(f"sqlite:///{path}")
    try:
        assert store.add_event("r", "go", 1, idempotency_key="k") is not None
        assert store.add_event("r", "go", 2, idempotency_key="k") is None
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        version = conn.execute("SELECT value FROM agentflow_meta").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert version == str(SCHEMA_VERSION) and "api_tokens" in tables


def test_a_retried_event_id_is_accepted_after_the_run_ended(engine):
    agent = engine.agent("a", review="auto")
    agent.submit_plan(
        'def run(event, step):\n    return step.wait_for_event("w", type="go").payload\n'
    )
    run = agent.start()
    assert run.send_event("go", 1, id="once") is True
    assert run.result(timeout=20) == 1
    assert run.send_event("go", 1, id="once") is False
    with pytest.raises(RunStateError):
        run.send_event("go", 2, id="another")
