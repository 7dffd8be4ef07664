"""A settlement that claims the worker's next reserved run, and claims that bring what they read.

Each store test runs on a SQLite file and on PostgreSQL (`db_url`); the worker test runs plan
code in real sandbox processes.
"""

from __future__ import annotations

import subprocess
import sys
import time

from agentflow.models import RunState
from agentflow.store import Settlement, StepWrite, Store, Transition
from agentflow.store.claims import Handoff
from tests.integration.test_claims import due_runs
from tests.support.host import make_engine


def kinds(store: Store, key: str) -> list[str]:
    return [entry.kind for entry in store.load_history(key)]


def test_a_settlement_claims_the_next_reserved_run_in_its_transaction(store: Store) -> None:
    keys = due_runs(store, "acme", 3)
    first, reserved = store.claim_and_reserve_loaded("worker-a", lease_seconds=60, limit=3)
    assert first is not None and first.steps == [] and first.tools == []
    handoff = Handoff(reserved[0], lease_seconds=60)

    settled = store.settle(first.row.id, "worker-a", Settlement(RunState.COMPLETE), handoff)

    assert settled is Transition.DONE
    assert handoff.tried and handoff.claimed is not None
    claimed = handoff.claimed.row
    assert claimed.id == reserved[0] and claimed.status == RunState.RUNNING
    assert claimed.lease_owner == "worker-a" and claimed.activations == 1
    assert store.get_run(first.row.id).status == RunState.COMPLETE
    assert kinds(store, first.row.id) == ["created", "claimed", "completed"]
    assert kinds(store, reserved[0]) == ["created", "claimed"]
    assert kinds(store, reserved[1]) == ["created"]
    assert sorted([first.row.id, *reserved]) == sorted(keys)


def test_a_claim_brings_the_runs_steps_and_the_agents_tools_of_that_moment(
    store: Store, db_url: str
) -> None:
    keys = due_runs(store, "acme", 2)
    first, reserved = store.claim_and_reserve_loaded("worker-a", lease_seconds=60, limit=2)
    assert first is not None
    step = StepWrite(first.row.id, 0, "nap#0", "nap", 0, "sleep", "complete", new=True)
    suspended = Settlement(RunState.SLEEPING, wake_at=time.time() - 1, checkpoints=(step,))
    assert store.settle(first.row.id, "worker-a", suspended) is Transition.DONE
    # Another process changes the agent's tools: the next claims read them as they are now.
    change = f"from agentflow.store import Store; Store({db_url!r}).update_agent("
    change += "'acme', 'ops', tools=['list_orders', 'refund'])"
    subprocess.run([sys.executable, "-c", change], check=True, timeout=60)

    again = store.claim_loaded(first.row.id, "worker-a", lease_seconds=60)
    other = store.claim_loaded(reserved[0], "worker-a", lease_seconds=60)

    assert again is not None and other is not None
    assert again.tools == other.tools == ["list_orders", "refund"]
    assert [(s.key, s.status) for s in again.steps] == [("nap#0", "complete")]
    assert again.steps == store.load_steps(first.row.id)
    assert other.steps == [] and sorted([again.row.id, other.row.id]) == sorted(keys)


def test_a_lost_settlement_leaves_its_handoff_to_the_worker(store: Store) -> None:
    due_runs(store, "acme", 2)
    first, reserved = store.claim_and_reserve_loaded("worker-a", lease_seconds=60, limit=2)
    assert first is not None
    handoff = Handoff(reserved[0], lease_seconds=60)

    lost = store.settle(first.row.id, "worker-b", Settlement(RunState.COMPLETE), handoff)

    assert lost is Transition.LOST and not handoff.tried and handoff.claimed is None
    assert store.get_run(reserved[0]).status == RunState.QUEUED
    assert kinds(store, reserved[0]) == ["created"]


def test_a_handoff_no_longer_claimable_is_tried_and_the_settlement_stands(store: Store) -> None:
    limited = due_runs(store, "limited", 2, limit=1)
    # Another worker holds the limited agent's one slot.
    assert [r.id for r in store.claim_due_runs("worker-b", 60, limit=1)] == limited[:1]
    (key,) = due_runs(store, "acme", 1)
    first, reserved = store.claim_and_reserve_loaded("worker-a", lease_seconds=60, limit=8)
    assert first is not None and first.row.id == key and reserved == []
    handoff = Handoff(limited[1], lease_seconds=60)
    sleeping = Settlement(RunState.SLEEPING, wake_at=time.time() + 3600)

    assert store.settle(key, "worker-a", sleeping, handoff) is Transition.DONE
    assert handoff.tried and handoff.claimed is None
    assert store.get_run(key).status == RunState.SLEEPING
    assert store.get_run(limited[1]).status == RunState.QUEUED
    assert kinds(store, limited[1]) == ["created"]


SLEEP_THEN_RETURN = 'def run(event, step):\n    step.sleep("nap", "1 hour")\n    return 1\n'


def test_a_worker_wakes_many_runs_each_checkpointed_and_recorded_once(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wake.db'}")  # isolation="process"
    try:
        agents = [engine.agent(f"a{n}", review="auto") for n in range(2)]
        for agent in agents:
            agent.submit_plan(SLEEP_THEN_RETURN)
        runs = [agents[n % 2].start(run_id=f"r{n}") for n in range(40)]
        engine.work()
        assert {engine.store.get_run(run.key).status for run in runs} == {RunState.SLEEPING}
        engine.store.shift_timers(3600)
        engine.work()
        for run in runs:
            assert run.result(timeout=5) == 1
            history = kinds(engine.store, run.key)
            assert history == ["created", "claimed", "suspended", "woken", "step", "completed"]
            steps = engine.store.load_steps(run.key)
            assert [(s.name, s.status) for s in steps] == [("nap", "complete")]
    finally:
        engine.close()
