"""Runs woken together in sandboxes: the next run is claimed while the one before runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from agentflow import Engine
from tests.support.host import make_engine, read_ledger

SLEEP_THEN_LIST = """
def run(event, step):
    step.sleep_until("nap", event.params["at"])
    orders = step.do("after", tools.list_orders)
    return len(orders)
"""


def _engine(tmp_path: Path, name: str) -> Engine:
    return make_engine(f"sqlite:///{tmp_path / name}", isolation="process")


def test_runs_woken_together_run_once_each_and_complete(tmp_path, ledger):
    engine = _engine(tmp_path, "woken.db")
    agents = [engine.agent(f"a{k}", tools=["list_orders"], review="auto") for k in range(3)]
    for agent in agents:
        agent.submit_plan(SLEEP_THEN_LIST)
    deadline = time.time() + 3600
    runs = [agents[i % 3].start(params={"at": deadline}, run_id=f"r{i}") for i in range(12)]
    assert engine.work() == 12
    engine.store.shift_timers(3600)
    assert engine.work() == 12
    for run in runs:
        status = run.status()
        assert status.status == "complete"
        assert status.output == 2
        assert [(s.name, s.status) for s in status.steps] == [
            ("nap", "complete"),
            ("after", "complete"),
        ]
    assert len(read_ledger(ledger)) == 12
    rows = [engine.store.get_run(run.key) for run in runs]
    assert all(row.activations == 2 and row.lease_owner is None for row in rows)
    engine.close()


def test_a_stop_during_a_run_still_runs_the_one_claimed_ahead_and_gives_back_the_rest(
    tmp_path,
):
    engine = _engine(tmp_path, "stop.db")
    stop = threading.Event()

    @engine.tool(side_effects=False)
    def stop_worker() -> str:
        stop.set()
        return "stopped"

    agent = engine.agent("stopper", tools=["stop_worker"], review="auto")
    agent.submit_plan(
        "def run(event, step):\n"
        '    step.sleep_until("nap", event.params["at"])\n'
        '    if event.params["n"] == 0:\n'
        '        return step.do("stop", tools.stop_worker)\n'
        '    return event.params["n"]\n'
    )
    deadline = time.time() + 3600
    runs = [agent.start(params={"at": deadline + n, "n": n}, run_id=f"s{n}") for n in range(4)]
    engine.work()
    engine.store.shift_timers(3700)
    engine.work(until_idle=False, stop=stop)
    # s0 stopped the worker while s1, claimed ahead as s0 ran, waited: s1 ran too.
    assert [run.status().status for run in runs] == ["complete", "complete", "sleeping", "sleeping"]
    for run in runs[2:]:
        row = engine.store.get_run(run.key)
        assert row.lease_owner is None and row.activations == 1
    engine.work()
    assert [run.result(timeout=10) for run in runs] == ["stopped", 1, 2, 3]
    engine.close()
