"""Runs that outlive their process: resumed elsewhere, after SIGKILL, by several workers."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from collections import defaultdict

import pytest

from tests.conftest import run_host, spawn
from tests.support.host import make_engine, read_ledger

pytestmark = pytest.mark.slow


def _approved(engine, source: str, name: str = "acme"):
    agent = engine.agent(name, tools=engine.tools.names(), review="auto")
    agent.submit_plan(source)
    return agent


def _wait_for(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_sleep_and_a_wait_resume_in_fresh_processes(engine, db_url, ledger):
    source = """
def run(event, step):
    first = step.do("first", tools.echo, event.params["n"])
    step.sleep("nap", 0.5)
    answer = step.wait_for_event("approval", type="approve", timeout="1 hour")
    return first + answer.payload["extra"]
"""
    agent = _approved(engine, source)
    run = agent.start(params={"n": 40})
    engine.work()
    assert run.status().status == "sleeping"
    engine.close()

    time.sleep(0.5)
    run_host(db_url, "work")
    run_host(db_url, "send", run.id, "approve", json.dumps({"extra": 2}))
    out = run_host(db_url, "result", run.id, "20")
    assert json.loads(out) == 42
    echoes = [e for e in read_ledger(ledger) if e["tool"] == "echo"]
    assert len(echoes) == 1


def test_sigkill_mid_step_then_another_worker_completes_the_run(engine, db_url, ledger):
    source = """
def run(event, step):
    a = step.do("one", tools.echo, 1)
    b = step.do("two", tools.echo, 2)
    c = step.do("slow", tools.slow, "three", 3)
    d = step.do("four", tools.echo, 4)
    return [a, b, c, d]
"""
    agent = _approved(engine, source)
    run = agent.start()
    victim = spawn(db_url, "worker")
    _wait_for(lambda: any(e["tool"] == "slow" for e in read_ledger(ledger)), what="the slow step")
    in_flight = run.status().steps[2]
    assert (in_flight.name, in_flight.status, in_flight.attempts) == ("slow", "running", 1)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=10)

    # The killed worker's lease lapses (1 s here); a fresh process resumes the run.
    out = run_host(db_url, "result", run.id, "60", timeout=90)
    assert json.loads(out) == [1, 2, "three", 4]
    entries = read_ledger(ledger)
    echoed = [e["value"] for e in entries if e["tool"] == "echo"]
    assert echoed == [1, 2, 4], "checkpointed steps ran exactly once"
    starts = [e for e in entries if e["tool"] == "slow" and e["phase"] == "start"]
    assert len(starts) == 2 and starts[0]["pid"] == victim.pid
    status = run.status()
    assert [s.status for s in status.steps] == ["complete"] * 4
    assert status.steps[2].attempts == 2, "the attempt cut short by SIGKILL counts"
    assert [s.attempts for s in status.steps[:2]] == [1, 1]


def test_two_workers_on_one_sqlite_file_never_run_a_run_at_once(engine, db_url, ledger):
    source = """
def run(event, step):
    for i in range(3):
        step.do("work", tools.slow, event.params["label"] + ":" + str(i), 0.02)
        step.sleep("breathe", 0.01)
    return event.params["label"]
"""
    agent = _approved(engine, source)
    # A lease long enough that a worker slowed down by a busy machine never loses one here:
    # this test is about claims excluding each other, not about lease expiry.
    workers = [spawn(db_url, "worker", env={"AGENTFLOW_TEST_LEASE": "10"}) for _ in range(2)]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        # Only the two workers drive the runs: this process just watches.
        runs = [agent.start(params={"label": f"r{i}"}) for i in range(8)]
        for run in runs:
            _wait_for(lambda run=run: run.status().done, timeout=60, what=f"run {run.id}")
            assert run.status().output == run.status().params["label"]
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.communicate(timeout=20)
            assert worker.returncode == 0, "workers stop cleanly on SIGTERM"
    intervals: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    starts: dict[str, dict] = {}
    for entry in read_ledger(ledger):
        if entry["tool"] != "slow":
            continue
        if entry["phase"] == "start":
            assert entry["label"] not in starts, f"step {entry['label']} ran twice"
            starts[entry["label"]] = entry
        else:
            begin = starts[entry["label"]]
            run_label = entry["label"].split(":")[0]
            intervals[run_label].append((begin["t"], entry["t"], begin["pid"]))
    assert len(starts) == 24
    for spans in intervals.values():
        spans.sort()
        for (_s1, e1, _p1), (s2, _e2, _p2) in itertools.pairwise(spans):
            assert s2 >= e1, "one run's steps never overlap"
    pids = {pid for spans in intervals.values() for _s, _e, pid in spans}
    assert pids <= {worker.pid for worker in workers}


def test_worker_wakes_a_due_sleep_promptly(db_url, ledger):
    source = """
