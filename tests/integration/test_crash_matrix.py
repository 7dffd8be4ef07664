"""The crash matrix, with plans in sandbox processes: SIGKILL the worker, and separately the
sandbox, at every point of a ten-step run; then 200 events sent at once to 200 waiting runs.

Each point is its own run of one agent's plan, all in one store: worker processes are started
one after another until every run is complete, each life ending where a run's point kills it.
Afterwards every run must have its full output, every completed step must have run exactly once,
and only the step a worker's kill cut short may have run twice (a sandbox's death repeats
nothing: the worker checkpoints the tool's result itself).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agentflow import Engine
from tests.conftest import spawn
from tests.support.host import make_engine, read_ledger

pytestmark = pytest.mark.slow

TEN_STEPS = """
def run(event, step):
    done = []
    for index in range(10):
        done.append(step.do(f"step-{index}", tools.point, event.params["label"], index,
                            event.params["kill"]))
    return done
"""

# "before:N": after step N-1's checkpoint, as step N starts, before its effect.
# "inside:N": after step N's effect, before its result is checkpointed.
POINTS = [f"{when}:{index}" for index in range(10) for when in ("before", "inside")]
FAST_RECOVERY = {"AGENTFLOW_TEST_LEASE": "0.5", "AGENTFLOW_TEST_POLL": "0.02"}


def _start_runs(engine: Engine, target: str) -> dict[str, str]:
    agent = engine.agent("matrix", tools=["point"], review="auto")
    agent.submit_plan(TEN_STEPS)
    ids = {}
    for point in POINTS:
        label = f"{target}:{point}"
        ids[point] = agent.start(params={"label": label, "kill": label}, run_id=label).id
    return ids


def _all_done(engine: Engine, ids: dict[str, str]) -> bool:
    return all(engine.get_run(run_id).status().done for run_id in ids.values())


def _drive_with_workers(engine: Engine, ids: dict[str, str], deadline: float) -> list[int]:
    """Start worker processes one after another until every run is done; their exit codes."""
    exits: list[int] = []
    while not _all_done(engine, ids):
        assert time.monotonic() < deadline, f"runs still not done after {len(exits)} workers"
        worker = spawn(engine.url, "worker", env=FAST_RECOVERY)
        while worker.poll() is None and not _all_done(engine, ids):
            assert time.monotonic() < deadline, "runs still not done"
            time.sleep(0.05)
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        try:
            worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.communicate()
        exits.append(worker.returncode)
    return exits


def _check_runs(engine: Engine, ids: dict[str, str], ledger: Path, target: str) -> None:
    entries = read_ledger(ledger)
    kills = Counter(e["label"] for e in entries if e["tool"] == "kill")
    effects = Counter((e["label"], e["index"]) for e in entries if e["tool"] == "point")
    for point, run_id in ids.items():
        label = f"{target}:{point}"
        when, at = point.split(":")
        killed_step = int(at)
        status = engine.get_run(run_id).status()
        assert status.status == "complete", (point, status.status, status.error)
        assert status.output == list(range(10)), point
        assert kills[label] == 1, f"{label}: the point was reached {kills[label]} times"
        for index in range(10):
            step = status.steps[index]
            assert step.status == "complete", (label, index, step.status)
            if index != killed_step:
                assert effects[label, index] == 1, f"{label}: step {index} ran again"
                assert step.attempts == 1, (label, index, step.attempts)
        killed = status.steps[killed_step]
        if target == "sandbox":
            # The tool runs in the worker, which checkpoints a whole-step tool call's result
            # itself: the sandbox's death costs the step neither an attempt nor a repeat.
            assert killed.attempts == 1, (label, killed)
            assert effects[label, killed_step] == 1, (label, effects[label, killed_step])
            continue
        # The attempt the kill cut short counts; only its step may repeat its effect.
        assert killed.attempts == 2, (label, killed)
        repeated = 1 if when == "before" else 2
        assert effects[label, killed_step] == repeated, (label, effects[label, killed_step])


def test_sigkill_the_worker_at_every_point_of_a_ten_step_run(db_url, ledger):
    engine = make_engine(db_url)
    ids = _start_runs(engine, "worker")
    exits = _drive_with_workers(engine, ids, deadline=time.monotonic() + 240)
    assert exits.count(-signal.SIGKILL) == len(POINTS), exits
    _check_runs(engine, ids, ledger, "worker")
    engine.close()


def test_sigkill_the_sandbox_at_every_point_of_a_ten_step_run(db_url, ledger):
    engine = make_engine(db_url)
    ids = _start_runs(engine, "sandbox")
    exits = _drive_with_workers(engine, ids, deadline=time.monotonic() + 120)
    assert exits == [0], "a sandbox's death must never take its worker down"
    _check_runs(engine, ids, ledger, "sandbox")
    engine.close()


WAIT_FOR_EVENT = """
def run(event, step):
    got = step.wait_for_event("go", type="go", timeout="1 hour")
    return step.do("answer", tools.echo, got.payload["n"] + event.params["n"])
"""


def test_two_hundred_events_sent_at_once_wake_two_hundred_waiting_runs(db_url, ledger):
    engine = make_engine(db_url)
    agent = engine.agent("waiter", tools=["echo"], review="auto")
    agent.submit_plan(WAIT_FOR_EVENT)
    runs = [agent.start(params={"n": n}) for n in range(200)]
    worker = spawn(db_url, "worker", env=FAST_RECOVERY)
    try:
        deadline = time.monotonic() + 60
        while not all(run.status().status == "waiting" for run in runs):
            assert time.monotonic() < deadline, "the runs never all reached their wait"
            time.sleep(0.1)
        with ThreadPoolExecutor(max_workers=16) as senders:
            list(senders.map(lambda run: run.send_event("go", {"n": 1000}), runs))
        results = [run.result(timeout=60) for run in runs]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)
    assert results == [1000 + n for n in range(200)]
    echoed = sorted(e["value"] for e in read_ledger(ledger) if e["tool"] == "echo")
    assert echoed == [1000 + n for n in range(200)], "each woken run's step ran exactly once"
    engine.close()
