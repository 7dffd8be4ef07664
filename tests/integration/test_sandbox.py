"""Plan code runs in sandbox processes: other processes, other uids, one agent each, real limits."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from agentflow import PlanLimits, RuntimeLimits
from agentflow.runtime.sandbox.channel import Channel
from agentflow.runtime.sandbox.pool import Sandbox, SandboxPool, SandboxSettings
from tests.support.host import make_engine, read_ledger

BENIGN = """
def run(event, step):
    orders = step.do("fetch", tools.list_orders, status="open")
    return {"orders": len(orders)}
"""

SPIN_IN_C = """
def run(event, step):
    left = ["x"]
    right = ["x"]
    for _ in range(60):
        left = [left, left]
        right = [right, right]
    return left == right
"""

TEN_GIGABYTES = """
def run(event, step):
    blob = "x" * (10 * 1024 * 1024 * 1024)
    return len(blob)
"""


def _proc_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def _engine(tmp_path: Path, **options: object):
    return make_engine(f"sqlite:///{tmp_path / 'sandbox.db'}", isolation="process", **options)


def test_plan_code_runs_in_another_process_and_under_another_uid(tmp_path):
    engine = _engine(tmp_path)
    agent = engine.agent("acme", tools=["list_orders"], review="auto")
    agent.submit_plan(BENIGN)
    run = agent.start()
    engine.work()
    assert run.result(timeout=10) == {"orders": 2}
    pool = engine.sandboxes
    assert pool is not None
    (pid,) = pool.served
    assert pid != os.getpid()
    if os.geteuid() == 0:
        assert pool.uids[pid] != 0
        assert _proc_uid(pid) == pool.uids[pid]
    engine.close()


def test_a_sandbox_process_never_serves_two_agents(tmp_path):
    engine = _engine(tmp_path)
    agents = [engine.agent(name, tools=["list_orders"], review="auto") for name in ("a", "b")]
    for agent in agents:
        agent.submit_plan(BENIGN)
    runs = [agent.start() for _ in range(3) for agent in agents]
    engine.work()
    assert all(run.result(timeout=10) == {"orders": 2} for run in runs)
    pool = engine.sandboxes
    assert pool is not None
    assert all(len(agents_served) == 1 for agents_served in pool.served.values())
    served = {next(iter(a)) for a in pool.served.values()}
    assert served == {"a", "b"}
    # Each agent's process was kept and reused for its later runs.
    assert len(pool.served) == 2
    engine.close()


def test_a_plan_spinning_in_c_is_killed_and_the_next_tenant_runs(tmp_path):
    engine = _engine(tmp_path, sandbox=SandboxSettings(cpu_seconds=1.0, stall_seconds=2.0))
    mallory = engine.agent("mallory", tools=["list_orders"], review="auto")
    alice = engine.agent("alice", tools=["list_orders"], review="auto")
    mallory.submit_plan(SPIN_IN_C)
    alice.submit_plan(BENIGN)
    spinning = mallory.start(run_id="spin")
    waiting = alice.start(run_id="behind")
    started = time.monotonic()
    engine.work()
    status = spinning.status()
    assert status.status == "errored"
    assert status.error["type"] == "SandboxLimitExceeded"
    assert "CPU time" in status.error["message"] or "without finishing" in status.error["message"]
    assert waiting.result(timeout=10) == {"orders": 2}
    assert time.monotonic() - started < 10
    engine.close()


def test_a_plan_allocating_ten_gigabytes_is_stopped_by_its_memory_limit(tmp_path):
    roomy = PlanLimits(max_sequence_length=10**12, max_allocated_items=10**12)
    engine = _engine(
        tmp_path, plan_limits=roomy, sandbox=SandboxSettings(memory_bytes=512 * 1024 * 1024)
    )
    mallory = engine.agent("hog", tools=["list_orders"], review="auto")
    alice = engine.agent("alice", tools=["list_orders"], review="auto")
    mallory.submit_plan(TEN_GIGABYTES)
    alice.submit_plan(BENIGN)
    hog = mallory.start(run_id="hog")
    waiting = alice.start(run_id="behind")
    engine.work()
    status = hog.status()
    assert status.status == "errored"
    assert status.error["type"] == "MemoryError"
    assert "RLIMIT_AS" in status.error["message"]
    assert waiting.result(timeout=10) == {"orders": 2}
    engine.close()


def test_a_sandbox_killed_from_outside_is_retried_and_the_run_completes(tmp_path, ledger):
    engine = _engine(tmp_path)
    agent = engine.agent("victim", tools=["list_orders", "slow"], review="auto")
    agent.submit_plan(
        """
def run(event, step):
    step.do("first", tools.list_orders)
    step.sleep("pause", 0.3)
    return step.do("second", tools.list_orders)
