"""The durable runtime on a real SQLite file, in one process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agentflow import (
    LimitExceeded,
    NotFound,
    PlanNotApproved,
    PlanValidationError,
    RunFailed,
    RunStateError,
    RuntimeLimits,
    RunTimeout,
)
from tests.support.host import make_engine, read_ledger

ORDERS = '''
"""Remind customers, wait for approval, refund."""

def run(event, step):
    orders = step.do("fetch open orders", tools.list_orders, status="open")
    for order in orders:
        step.do("remind customer", tools.send_email, to=order["email"],
                subject="Your order", body="Order " + str(order["id"]) + " is open.")
    step.sleep("give them a moment", 0.2)
    answer = step.wait_for_event("manager approval", type="refund-approval", timeout="1 hour")
    if answer.payload["approved"]:
        step.do("refund", tools.refund, order_id=orders[0]["id"])
    return {"reminded": len(orders), "approved": answer.payload["approved"]}
'''


def calls(ledger: Path, tool: str) -> list[dict]:
    return [e for e in read_ledger(ledger) if e["tool"] == tool]


def approved_agent(engine, source: str, name: str = "acme", **kwargs):
    kwargs.setdefault("tools", engine.tools.names())
    agent = engine.agent(name, review="auto", **kwargs)
    plan = agent.submit_plan(source, goal="test")
    assert plan.status == "approved"
    return agent, plan


def test_a_plan_runs_end_to_end_with_sleep_and_event(engine, ledger):
    agent, _ = approved_agent(engine, ORDERS)
    run = agent.start(params={"customer": 42})
    assert engine.work() >= 1
    assert run.status().status == "sleeping"
    time.sleep(0.25)
    engine.work()
    status = run.status()
    assert status.status == "waiting" and status.waiting_for == "refund-approval"
    run.send_event("refund-approval", {"approved": True})
    assert run.result(timeout=10) == {"reminded": 2, "approved": True}
    assert len(calls(ledger, "send_email")) == 2
    assert len(calls(ledger, "refund")) == 1
    names = [s.name for s in run.status().steps]
    assert names == [
        "fetch open orders",
        "remind customer",
        "remind customer",
        "give them a moment",
        "manager approval",
        "refund",
    ]
    assert [s.occurrence for s in run.status().steps][1:3] == [0, 1]


def test_events_sent_before_the_wait_are_buffered_and_delivered_once(engine):
    source = """
def run(event, step):
    first = step.wait_for_event("first", type="ping", timeout="1 hour")
    second = step.wait_for_event("second", type="ping", timeout="1 hour")
    return [first.payload, second.payload]
"""
    agent, _ = approved_agent(engine, source)
    run = agent.start()
    run.send_event("ping", 1)
    run.send_event("ping", 2)
    assert run.result(timeout=10) == [1, 2]


def test_a_wait_timeout_is_catchable(engine):
    source = """
def run(event, step):
    try:
        step.wait_for_event("approval", type="ok", timeout=0.2)
    except WaitTimeout:
        return "gave up"
    return "approved"
"""
    agent, _ = approved_agent(engine, source)
    run = agent.start()
    engine.work()
    assert run.status().status == "waiting"
    assert run.result(timeout=10) == "gave up"
    assert run.status().steps[0].status == "timed_out"


def test_retries_with_backoff_then_success(engine, ledger):
    source = """
def run(event, step):
    return step.do("flaky", tools.flaky, "a", 2,
                   retries={"limit": 3, "delay": 0.01, "backoff": "exponential"})
"""
    agent, _ = approved_agent(engine, source)
    run = agent.start()
    assert run.result(timeout=10) == "a"
    assert run.status().steps[0].attempts == 3
    assert len(calls(ledger, "flaky")) == 3


def test_retries_exhausted_fail_the_run_and_name_the_step(engine):
    source = """
def run(event, step):
    return step.do("always failing", tools.flaky, "b", 10, retries={"limit": 1, "delay": 0})
