"""Claims: several due runs per transaction, agents taking turns, and `max_concurrent_runs`.

Each test runs on a SQLite file and on PostgreSQL (`db_url`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter

import pytest

from agentflow import ConfigurationError, Engine
from agentflow.models import PlanState, RunState
from agentflow.store import NewPlanVersion, Settlement, Store, Transition
from tests.support.host import make_engine


def due_runs(store: Store, agent_id: str, count: int, *, limit: int | None = None) -> list[str]:
    """`count` queued runs of `agent_id` (an agent with that limit), due one after another."""
    if store.get_agent(agent_id) is None:
        store.create_agent(agent_id, [], "auto", None, max_concurrent_runs=limit)
    plan = store.add_plan_version(NewPlanVersion(agent_id=agent_id, sha256="0" * 64, source="…"))
    plan = store.decide_plan(plan.id or 0, PlanState.APPROVED, "dana", None)
    keys = []
    for number in range(count):
        row, created = store.create_run(f"{agent_id}-{number}", agent_id, plan.id or 0, {})
        assert created
        keys.append(row.id)
    return keys


def test_one_claim_takes_several_runs_and_agents_take_turns(store: Store) -> None:
    busy = due_runs(store, "busy", 50)
    time.sleep(0.01)  # the quiet agent's runs became due after all of the busy one's
    quiet = due_runs(store, "quiet", 2)

    claimed = store.claim_due_runs("worker-a", lease_seconds=60, limit=4)

    assert len(claimed) == 4
    assert Counter(row.agent_id for row in claimed) == {"busy": 2, "quiet": 2}
    assert {row.id for row in claimed} == {*busy[:2], *quiet}
    assert all(row.status == RunState.RUNNING and row.lease_owner == "worker-a" for row in claimed)
    if store.url.startswith("sqlite"):  # in turn order (PostgreSQL locks them in any order)
        assert [row.agent_id for row in claimed] == ["busy", "quiet", "busy", "quiet"]


def test_max_concurrent_runs_is_enforced_in_every_claim(store: Store) -> None:
    keys = due_runs(store, "limited", 5, limit=2)

    first = store.claim_due_runs("worker-a", lease_seconds=60, limit=8)
    assert [row.id for row in first] == keys[:2]
    # Another worker sees the two runs running and gets no room, in a batch or by key.
    assert store.claim_due_runs("worker-b", lease_seconds=60, limit=8) == []
    assert store.claim_run(keys[2], "worker-b", lease_seconds=60) is None

    assert store.settle(keys[0], "worker-a", Settlement(RunState.COMPLETE)) is Transition.DONE
    second = store.claim_due_runs("worker-b", lease_seconds=60, limit=8)
    assert [row.id for row in second] == [keys[2]]

    store.update_agent("limited", "ops", max_concurrent_runs=3)
    third = store.claim_run(keys[3], "worker-b", lease_seconds=60)
    assert third is not None and third.id == keys[3]
    assert store.claim_due_runs("worker-b", lease_seconds=60, limit=8) == []


def test_a_lapsed_lease_does_not_count_against_the_limit(store: Store) -> None:
    keys = due_runs(store, "limited", 2, limit=1)
    assert [r.id for r in store.claim_due_runs("dead", lease_seconds=0.05, limit=8)] == keys[:1]
    time.sleep(0.1)
    # The dead worker's run no longer counts as running: the agent has room for one again.
    again = store.claim_due_runs("alive", lease_seconds=60, limit=8)
    assert len(again) == 1 and again[0].id in keys
    assert store.claim_due_runs("other", lease_seconds=60, limit=8) == []


def test_reserved_runs_keep_their_state_and_cost_nothing_if_their_worker_dies(
    store: Store,
) -> None:
    keys = due_runs(store, "acme", 3)
    reserved = store.reserve_due_runs("dead", lease_seconds=1.0, limit=8)
    assert sorted(reserved) == sorted(keys)
    for key in keys:
        row = store.get_run(key)
        assert (row.status, row.lease_owner, row.activations) == (RunState.QUEUED, "dead", 0)
    # Held for their worker: nobody else claims them, in a batch or by key.
    assert store.claim_due_runs("other", lease_seconds=60, limit=8) == []
    assert store.claim_run(keys[0], "other", lease_seconds=60) is None
    # Their worker claims them one by one.
    claimed = store.claim_run(keys[0], "dead", lease_seconds=1.0)
    assert claimed is not None and claimed.status == RunState.RUNNING
    assert claimed.activations == 1

    time.sleep(1.1)  # the worker died: its leases lapse
    again = {row.id: row for row in store.claim_due_runs("alive", lease_seconds=60, limit=8)}
    assert sorted(again) == sorted(keys)
    assert again[keys[0]].unsettled == 1  # its activation was lost
    assert again[keys[1]].unsettled == 0 and again[keys[2]].unsettled == 0  # never started


def test_one_transaction_claims_the_first_run_and_reserves_the_rest(store: Store) -> None:
    keys = due_runs(store, "acme", 3)
    first, reserved = store.claim_and_reserve("worker-a", lease_seconds=60, limit=8)
    assert first is not None and first.status == RunState.RUNNING and first.activations == 1
    assert sorted([first.id, *reserved]) == sorted(keys)
    for key in reserved:
        assert store.get_run(key).status == RunState.QUEUED
    assert store.claim_and_reserve("worker-b", lease_seconds=60, limit=8) == (None, [])


def test_a_reserved_run_is_recorded_claimed_when_claimed_not_when_reserved(store: Store) -> None:
    keys = due_runs(store, "acme", 3)
    first, reserved = store.claim_and_reserve("worker-a", lease_seconds=60, limit=8)
    assert first is not None and len(reserved) == 2

    def kinds(key: str) -> list[tuple[int, str, str | None]]:
        return [(e.seq, e.kind, e.detail.get("owner")) for e in store.load_history(key)]

    assert kinds(first.id) == [(1, "created", None), (2, "claimed", "worker-a")]
    for key in reserved:
        assert kinds(key) == [(1, "created", None)]
    claimed = store.claim_run(reserved[0], "worker-a", lease_seconds=60)
    assert claimed is not None
    assert kinds(reserved[0]) == [(1, "created", None), (2, "claimed", "worker-a")]
    assert store.release_reservations("worker-a", reserved[1:]) == 1
    assert kinds(reserved[1]) == [(1, "created", None)]
    assert sorted([first.id, *reserved]) == sorted(keys)


def test_reservations_given_back_are_free_at_once(store: Store) -> None:
    keys = due_runs(store, "acme", 3)
    assert sorted(store.reserve_due_runs("worker-a", lease_seconds=60, limit=3)) == sorted(keys)
    assert store.release_reservations("worker-b", keys) == 0  # not worker-b's to give back
    assert store.release_reservations("worker-a", keys[1:]) == 2
    again = store.claim_due_runs("worker-b", lease_seconds=60, limit=8)
    assert sorted(r.id for r in again) == sorted(keys[1:])
    # A reserved run can be paused: it is not running.
    assert store.request_pause(keys[0]) is Transition.DONE
    assert store.get_run(keys[0]).status == RunState.PAUSED
    assert store.claim_run(keys[0], "worker-a", lease_seconds=60) is None


def test_max_concurrent_runs_is_checked_and_kept_on_the_agent(db_url: str) -> None:
    engine = Engine(db_url, isolation="inline")
    try:
        for wrong in (0, -1, 1.5, "2", True):
            with pytest.raises(ConfigurationError, match="max_concurrent_runs must be"):
                engine.agent("acme", max_concurrent_runs=wrong)  # type: ignore[arg-type]
        agent = engine.agent("acme", max_concurrent_runs=2)
        assert engine.get_agent("acme").max_concurrent_runs == 2
        assert engine.agent("acme").max_concurrent_runs == 2
        with pytest.raises(
            ConfigurationError, match=r"max_concurrent_runs \(stored: 2, given: 3\)"
        ):
            engine.agent("acme", max_concurrent_runs=3)

        change = agent.update(changed_by="ops", max_concurrent_runs=None)
        assert change is not None and change.before == {"max_concurrent_runs": 2}
        assert agent.max_concurrent_runs is None
        assert engine.get_agent("acme").max_concurrent_runs is None
        with pytest.raises(ConfigurationError, match="max_concurrent_runs must be"):
            agent.update(changed_by="ops", max_concurrent_runs=0)
    finally:
        engine.close()


SLOW_PLAN = 'def run(event, step):\n    return step.do("slow", tools.slow_step)\n'


def test_workers_never_run_more_of_an_agents_runs_than_its_limit(db_url: str) -> None:
    """Two engines (two lease owners), four threads each: at most two runs at once."""
    running = Counter[str]()
    peak = Counter[str]()
    lock = threading.Lock()

    def track(agent: str) -> None:
        with lock:
            running[agent] += 1
            peak[agent] = max(peak[agent], running[agent])
        time.sleep(0.05)
        with lock:
            running[agent] -= 1

    engines = [make_engine(db_url, isolation="inline") for _ in range(2)]
    for engine in engines:

        @engine.tool(side_effects=False, name="slow_step")
        def slow_step() -> str:
            track("limited")
            return "done"

    try:
        limited = engines[0].agent(
            "limited", tools=["slow_step"], review="auto", max_concurrent_runs=2
        )
        limited.submit_plan(SLOW_PLAN)
        runs = [limited.start() for _ in range(8)]
        stop = threading.Event()
        workers = [
            threading.Thread(
                target=engine.work, kwargs={"until_idle": False, "stop": stop, "concurrency": 4}
            )
            for engine in engines
        ]
        for worker in workers:
            worker.start()
        try:
            for run in runs:
                assert run.result(timeout=60) == "done"
        finally:
            stop.set()
            for engine in engines:
                engine.notify()
            for worker in workers:
                worker.join(timeout=30)
    finally:
        for engine in engines:
            engine.close()
    assert peak["limited"] == 2


def test_a_claim_that_finds_nothing_due_waits_for_no_writer(store: Store) -> None:
    """On SQLite it reads first: an idle worker neither takes nor waits for the file's lock."""
    if not store.url.startswith("sqlite"):
        pytest.skip("PostgreSQL's claims lock rows, never the database")
    (key,) = due_runs(store, "idle", 1)
    assert [row.id for row in store.claim_due_runs("worker-a", lease_seconds=60)] == [key]
    assert store.settle(key, "worker-a", Settlement(RunState.COMPLETE)) is Transition.DONE

    writer = sqlite3.connect(store.url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process's write in progress
    answers: list[object] = []
    try:
        claims = threading.Thread(
            target=lambda: answers.extend(
                [
                    store.claim_due_runs("worker-a", lease_seconds=60),
                    store.claim_and_reserve_loaded("worker-a", lease_seconds=60, limit=8),
                ]
            )
        )
        claims.start()
        claims.join(timeout=5)  # a claim that took the lock would wait out the busy timeout
        assert answers == [[], (None, [])]
    finally:
        writer.rollback()
        writer.close()


def test_a_worker_compiles_its_claims_before_its_first_run_falls_due(store: Store) -> None:
    """`prepare_claims` leaves nothing to compile at the first claim (a timer would wake late)."""
    (key,) = due_runs(store, "punctual", 1)
    store.prepare_claims(8)
    compiled = len(store._prepared)

    claimed, reserved = store.claim_and_reserve_loaded("worker-a", lease_seconds=60, limit=8)

    assert claimed is not None and claimed.row.id == key and reserved == []
    assert store.claim_due_runs("worker-a", lease_seconds=60) == []
    assert len(store._prepared) == compiled