"""
    )
    run = agent.start()
    engine.work()
    pool = engine.sandboxes
    assert pool is not None
    (pid,) = pool.served
    os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while not run.status().done and time.monotonic() < deadline:
        engine.work()
        time.sleep(0.05)
    assert run.result(timeout=1) == [
        {"id": 1, "email": "ada@example.com", "status": "open"},
        {"id": 2, "email": "bob@example.com", "status": "open"},
    ]
    engine.close()


@pytest.mark.parametrize("reuse", [True, False])
def test_a_fresh_process_per_activation_also_works(tmp_path, reuse):
    engine = _engine(tmp_path, sandbox=SandboxSettings(reuse=reuse))
    agent = engine.agent("fresh", tools=["list_orders"], review="auto")
    agent.submit_plan(BENIGN)
    runs = [agent.start() for _ in range(3)]
    engine.work()
    assert all(run.result(timeout=10) == {"orders": 2} for run in runs)
    pool = engine.sandboxes
    assert pool is not None
    assert len(pool.served) == (1 if reuse else 3)
    engine.close()


def _sent_sources(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The plan sources sent to sandboxes from now on."""
    sent: list[str] = []
    send = Channel.send

    def spying(channel: Channel, message: dict[str, Any]) -> None:
        if message.get("op") == "activate" and "source" in message:
            sent.append(message["source"])
        send(channel, message)

    monkeypatch.setattr(Channel, "send", spying)
    return sent


def test_a_sandbox_process_is_sent_each_plan_source_once(tmp_path, monkeypatch):
    sent = _sent_sources(monkeypatch)
    engine = _engine(tmp_path)
    agent = engine.agent("once", tools=["list_orders"], review="auto")
    agent.submit_plan(BENIGN)
    runs = [agent.start() for _ in range(3)]
    engine.work()
    assert all(run.result(timeout=10) == {"orders": 2} for run in runs)
    again = BENIGN.replace("len(orders)", "len(orders) + 1")
    agent.submit_plan(again)
    later = [agent.start() for _ in range(2)]
    engine.work()
    assert all(run.result(timeout=10) == {"orders": 3} for run in later)
    pool = engine.sandboxes
    assert pool is not None
    assert len(pool.served) == 1
    assert sent == [BENIGN, again]
    engine.close()


def test_a_sandbox_without_the_plan_its_host_expected_asks_for_the_source(tmp_path, monkeypatch):
    sent = _sent_sources(monkeypatch)
    monkeypatch.setattr(Sandbox, "needs_source", lambda self, sha256: False)
    engine = _engine(tmp_path)
    agent = engine.agent("forgetful", tools=["list_orders"], review="auto")
    agent.submit_plan(BENIGN)
    runs = [agent.start() for _ in range(2)]
    engine.work()
    assert all(run.result(timeout=10) == {"orders": 2} for run in runs)
    assert sent == [BENIGN]  # asked for once; the process kept the plan for the second run
    engine.close()


TWO_LISTINGS = """
def run(event, step):
    first = step.do("first", tools.list_orders)
    second = step.do("second", tools.list_orders)
    return len(first) + len(second)
"""


def test_a_run_storing_more_than_max_run_bytes_fails_at_the_step_over_it(tmp_path):
    # One listing of two orders is about 130 bytes of JSON: the second does not fit.
    limits = RuntimeLimits(max_run_bytes=200)
    engine = _engine(tmp_path, limits=limits)
    agent = engine.agent("big", tools=["list_orders"], review="auto")
    agent.submit_plan(TWO_LISTINGS)
    run = agent.start()
    engine.work()
    status = run.status()
    assert status.status == "errored"
    assert "RuntimeLimits.max_run_bytes" in status.error["message"]
    steps = {step.name: step.status for step in status.steps}
    assert steps["first"] == "complete"
    assert steps.get("second") != "complete"
    engine.close()


def _ready_spare(pool: SandboxPool) -> int:
    deadline = time.monotonic() + 30
    while (spare := pool.spare) is None:
        assert time.monotonic() < deadline, "no spare process started"
        time.sleep(0.01)
    return spare


def test_the_spare_process_serves_no_agent_until_its_first_activation_dedicates_it():
    pool = SandboxPool(SandboxSettings())
    try:
        pool.warm()  # the zygote, then a spare process in the background
        spare = _ready_spare(pool)
        assert spare not in pool.served
        first = pool.checkout("a")
        assert first.pid == spare
        assert pool.served == {spare: {"a"}}
        pool.checkin(first, reusable=True)
        second = pool.checkout("b")  # a's idle process is a's alone: b gets another
        assert second.pid != spare
        assert pool.served[second.pid] == {"b"}
        pool.checkin(second, reusable=True)
        assert pool.checkout("a").pid == spare
    finally:
        pool.close()
    assert pool.spare is None


PAUSES_ITSELF = """
def run(event, step):
    asked = step.do("ask", tools.pause_me, event.params["me"])
    orders = step.do("after", tools.list_orders)
    return [asked, len(orders)]
"""


@pytest.mark.parametrize("isolation", ["process", "inline"])
def test_a_pause_asked_during_a_step_stops_the_run_before_the_next(tmp_path, ledger, isolation):
    # In a sandbox the tool's reply goes out before its checkpoint is written; the pause that
    # write reads back must still stop the run before the next step does anything.
    engine = make_engine(f"sqlite:///{tmp_path / 'pause.db'}", isolation=isolation)

    @engine.tool(side_effects=True)
    def pause_me(run_id: str) -> str:
        engine.get_run(run_id).pause()
        return "asked"

    agent = engine.agent("pauser", tools=["pause_me", "list_orders"], review="auto")
    agent.submit_plan(PAUSES_ITSELF)
    run = agent.start(params={"me": "r1"}, run_id="r1")
    engine.work()
    status = run.status()
    assert status.status == "paused"
    assert [(s.name, s.status) for s in status.steps] == [("ask", "complete")]
    assert read_ledger(ledger) == []
    run.resume()
    engine.work()
    assert run.result(timeout=10) == ["asked", 2]
    assert [call["tool"] for call in read_ledger(ledger)] == ["list_orders"]
    engine.close()