"""
    agent, _ = approved_agent(engine, source)
    run = agent.start()
    with pytest.raises(RunFailed) as info:
        run.result(timeout=10)
    assert info.value.error["type"] == "StepFailed"
    assert "always failing" in info.value.error["message"]
    assert run.status().steps[0].attempts == 2


def test_a_non_retryable_error_fails_at_once_and_is_catchable(engine, ledger):
    source = """
def run(event, step):
    try:
        step.do("reject", tools.reject, "no way", retries={"limit": 5, "delay": 0})
    except StepFailed as failure:
        return "caught " + failure.error_type
"""
    agent, _ = approved_agent(engine, source)
    assert agent.start().result(timeout=10) == "caught NonRetryableError"
    assert len(calls(ledger, "reject")) == 1


def test_a_long_retry_delay_suspends_the_run(engine, ledger):
    source = """
def run(event, step):
    return step.do("flaky", tools.flaky, "c", 1, retries={"limit": 2, "delay": "1.5 seconds"})
"""
    agent, _ = approved_agent(engine, source)
    run = agent.start()
    engine.work()
    status = run.status()
    assert status.status == "sleeping"
    assert status.steps[0].status == "retrying"
    assert run.result(timeout=10) == "c"


def test_a_step_timeout_counts_as_a_failed_attempt(engine):
    source = """
def run(event, step):
    try:
        step.do("slow", tools.slow, "x", 2, timeout=0.1, retries={"limit": 0})
    except StepFailed as failure:
        return failure.error_type
"""
    agent, _ = approved_agent(engine, source)
    assert agent.start().result(timeout=10) == "StepTimeout"


def test_map_and_parallel_checkpoint_each_child_and_retry_only_the_failed_one(engine, ledger):
    source = """
def run(event, step):
    labels = step.map("each", lambda label: tools.flaky(label, 1 if label == "m2" else 0),
                      ["m0", "m1", "m2", "m3"], retries={"limit": 2, "delay": 0})
    both = step.parallel("both", {"orders": lambda: tools.list_orders("open"),
                                  "echo": lambda: tools.echo(7)})
    return {"labels": labels, "count": len(both["orders"]), "echo": both["echo"]}
"""
    agent, _ = approved_agent(engine, source)
    run = agent.start()
    assert run.result(timeout=10) == {"labels": ["m0", "m1", "m2", "m3"], "count": 2, "echo": 7}
    flaky = [e["label"] for e in calls(ledger, "flaky")]
    assert sorted(flaky) == ["m0", "m1", "m2", "m2", "m3"]
    children = [s for s in run.status().steps if s.parent == "each#0"]
    assert [c.name for c in children] == ["each[0]", "each[1]", "each[2]", "each[3]"]
    assert [c.attempts for c in children] == [1, 1, 2, 1]


def test_version_pinning(engine):
    v1 = """
def run(event, step):
    step.sleep("nap", 0.1)
    return "v1"
"""
    agent, plan1 = approved_agent(engine, v1)
    run = agent.start()
    engine.work()
    agent.submit_plan(v1.replace('"v1"', '"v2"'))
    assert agent.latest_plan().version == 2
    assert run.result(timeout=10) == "v1"
    assert run.status().plan_id == plan1.id
    assert agent.start().result(timeout=10) == "v2"


def test_start_with_the_same_run_id_is_idempotent(engine):
    agent, _ = approved_agent(engine, 'def run(event, step):\n    return event.params["n"]\n')
    first = agent.start(params={"n": 1}, run_id="order-7")
    second = agent.start(params={"n": 2}, run_id="order-7")
    assert first == second
    assert len(agent.runs()) == 1
    assert second.result(timeout=10) == 1


def test_a_plan_that_is_not_approved_never_runs(engine):
    agent = engine.agent("careful", tools=engine.tools.names(), review="required")
    plan = agent.submit_plan("def run(event, step):\n    return 1\n")
    assert plan.status == "pending"
    with pytest.raises(PlanNotApproved):
        agent.start(plan=plan)
    with pytest.raises(NotFound):
        agent.start()
    engine.reviews.reject(plan.id, reviewer="dana", comment="no")
    with pytest.raises(PlanNotApproved):
        agent.start(plan=plan)
    decisions = engine.reviews.decisions(plan.id)
    assert decisions[0]["reviewer"] == "dana" and decisions[0]["decision"] == "rejected"


def test_an_invalid_plan_is_refused_and_nothing_is_stored(engine):
    agent = engine.agent("acme", tools=["list_orders"], review="auto")
    with pytest.raises(PlanValidationError) as info:
        agent.submit_plan('def run(event, step):\n    return step.do("x", tools.refund, 1)\n')
    assert info.value.diagnostics[0].line == 2
    assert agent.plans() == []


def test_pause_resume_and_terminate(engine):
    source = """