def run(event, step):
    step.sleep("short", 0.3)
    return step.now().timestamp()
"""
    # This process only watches (inline, so that if it drives the run it starts no sandboxes);
    # the worker under test runs the plan in its sandbox.
    engine = make_engine(db_url, isolation="inline")
    agent = _approved(engine, source)
    worker = spawn(db_url, "worker")
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        run = agent.start()
        finished = run.result(timeout=20)
        sleep_step = run.status().steps[0]
        assert sleep_step.wake_at is not None
        lateness = finished - sleep_step.wake_at.timestamp()
        assert lateness < 0.5
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=20)
        engine.close()


def test_a_worker_with_concurrency_runs_several_runs_at_once(engine, ledger):
    import threading

    source = (
        'def run(event, step):\n    return step.do("work", tools.slow, event.params["l"], 0.4)\n'
    )
    agent = _approved(engine, source)
    runs = [agent.start(params={"l": f"c{i}"}) for i in range(3)]
    stop = threading.Event()
    worker = threading.Thread(
        target=engine.work, kwargs={"until_idle": False, "stop": stop, "concurrency": 3}
    )
    worker.start()
    try:
        for run in runs:
            assert run.result(timeout=30) == run.status().params["l"]
    finally:
        stop.set()
        engine.notify()
        worker.join(timeout=10)
    spans = {}
    for entry in read_ledger(ledger):
        if entry["tool"] == "slow":
            spans.setdefault(entry["label"], {})[entry["phase"]] = entry["t"]
    latest_start = max(span["start"] for span in spans.values())
    earliest_end = min(span["end"] for span in spans.values())
    assert latest_start < earliest_end, "the three slow steps overlapped in time"


def test_postgres_workers_wake_on_notify_not_on_polling(engine, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; one SQLite machine polls")
    agent = _approved(
        engine, 'def run(event, step):\n    return step.wait_for_event("w", type="go").payload\n'
    )
    # Polling only every 30 s: only a notification can wake this worker within the waits below.
    worker = spawn(db_url, "worker", env={"AGENTFLOW_TEST_POLL": "30"})
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        run = agent.start()
        _wait_for(lambda: run.status().status == "waiting", timeout=10, what="the claim")
        run.send_event("go", 7)
        _wait_for(lambda: run.status().done, timeout=10, what="the event's wake-up")
        assert run.status().output == 7
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=20)


def test_a_step_that_kills_its_worker_every_time_fails_after_its_retries(engine, db_url, ledger):
    source = """
def run(event, step):
    try:
        step.do("crash", tools.crash, retries={"limit": 1, "delay": 0})
    except StepFailed as failure:
        return failure.error_type
"""
    agent = _approved(engine, source)
    run = agent.start()
    exits = []
    for _ in range(5):
        proc = spawn(db_url, "result", run.id, "30")
        out, _err = proc.communicate(timeout=60)
        exits.append(proc.returncode)
        if proc.returncode == 0:
            assert json.loads(out) == "WorkerLost"
            break
    assert exits == [-signal.SIGKILL, -signal.SIGKILL, 0]
    crash = run.status().steps[0]
    assert (crash.status, crash.attempts) == ("failed", 2)
    assert len([e for e in read_ledger(ledger) if e["tool"] == "crash"]) == 2


@pytest.mark.parametrize("recover_with", ["result", "worker"])
def test_a_worker_killed_on_this_host_is_noticed_without_waiting_for_its_lease(
    engine, db_url, ledger, recover_with
):
    source = """
def run(event, step):
    a = step.do("one", tools.echo, 1)
    b = step.do("slow", tools.slow, "two", 3)
    return [a, b]
