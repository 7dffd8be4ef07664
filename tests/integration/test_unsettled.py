"""Activations that end without settling their run count against it; old stores gain columns."""

from __future__ import annotations

import time

import sqlalchemy

from agentflow.store import Store
from tests.support.host import make_engine

PLAN = 'def run(event, step):\n    return step.do("fetch", tools.list_orders)\n'


def test_a_run_whose_activations_keep_dying_before_a_checkpoint_errors(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    agent = engine.agent("dies", tools=["list_orders"], review="auto")
    agent.submit_plan(PLAN)
    run = agent.start()
    for number in range(3):
        # A worker claims the run and dies before it writes anything: its lease lapses.
        assert engine.store.claim_run(run.id, f"dead-{number}", lease_seconds=0.01) is not None
        time.sleep(0.03)
    engine.work()
    status = run.status()
    assert status.status == "errored"
    assert status.error["type"] == "ActivationsLost"
    assert "3 activations of this run in a row ended without settling" in status.error["message"]
    engine.close()


def test_progress_resets_the_count(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    agent = engine.agent("recovers", tools=["list_orders"], review="auto")
    agent.submit_plan(PLAN)
    run = agent.start()
    for number in range(2):
        assert engine.store.claim_run(run.id, f"dead-{number}", lease_seconds=0.01) is not None
        time.sleep(0.03)
    engine.work()
    assert run.result(timeout=10) == [
        {"id": 1, "email": "ada@example.com", "status": "open"},
        {"id": 2, "email": "bob@example.com", "status": "open"},
    ]
    assert engine.store.get_run(run.id).unsettled == 0
    engine.close()


def test_a_store_made_before_a_column_existed_gains_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    Store(url).close()
    raw = sqlalchemy.create_engine(url)
    with raw.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE runs DROP COLUMN unsettled")
    raw.dispose()
    engine = make_engine(url)
    agent = engine.agent("old", tools=["list_orders"], review="auto")
    agent.submit_plan(PLAN)
    run = agent.start()
    engine.work()
    assert run.status().status == "complete"
    assert engine.store.get_run(run.id).unsettled == 0
    engine.close()