def run(event, step):
    step.sleep("nap", 0.2)
    return step.do("echo", tools.echo, "done")
"""
    agent, _ = approved_agent(engine, source)
    run = agent.start()
    engine.work()
    run.pause()
    assert run.status().status == "paused"
    time.sleep(0.3)
    assert engine.work() == 0
    run.resume()
    assert run.result(timeout=10) == "done"

    doomed = agent.start()
    engine.work()
    doomed.terminate()
    assert doomed.status().status == "terminated"
    with pytest.raises(RunFailed):
        doomed.result(timeout=1)
    with pytest.raises(RunStateError):
        doomed.send_event("x", {})


def test_restart_from_start_and_from_a_named_step(engine, ledger):
    source = """
def run(event, step):
    a = step.do("first", tools.echo, 1)
    b = step.do("second", tools.echo, 2)
    return a + b
"""
    agent, _ = approved_agent(engine, source)
    run = agent.start()
    assert run.result(timeout=10) == 3
    run.restart(from_step="second")
    assert run.result(timeout=10) == 3
    assert [e["value"] for e in calls(ledger, "echo")] == [1, 2, 2]
    run.restart()
    assert run.result(timeout=10) == 3
    assert [e["value"] for e in calls(ledger, "echo")] == [1, 2, 2, 1, 2]


def test_restart_onto_a_repaired_plan_keeps_matching_checkpoints(engine, ledger):
    broken = """
def run(event, step):
    orders = step.do("fetch", tools.list_orders, "open")
    total = step.do("echo", tools.echo, len(orders))
    return orders[5]["id"]
"""
    agent, _ = approved_agent(engine, broken)
    run = agent.start()
    with pytest.raises(RunFailed) as info:
        run.result(timeout=10)
    assert info.value.error["type"] == "IndexError"
    assert info.value.error["line"] == 5
    repaired = agent.submit_plan(broken.replace('orders[5]["id"]', 'total + orders[0]["id"]'))
    run.restart(plan=repaired)
    assert run.result(timeout=10) == 3
    assert len(calls(ledger, "list_orders")) == 1
    assert len(calls(ledger, "echo")) == 1
    assert run.status().plan_id == repaired.id


def test_restart_onto_a_plan_whose_inputs_changed_reruns_from_there(engine, ledger):
    v1 = """
def run(event, step):
    step.do("fetch", tools.list_orders, "open")
    step.do("echo", tools.echo, 1)
    return step.do("fail", tools.reject, "no")
"""
    agent, _ = approved_agent(engine, v1)
    run = agent.start()
    with pytest.raises(RunFailed):
        run.result(timeout=10)
    v2 = agent.submit_plan(
        v1.replace("tools.echo, 1", "tools.echo, 2").replace(
            'return step.do("fail", tools.reject, "no")', 'return "ok"'
        )
    )
    run.restart(plan=v2)
    assert run.result(timeout=10) == "ok"
    assert len(calls(ledger, "list_orders")) == 1
    assert [e["value"] for e in calls(ledger, "echo")] == [1, 2]


def test_non_determinism_names_the_first_step_that_differs(engine):
    source = """