"""
    agent = _approved(engine, source)
    run = agent.start()
    long_lease = {"AGENTFLOW_TEST_LEASE": "120"}
    victim = spawn(db_url, "worker", env=long_lease)
    _wait_for(lambda: any(e["tool"] == "slow" for e in read_ledger(ledger)), what="the slow step")
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=10)

    started = time.monotonic()
    if recover_with == "result":
        out = json.loads(run_host(db_url, "result", run.id, "60", timeout=90))
    else:
        rescuer = spawn(db_url, "worker", env=long_lease)
        try:
            out = run.result(timeout=60)
        finally:
            rescuer.kill()
            rescuer.communicate(timeout=10)
    # Far sooner than the 120 s lease: the dead worker's pid is gone from this host.
    assert time.monotonic() - started < 60
    assert out == [1, "two"]
    assert [e["value"] for e in read_ledger(ledger) if e["tool"] == "echo"] == [1]
    assert run.status().steps[1].attempts == 2, "the attempt cut short by SIGKILL counts"


def test_a_sqlite_worker_notices_another_processes_event_without_polling(engine, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL workers wake on NOTIFY (the test above)")
    agent = _approved(
        engine, 'def run(event, step):\n    return step.wait_for_event("w", type="go").payload\n'
    )
    # Polling only every 30 s: only the file's data version can wake this worker in time.
    worker = spawn(db_url, "worker", env={"AGENTFLOW_TEST_POLL": "30"})
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        run = agent.start()
        _wait_for(lambda: run.status().status == "waiting", timeout=10, what="the claim")
        sent = time.monotonic()
        run.send_event("go", 7)
        _wait_for(lambda: run.status().done, timeout=10, what="the event's wake-up")
        assert time.monotonic() - sent < 10
        assert run.status().output == 7
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=20)


def test_a_postgres_worker_killed_on_another_host_is_taken_over_through_its_session(
    engine, db_url, ledger
):
    if not db_url.startswith("postgresql"):
        pytest.skip("across hosts, only PostgreSQL sessions tell a dead worker from a slow one")
    source = """
def run(event, step):
    a = step.do("one", tools.echo, 1)
    b = step.do("slow", tools.slow, "two", 3)
    return [a, b]
"""
    agent = _approved(engine, source)
    # A live worker on another connection, polling at the default interval. Leases far longer
    # than the test: only the session lock can tell the victim is gone, and its pid cannot,
    # since it claims to run on another host.
    rescuer = spawn(
        db_url, "worker", env={"AGENTFLOW_TEST_LEASE": "120", "AGENTFLOW_TEST_POLL": "0.5"}
    )
    victim = None
    try:
        assert rescuer.stdout is not None
        assert rescuer.stdout.readline().strip() == "ready"
        os.kill(rescuer.pid, signal.SIGSTOP)  # so that the victim, not the rescuer, claims the run
        run = agent.start()
        victim = spawn(
            db_url,
            "worker",
            env={"AGENTFLOW_TEST_LEASE": "120", "AGENTFLOW_TEST_HOSTNAME": "elsewhere"},
        )
        _wait_for(lambda: any(e["tool"] == "slow" for e in read_ledger(ledger)), what="the step")
        os.kill(rescuer.pid, signal.SIGCONT)
        time.sleep(0.5)  # the rescuer finds the run leased to a live worker, and idles
        assert not [e for e in read_ledger(ledger) if e.get("phase") == "end"], "still in the step"
        killed_at = time.time()
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=10)
        _wait_for(lambda: run.status().done, timeout=30, what="the takeover")
    finally:
        os.kill(rescuer.pid, signal.SIGCONT)
        rescuer.send_signal(signal.SIGTERM)
        rescuer.communicate(timeout=20)
        if victim is not None and victim.poll() is None:
            victim.kill()
            victim.communicate(timeout=10)
    starts = [e for e in read_ledger(ledger) if e["tool"] == "slow" and e["phase"] == "start"]
    assert [e["pid"] for e in starts] == [victim.pid, rescuer.pid]
    takeover = starts[1]["t"] - killed_at
    print(f"PostgreSQL takeover: kill -> step started again elsewhere in {takeover * 1000:.0f} ms")
    assert takeover < 3.0, f"taken over {takeover:.2f} s after the kill; the lease is 120 s"
    assert run.status().output == [1, "two"]
    assert [e["value"] for e in read_ledger(ledger) if e["tool"] == "echo"] == [1]
    assert run.status().steps[1].attempts == 2, "the attempt cut short by SIGKILL counts"
