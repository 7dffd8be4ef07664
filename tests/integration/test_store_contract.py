"""The store's promises, written once and kept by SQLite and PostgreSQL alike (`db_url`)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from agentflow import NotFound, RunStateError
from agentflow.models import PlanState, RunControl, RunState, StepState
from agentflow.store import (
    LeaseLost,
    NewPlanVersion,
    PlanVersionRow,
    Settlement,
    StartOnApproval,
    StepWrite,
    Store,
    Transition,
)

AGENT = "acme"


def new_plan(store: Store, agent_id: str = AGENT) -> PlanVersionRow:
    return store.add_plan_version(NewPlanVersion(agent_id=agent_id, sha256="0" * 64, source="…"))


def approved_plan(store: Store, agent_id: str = AGENT) -> PlanVersionRow:
    plan = new_plan(store, agent_id)
    return store.decide_plan(plan.id or 0, PlanState.APPROVED, "dana", None)


def queued_run(store: Store, run_id: str = "r1", plan: PlanVersionRow | None = None) -> str:
    plan = plan or approved_plan(store)
    row, created = store.create_run(run_id, plan.agent_id, plan.id or 0, {"n": 1})
    assert created
    return row.id


def claimed_run(store: Store, owner: str = "worker-a", run_id: str = "r1") -> str:
    key = queued_run(store, run_id)
    assert store.claim_run(key, owner, lease_seconds=60) is not None
    return key


def step(key: str, name: str = "s", seq: int = 0, **fields: Any) -> StepWrite:
    values: dict[str, Any] = {"attempts": 1, "started_at": time.time(), "new": True, **fields}
    return StepWrite(key, seq, f"{name}#0", name, 0, values.pop("kind", "do"), **values)


# --- plan versions and decisions ---------------------------------------------------------------


def test_plan_versions_are_numbered_per_agent_and_start_pending(store: Store) -> None:
    first, second, other = new_plan(store), new_plan(store), new_plan(store, "globex")
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert {first.status, second.status, other.status} == {PlanState.PENDING}


def test_a_decision_is_taken_once(store: Store) -> None:
    plan = new_plan(store)
    decided = store.decide_plan(plan.id or 0, PlanState.APPROVED, "dana", "fine")
    assert (decided.status, decided.decided_by) == (PlanState.APPROVED, "dana")
    with pytest.raises(RunStateError, match="already approved by dana"):
        store.decide_plan(plan.id or 0, PlanState.REJECTED, "eve", None)
    assert [d.reviewer for d in store.list_decisions(plan.id or 0)] == ["dana"]


def test_deciding_a_missing_plan_version_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.decide_plan(999, PlanState.APPROVED, "dana", None)


def test_approval_starts_the_run_the_version_was_queued_with_once(store: Store) -> None:
    start = StartOnApproval(run_id="later", params={"n": 2})
    plan = store.add_plan_version(
        NewPlanVersion(agent_id=AGENT, sha256="0" * 64, source="…", start_on_approval=start)
    )
    assert store.start_on_approval(plan.id or 0) == start
    store.decide_plan(plan.id or 0, PlanState.APPROVED, "dana", None)
    run = store.find_run(AGENT, "later")
    assert (run.status, run.params, run.plan_id) == (RunState.QUEUED, {"n": 2}, plan.id)
    assert store.start_on_approval(plan.id or 0) is None


def test_approving_a_repaired_version_leaves_the_restart_to_the_caller(store: Store) -> None:
    start = StartOnApproval(restart_run_id="failed")
    plan = store.add_plan_version(
        NewPlanVersion(agent_id=AGENT, sha256="0" * 64, source="…", start_on_approval=start)
    )
    store.decide_plan(plan.id or 0, PlanState.APPROVED, "dana", None)
    assert store.start_on_approval(plan.id or 0) == start
    assert store.list_runs(AGENT) == []
    store.clear_start_on_approval(plan.id or 0)
    assert store.start_on_approval(plan.id or 0) is None


def test_rejection_ends_every_unfinished_run_of_the_version(store: Store) -> None:
    plan = new_plan(store)
    key = queued_run(store, "r1", plan)
    store.decide_plan(plan.id or 0, PlanState.REJECTED, "dana", "no")
    run = store.get_run(key)
    assert run.status == RunState.ERRORED
    assert run.error == {
        "type": "PlanRejected",
        "message": "plan version 1 was rejected by dana: no",
    }


# --- claims and leases ---------------------------------------------------------------------------


def test_a_run_of_a_plan_that_is_not_approved_is_never_claimed(store: Store) -> None:
    plan = new_plan(store)
    key = queued_run(store, "r1", plan)
    assert store.claim_run(key, "worker-a", 60) is None
    assert store.claim_due_runs("worker-a", 60, limit=5) == []
    assert store.next_wake_at() is None
    store.decide_plan(plan.id or 0, PlanState.APPROVED, "dana", None)
    claimed = store.claim_run(key, "worker-a", 60)
    assert claimed is not None
    assert (claimed.status, claimed.lease_owner, claimed.activations) == (
        RunState.RUNNING,
        "worker-a",
        1,
    )


def test_a_live_lease_keeps_other_workers_off(store: Store) -> None:
    key = claimed_run(store)
    assert store.claim_run(key, "worker-b", 60) is None
    assert store.claim_due_runs("worker-b", 60, limit=5) == []


def test_a_lapsed_lease_can_be_claimed_by_another_owner(store: Store) -> None:
    key = queued_run(store)
    assert store.claim_run(key, "worker-a", lease_seconds=0.01) is not None
    time.sleep(0.05)
    taken = store.claim_run(key, "worker-b", 60)
    assert taken is not None and taken.lease_owner == "worker-b"
    assert taken.unsettled == 1  # worker-a's activation ended without settling the run
    with pytest.raises(LeaseLost):
        store.save_step("worker-a", step(key))


def test_due_runs_are_claimed_earliest_first_up_to_the_limit(store: Store) -> None:
    plan = approved_plan(store)
    keys = [queued_run(store, f"r{i}", plan) for i in range(3)]
    claimed = store.claim_due_runs("worker-a", 60, limit=2)
    assert [row.id for row in claimed] == keys[:2]
    assert {row.lease_owner for row in claimed} == {"worker-a"}
    assert [row.id for row in store.claim_due_runs("worker-b", 60, limit=5)] == keys[2:]


def test_renewing_leases_reports_the_ones_lost(store: Store) -> None:
    key = claimed_run(store)
    assert store.renew_leases("worker-a", [key], 60) == set()
    assert store.renew_leases("worker-b", [key], 60) == {key}


# --- settling ------------------------------------------------------------------------------------


def test_settling_releases_the_lease_and_ends_a_complete_run(store: Store) -> None:
    key = claimed_run(store)
    done = store.settle(key, "worker-a", Settlement(RunState.COMPLETE, output={"ok": True}))
    assert done is Transition.DONE
    run = store.get_run(key)
    assert (run.status, run.output, run.lease_owner, run.wake_at) == (
        RunState.COMPLETE,
        {"ok": True},
        None,
        None,
    )
    assert run.ended_at is not None


def test_settling_with_a_stale_owner_is_refused_and_writes_nothing(store: Store) -> None:
    key = claimed_run(store)
    lost = store.settle(key, "worker-b", Settlement(RunState.ERRORED, error={"type": "X"}))
    assert lost is Transition.LOST
    run = store.get_run(key)
    assert (run.status, run.lease_owner, run.error) == (RunState.RUNNING, "worker-a", None)
    requeued = store.requeue_unsettled(key, "worker-b", time.time(), {"type": "X"})
    assert requeued is Transition.LOST


def test_a_run_settled_queued_keeps_its_pending_request(store: Store) -> None:
    key = claimed_run(store)
    assert store.request_pause(key) is Transition.REQUESTED
    retry = time.time() + 60
    queued = Settlement(RunState.QUEUED, wake_at=retry, error={"type": "ToolsUnavailable"})
    assert store.settle(key, "worker-a", queued) is Transition.DONE
    run = store.get_run(key)
    assert (run.status, run.control, run.wake_at) == (RunState.QUEUED, RunControl.PAUSE, retry)


def test_a_run_that_waits_for_an_event_already_sent_is_due_at_once(store: Store) -> None:
    key = claimed_run(store)
    store.add_event(key, "go", {"n": 1})
    later = time.time() + 3600
    waiting = Settlement(RunState.WAITING, wake_at=later, waiting_for="go")
    assert store.settle(key, "worker-a", waiting) is Transition.DONE
    run = store.get_run(key)
    assert run.status == RunState.WAITING
    assert run.wake_at is not None and run.wake_at <= time.time()


# --- a host's transitions ------------------------------------------------------------------------


def test_pausing_an_idle_run_pauses_it_at_once(store: Store) -> None:
    key = queued_run(store)
    assert store.request_pause(key) is Transition.DONE
    run = store.get_run(key)
    assert (run.status, run.wake_at, run.control) == (RunState.PAUSED, None, None)
    assert store.claim_run(key, "worker-a", 60) is None


def test_pausing_a_running_run_asks_its_worker(store: Store) -> None:
    key = claimed_run(store)
    assert store.request_pause(key) is Transition.REQUESTED
    assert store.get_run(key).status == RunState.RUNNING
    assert store.save_step("worker-a", step(key)) == RunControl.PAUSE


def test_pausing_or_terminating_an_ended_run_reports_it_ended(store: Store) -> None:
    key = claimed_run(store)
    store.settle(key, "worker-a", Settlement(RunState.COMPLETE, output=1))
    assert store.request_pause(key) is Transition.ENDED
    assert store.request_terminate(key) is Transition.ENDED
    assert store.get_run(key).status == RunState.COMPLETE


def test_a_transition_on_another_agents_run_is_not_found(store: Store) -> None:
    key = queued_run(store)
    for transition in (store.request_pause, store.request_terminate, store.resume):
        with pytest.raises(NotFound):
            transition(key, "globex")
    with pytest.raises(NotFound):
        store.restart(key, "globex")
    with pytest.raises(NotFound):
        store.request_pause("no-such-run")
    assert store.get_run(key).status == RunState.QUEUED


def test_terminating_an_idle_run_ends_it(store: Store) -> None:
    key = queued_run(store)
    assert store.request_terminate(key, AGENT) is Transition.DONE
    run = store.get_run(key)
    assert run.status == RunState.TERMINATED
    assert run.error == {"type": "Terminated", "message": "terminated on request"}
    assert run.ended_at is not None


def test_resuming_queues_a_paused_run_withdraws_a_pending_pause_and_refuses_the_rest(
    store: Store,
) -> None:
    paused = queued_run(store, "paused")
    store.request_pause(paused)
    assert store.resume(paused) is Transition.DONE
    run = store.get_run(paused)
    assert run.status == RunState.QUEUED and run.wake_at is not None

    running = claimed_run(store, run_id="running")
    store.request_pause(running)
    assert store.resume(running) is Transition.WITHDRAWN
    assert store.get_run(running).control is None

    assert store.resume(queued_run(store, "queued")) is Transition.REFUSED


def test_restarting_drops_later_checkpoints_and_queues_the_run(store: Store) -> None:
    key = claimed_run(store)
    store.save_steps(
        "worker-a",
        key,
        [
            step(key, "a", 0, status=StepState.COMPLETE, output=1),
            step(key, "b", 1, status=StepState.FAILED, error={"type": "X"}),
        ],
    )
    store.settle(key, "worker-a", Settlement(RunState.ERRORED, error={"type": "X"}))
    plan = approved_plan(store)
    restarted = store.restart(key, AGENT, from_seq=1, plan_id=plan.id)
    assert restarted is Transition.DONE
    run = store.get_run(key)
    assert (run.status, run.error, run.ended_at, run.plan_id, run.rebase) == (
        RunState.QUEUED,
        None,
        None,
        plan.id,
        True,
    )
    assert [s.key for s in store.load_steps(key)] == ["a#0"]


def test_a_run_under_a_live_lease_cannot_be_restarted(store: Store) -> None:
    key = claimed_run(store)
    store.save_step("worker-a", step(key))
    assert store.restart(key) is Transition.REFUSED
    assert [s.key for s in store.load_steps(key)] == ["s#0"]
    assert store.get_run(key).lease_owner == "worker-a"


# --- the journal ---------------------------------------------------------------------------------


def test_a_completed_step_is_never_overwritten(store: Store) -> None:
    key = claimed_run(store)
    store.save_step("worker-a", step(key, status=StepState.COMPLETE, output="first"))
    with pytest.raises(LeaseLost):
        store.save_step("worker-a", step(key, status=StepState.RUNNING, new=False))
    [record] = store.load_steps(key)
    assert (record.status, record.output) == (StepState.COMPLETE, "first")


def test_a_step_write_without_the_lease_is_refused(store: Store) -> None:
    key = claimed_run(store)
    with pytest.raises(LeaseLost):
        store.save_step("worker-b", step(key))
    assert store.load_steps(key) == []


def test_an_event_sent_before_the_wait_is_delivered_once(store: Store) -> None:
    key = claimed_run(store)
    store.add_event(key, "go", {"n": 1})
    wait = step(key, "w", kind="wait_for_event", status=StepState.COMPLETE)
    taken = store.take_event("worker-a", key, "go", wait)
    assert taken is not None and taken.payload == {"n": 1}
    again = step(key, "w2", 1, kind="wait_for_event", status=StepState.COMPLETE)
    assert store.take_event("worker-a", key, "go", again) is None
    [record, *_] = store.load_steps(key)
    assert record.output["payload"] == {"n": 1}


def test_dropping_checkpoints_reopens_the_events_they_consumed(store: Store) -> None:
    key = claimed_run(store)
    store.add_event(key, "go", 1)
    store.take_event("worker-a", key, "go", step(key, "w", kind="wait_for_event"))
    store.truncate_steps_in_activation("worker-a", key, 0)
    again = store.take_event("worker-a", key, "go", step(key, "w", kind="wait_for_event"))
    assert again is not None and again.payload == 1


# --- timers --------------------------------------------------------------------------------------


def test_timers_of_suspended_runs_can_be_brought_closer(store: Store) -> None:
    key = claimed_run(store)
    wake = time.time() + 3600
    store.settle(key, "worker-a", Settlement(RunState.SLEEPING, wake_at=wake))
    assert store.next_timer(key) == pytest.approx(wake)
    assert store.shift_timers(3000, key) == 1
    assert store.next_timer() == pytest.approx(wake - 3000)


# --- the run's history --------------------------------------------------------------------------


def history(store: Store, key: str) -> list[tuple[int, str, str | None, str | None]]:
    return [(h.seq, h.kind, h.actor, h.reason) for h in store.load_history(key)]


def snapshot(store: Store, key: str) -> list[tuple[Any, ...]]:
    """Every stored column of every entry, to compare before and after later transitions."""
    return [
        (h.id, h.seq, h.at, h.kind, h.actor, h.reason, json.dumps(h.detail, sort_keys=True))
        for h in store.load_history(key)
    ]


def test_a_new_run_has_its_created_entry_with_params_and_plan(store: Store) -> None:
    plan = approved_plan(store)
    key = queued_run(store, plan=plan)
    (entry,) = store.load_history(key)
    assert (entry.seq, entry.kind, entry.actor) == (1, "created", None)
    assert entry.detail == {"run_id": "r1", "plan_id": plan.id, "params": {"n": 1}}


def test_each_finished_attempt_is_one_entry_in_the_steps_transaction(store: Store) -> None:
    key = claimed_run(store)
    store.save_step("worker-a", step(key, "pay"))  # under way: no entry
    store.save_step(
        "worker-a",
        step(
            key,
            "pay",
            status=StepState.RETRYING,
            error={"type": "Boom", "message": "x" * 900},
            new=False,
        ),
    )
    done_write = step(key, "pay", status=StepState.COMPLETE, attempts=2, output=1, new=False)
    store.save_step("worker-a", done_write)
    kinds = history(store, key)
    assert [k for _, k, _, _ in kinds] == ["created", "claimed", "step", "step"]
    retry, done = store.load_history(key)[2:]
    assert retry.detail["status"] == "retrying" and retry.detail["attempt"] == 1
    assert retry.detail["error"] == {"type": "Boom", "message": "x" * 500}
    assert (done.detail["step"], done.detail["attempt"], done.detail["status"]) == (
        "pay",
        2,
        "complete",
    )
    with pytest.raises(LeaseLost):  # a write refused writes no entry either
        store.save_step("worker-b", step(key, "other", 1, status=StepState.COMPLETE))
    assert len(store.load_history(key)) == 4


def test_claims_suspensions_wakes_events_and_the_end_are_recorded(store: Store) -> None:
    key = claimed_run(store)
    store.settle(
        key,
        "worker-a",
        Settlement(RunState.WAITING, wake_at=time.time() + 60, waiting_for="approval"),
    )
    store.add_event(key, "approval", {"ok": True}, idempotency_key="k1", actor="dana")
    assert store.claim_due_runs("worker-b", 60) != []
    store.settle(key, "worker-b", Settlement(RunState.COMPLETE, output=3))
    entries = store.load_history(key)
    assert [e.kind for e in entries] == [
        "created",
        "claimed",
        "suspended",
        "event",
        "woken",
        "completed",
    ]
    assert entries[2].detail["waiting_for"] == "approval"
    event = entries[3]
    assert event.actor == "dana"
    assert event.detail["type"] == "approval" and event.detail["payload"] == {"ok": True}
    assert event.detail["idempotency_key"] == "k1" and isinstance(event.detail["event_id"], int)
    assert entries[4].detail == {"owner": "worker-b", "was": "waiting"}
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]


def test_controls_record_actor_and_reason(store: Store) -> None:
    key = claimed_run(store)
    assert store.request_pause(key, actor="dana", reason="look first") is Transition.REQUESTED
    store.settle(key, "worker-a", Settlement(RunState.PAUSED))
    assert store.resume(key, actor="eve", reason="looked") is Transition.DONE
    assert store.request_terminate(key, actor="dana", reason="no more") is Transition.DONE
    assert store.request_terminate(key, actor="x") is Transition.ENDED  # no entry
    assert history(store, key)[2:] == [
        (3, "pause_requested", "dana", "look first"),
        (4, "paused", None, None),
        (5, "resumed", "eve", "looked"),
        (6, "terminated", "dana", "no more"),
    ]


def test_restart_and_repair_record_the_steps_kept_and_the_approval(store: Store) -> None:
    key = claimed_run(store)
    store.save_steps(
        "worker-a",
        key,
        [
            step(key, "a", 0, status=StepState.COMPLETE, output=1),
            step(key, "b", 1, status=StepState.FAILED, error={"type": "X", "message": "no"}),
        ],
    )
    store.settle(
        key, "worker-a", Settlement(RunState.ERRORED, error={"type": "X", "message": "no"})
    )
    before = snapshot(store, key)
    plan = approved_plan(store)
    store.restart(key, AGENT, from_seq=1, plan_id=plan.id, actor="dana", reason="fixed")
    store.restart(key, from_seq=0, actor="eve", reason="from scratch")
    entries = store.load_history(key)
    repaired, restarted = entries[-2:]
    assert (repaired.kind, repaired.actor, repaired.reason) == ("repaired", "dana", "fixed")
    assert repaired.detail["steps_kept"] == ["a"]
    assert repaired.detail["plan_id"] == plan.id and repaired.detail["plan_version"] == 2
    assert repaired.detail["approved_by"] == "dana"
    assert repaired.detail["error"] == {"type": "X", "message": "no"}
    assert (restarted.kind, restarted.detail["steps_kept"]) == ("restarted", [])
    assert snapshot(store, key)[: len(before)] == before


def test_rejecting_a_plan_records_the_runs_it_ends(store: Store) -> None:
    plan = new_plan(store)
    row, _ = store.create_run("r1", AGENT, plan.id or 0, {})
    store.decide_plan(plan.id or 0, PlanState.REJECTED, "dana", "too risky")
    last = store.load_history(row.id)[-1]
    assert (last.kind, last.actor, last.reason) == ("failed", "dana", "too risky")
    assert last.detail["error"]["type"] == "PlanRejected"


def test_history_rows_are_only_inserted(store: Store) -> None:
    key = claimed_run(store)
    store.save_step("worker-a", step(key, status=StepState.COMPLETE))
    before = snapshot(store, key)
    store.settle(key, "worker-a", Settlement(RunState.COMPLETE, output=1))
    store.restart(key, actor="dana", reason="again")
    store.request_pause(key, actor="dana", reason="hold")
    store.request_terminate(key, actor="dana", reason="end")
    after = snapshot(store, key)
    assert after[: len(before)] == before
    assert [row[1] for row in after] == list(range(1, len(after) + 1))