def run(event, step):
    step.do("one", tools.echo, 1)
    step.sleep("nap", 0.05)
    return step.do("two", tools.echo, 2)
"""
    agent, _ = approved_agent(engine, source)
    run = agent.start()
    engine.work()
    from sqlalchemy import update

    from agentflow.store.tables import StepRow

    with engine.store.engine.begin() as conn:
        conn.execute(
            update(StepRow.__table__)
            .where(StepRow.__table__.c.name == "one")
            .values(name="zero", key="zero#0")
        )
    with pytest.raises(RunFailed) as info:
        run.result(timeout=10)
    assert info.value.error["type"] == "NonDeterminismError"
    assert "'one'" in info.value.error["message"] and "'zero'" in info.value.error["message"]


def test_step_now_is_recorded(engine):
    source = """
def run(event, step):
    first = step.now()
    step.sleep("nap", 0.05)
    return [first.isoformat(), step.now().isoformat()]
"""
    agent, _ = approved_agent(engine, source)
    run = agent.start()
    engine.work()
    before = run.status().steps[0].output
    first, second = run.result(timeout=10)
    assert run.status().steps[0].output == before
    assert first <= second


def test_print_is_captured_once_per_line(engine):
    source = """
def run(event, step):
    print("starting")
    step.sleep("nap", 0.05)
    print("after nap")
    return 1
"""
    agent, _ = approved_agent(engine, source)
    run = agent.start()
    run.result(timeout=10)
    assert run.status().log == "starting\nafter nap\n"


def test_limits_name_the_step(db_url, ledger):
    engine = make_engine(
        db_url, limits=RuntimeLimits(max_output_bytes=100, max_steps=5, max_event_bytes=50)
    )
    big = 'def run(event, step):\n    return step.do("big", tools.echo, "x" * 500)\n'
    agent, _ = approved_agent(engine, big)
    with pytest.raises(RunFailed) as info:
        agent.start().result(timeout=10)
    assert "'big'" in info.value.error["message"] and "100" in info.value.error["message"]

    many = """
def run(event, step):
    for i in range(10):
        step.do("tick", tools.echo, i)
"""
    agent2, _ = approved_agent(engine, many, name="many")
    with pytest.raises(RunFailed) as info:
        agent2.start().result(timeout=10)
    assert info.value.error["type"] == "LimitExceeded" and "'tick'" in info.value.error["message"]

    waiting = 'def run(event, step):\n    return step.wait_for_event("w", type="t").payload\n'
    agent3, _ = approved_agent(engine, waiting, name="waits")
    run = agent3.start()
    with pytest.raises(LimitExceeded):
        run.send_event("t", "y" * 100)
    with pytest.raises(LimitExceeded):
        agent3.start(run_id="bad id with spaces")
    with pytest.raises(LimitExceeded):
        agent3.start(run_id="x" * 129)
    engine.close()


def test_tenant_scope(engine):
    alpha, plan_a = approved_agent(engine, 'def run(event, step):\n    return "a"\n', "alpha")
    beta, _plan_b = approved_agent(engine, 'def run(event, step):\n    return "b"\n', "beta")
    run_a = alpha.start()
    with pytest.raises(NotFound):
        beta.get_run(run_a.id)
    with pytest.raises(NotFound):
        beta.get_plan(plan_a.id)
    with pytest.raises(NotFound):
        beta.start(plan=plan_a)
    assert [r.id for r in beta.runs()] == []
    limited = engine.agent("limited", tools=["list_orders"], review="auto")
    with pytest.raises(PlanValidationError) as info:
        limited.submit_plan('def run(event, step):\n    step.do("r", tools.refund, 1)\n')
    assert "refund" in str(info.value)


def test_tools_cannot_be_called_outside_a_step(engine, ledger):
    source = """
def run(event, step):
    f = tools.refund
    return f(1)
"""
    agent = engine.agent("sneaky", tools=engine.tools.names(), review="auto")
    try:
        agent.submit_plan(source)
    except PlanValidationError:
        return  # refused at compile time: good
    with pytest.raises(RunFailed) as info:
        agent.start().result(timeout=10)
    assert "outside a step" in info.value.error["message"]
    assert calls(ledger, "refund") == []


def test_bad_tool_arguments_fail_the_step_without_retries(engine, ledger):
    source = """
def run(event, step):
    args = {"order_id": "not a number"}
    return step.do("refund", tools.refund, **args)
"""
    agent, _ = approved_agent(engine, source)
    with pytest.raises(RunFailed) as info:
        agent.start().result(timeout=10)
    assert "refund" in info.value.error["message"]
    assert calls(ledger, "refund") == []


def test_result_times_out_while_waiting(engine):
    agent, _ = approved_agent(
        engine, 'def run(event, step):\n    step.wait_for_event("w", type="never")\n'
    )
    run = agent.start()
    started = time.monotonic()
    with pytest.raises(RunTimeout):
        run.result(timeout=0.3)
    assert time.monotonic() - started < 2
    assert run.status().status == "waiting"


def test_a_newer_schema_gets_a_clear_error(db_url):
    from sqlalchemy import update

    from agentflow import Engine
    from agentflow.errors import SchemaVersionError
    from agentflow.store.tables import MetaRow

    Engine(db_url).close()
    from agentflow.store import Store

    store = Store(db_url)
    with store.engine.begin() as conn:
        conn.execute(update(MetaRow.__table__).values(value="999"))
    store.close()
    with pytest.raises(SchemaVersionError, match="999"):
        Engine(db_url)


def test_a_run_woken_early_keeps_its_retry_delay(engine, ledger):
    source = """
def run(event, step):
    return step.do("flaky", tools.flaky, "d", 1, retries={"limit": 2, "delay": "1 hour"})
"""
    agent, _ = approved_agent(engine, source)
    run = agent.start()
    engine.work()
    assert run.status().status == "sleeping"
    run.pause()
    run.resume()
    engine.work()
    status = run.status()
    assert status.status == "sleeping"
    assert status.steps[0].attempts == 1
    assert len(calls(ledger, "flaky")) == 1


def test_a_stopped_work_loop_claims_nothing_more(engine):
    import threading

    agent, _ = approved_agent(engine, "def run(event, step):\n    return 1\n")
    run = agent.start()
    stop = threading.Event()
    stop.set()
    assert engine.work(until_idle=False, stop=stop, concurrency=2) == 0
    assert run.status().status == "queued"


def test_postgres_leases_follow_the_database_clock(engine, db_url, monkeypatch):
    if not db_url.startswith("postgresql"):
        pytest.skip("one SQLite file lives on one machine, with one clock")
    agent, _ = approved_agent(engine, "def run(event, step):\n    return 1\n")
    run = agent.start()
    assert engine.store.claim_run(run.id, "worker-a", 30) is not None
    # Another machine whose clock runs an hour ahead must still see worker-a's lease as live.
    real_time = time.time
    monkeypatch.setattr("agentflow.store.leases.time.time", lambda: real_time() + 3600)
    assert engine.store.claim_run(run.id, "worker-b", 30) is None
    assert engine.store.claim_due_runs("worker-b", 30) == []
    assert engine.store.renew_leases("worker-a", [run.id], 30) == set()


def test_a_tool_that_calls_exit_fails_its_step_not_the_worker(engine):
    import sys

    @engine.tool(side_effects=False)
    def quitter() -> None:
        """Exit the process (a bug)."""
        sys.exit(3)

    source = """
def run(event, step):
    try:
        step.do("quit", tools.quitter, retries={"limit": 0})
    except StepFailed as failure:
        return failure.error_message
"""
    agent = engine.agent("quits", tools=["quitter"], review="auto")
    agent.submit_plan(source)
    assert "exit(3)" in agent.start().result(timeout=10)
