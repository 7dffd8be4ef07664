"""agentflow's side of bench/compare.py (runs with the project's own venv)."""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import pg

from agentflow import Engine, Run

SCRIPT = str(Path(__file__).resolve())
ISOLATIONS = ("inline", "process")
EVENT_PLAN = (
    "def run(event, step):\n"
    '    step.wait_for_event("w", type="go", timeout="1 hour")\n'
    '    return step.do("stamp", tools.stamp)\n'
)


def sleep_plan(seconds: float) -> str:
    return f'def run(event, step):\n    step.sleep("nap", {seconds})\n    return 1\n'


CRASH_PLAN = (
    "def run(event, step):\n"
    '    step.do("a", tools.noop, 1)\n'
    '    step.do("b", tools.block, event.params["id"])\n'
    "    return 1\n"
)


def durability(sync: str) -> str:
    return "full" if sync == "FULL" else "normal"


def make_engine(
    directory: Path, name: str, sync: str, isolation: str = "process", lease_seconds: float = 5.0
) -> Engine:
    url = name if "://" in name else f"sqlite:///{directory}/{name}.db"
    engine = Engine(
        url, durability=durability(sync), isolation=isolation, lease_seconds=lease_seconds
    )

    @engine.tool(side_effects=False)
    def noop(i: int) -> int:
        return i

    @engine.tool(side_effects=False)
    def stamp() -> float:
        return time.time()

    @engine.tool(side_effects=False)
    def block(run_id: str) -> int:
        common.block_if_crashing(directory, run_id)
        return 2

    return engine


def steps_plan(count: int) -> str:
    return (
        "def run(event, step):\n"
        f"    for i in range({count}):\n"
        '        step.do("s", tools.noop, i)\n'
        "    return 1\n"
    )


def finish(engine: Engine, run: Run) -> None:
    engine.work()
    run.result(timeout=120)


def in_process(args: Any, measure: str) -> list[dict[str, Any]]:
    """Per-step overhead or one-step runs, inline and process isolation, trials alternating."""
    sync = common.synchronous_of(measure)
    steps = 1 if measure == "one-step" else args.steps
    engines = {iso: make_engine(args.dir, f"{measure}-{iso}", sync, iso) for iso in ISOLATIONS}
    agents = {}
    for iso, engine in engines.items():
        agents[iso] = engine.agent("bench", tools=["noop"], review="auto")
        agents[iso].submit_plan(steps_plan(steps))
        if engine.sandboxes is not None:
            engine.sandboxes.warm()
        finish(engine, agents[iso].start())  # warm-up
    samples: dict[str, list[float]] = {iso: [] for iso in ISOLATIONS}
    for _ in range(args.count):
        for iso, engine in engines.items():
            agent = agents[iso]
            samples[iso].append(timed_run(engine, agent) / steps)
    where = "in process (engine.work in the caller's thread)"
    rows = [
        common.row(
            f"isolation={iso}",
            f"{common.sqlite_setting(sync)} (durability={durability(sync)}), {where} "
            + common.observed(common.sqlalchemy_query(engines[iso].store.engine)),
            samples[iso],
        )
        for iso in ISOLATIONS
    ]
    for engine in engines.values():
        engine.close()
    return rows


def timed_run(engine: Engine, agent: Any) -> float:
    started = time.perf_counter()
    run = agent.start()
    finish(engine, run)
    return time.perf_counter() - started


def crash(args: Any) -> None:
    engine = make_engine(args.dir, "recovery", args.sync)
    agent = engine.agent("bench", tools=["noop", "block"], review="auto")
    agent.submit_plan(CRASH_PLAN)
    agent.start(params={"id": args.run_id}, run_id=args.run_id).result(timeout=3600)


def recover(args: Any) -> None:
    engine = make_engine(args.dir, "recovery", args.sync)
    output = engine.get_run(args.run_id).result(timeout=120)
    print(output, flush=True)
    engine.close()


def worker(args: Any) -> None:
    engine = make_engine(args.dir, args.db, args.sync)
    if args.run_id:  # a worker of the PostgreSQL measure: ready, then wait for the start signal
        if engine.sandboxes is not None:
            engine.sandboxes.warm()
        common.touch(args.dir / f"ready-{args.run_id}")
        common.wait_for_file(args.dir / "go", timeout=600)
    engine.work(until_idle=False)


def event(args: Any) -> list[float]:
    engine = make_engine(args.dir, "event", args.sync)
    agent = engine.agent("bench", tools=["stamp"], review="auto")
    agent.submit_plan(EVENT_PLAN)
    process = common.spawn(SCRIPT, "worker", args, "--db", "event")
    samples = []
    try:
        for _ in range(args.count + 1):
            run = agent.start()
            wait_status(run, "waiting")
            sent = time.time()
            run.send_event("go", None)
            status = wait_status(run, "complete")
            samples.append(float(status.output) - sent)
    finally:
        common.kill_group(process)
        engine.close()
    return samples[1:]


def wait_status(run: Run, wanted: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = run.status()
        if status.status == wanted:
            return status
        time.sleep(0.005)
    raise TimeoutError(f"run {run.id} never became {wanted}")


def sleep(args: Any) -> list[float]:
    engine = make_engine(args.dir, "sleep", args.sync)
    agent = engine.agent("bench", review="auto")
    agent.submit_plan(sleep_plan(common.SLEEP_SECONDS))
    stop = threading.Event()
    thread = threading.Thread(target=engine.work, kwargs={"until_idle": False, "stop": stop})
    thread.start()
    try:
        runs = []
        for _ in range(args.count):
            runs.append(agent.start())
            time.sleep(0.1)
        samples = []
        for run in runs:
            samples.append(lateness(wait_status(run, "complete", 30)))
    finally:
        stop.set()
        engine.notify()
        thread.join()
        engine.close()
    return samples


def lateness(status: Any) -> float:
    nap = status.steps[0]
    return float(nap.ended_at.timestamp() - nap.wake_at.timestamp())


def sleep_after_crash(args: Any) -> list[float]:
    engine = make_engine(args.dir, "sleep-crash", args.sync)
    agent = engine.agent("bench", review="auto")
    agent.submit_plan(sleep_plan(common.CRASH_SLEEP_SECONDS))
    samples = []
    try:
        for _ in range(args.count):
            run = agent.start()
            victim = common.spawn(SCRIPT, "worker", args, "--db", "sleep-crash")
            wait_status(run, "sleeping")
            time.sleep(common.KILL_AFTER)
            common.kill_group(victim)
            rescuer = common.spawn(SCRIPT, "worker", args, "--db", "sleep-crash")
            try:
                samples.append(lateness(wait_status(run, "complete", 60)))
            finally:
                common.kill_group(rescuer)
    finally:
        engine.close()
    return samples


MANY_PLAN = 'def run(event, step):\n    step.sleep_until("nap", event.params["at"])\n    return 1\n'


def count(engine: Engine, status: str) -> int:
    """The many agent's runs in a status (engine.runs lists at most 1,000)."""
    return len(engine.store.list_runs("many", status, limit=1_000_000))


def many_sleeps(args: Any) -> list[dict[str, Any]]:
    """N runs sleep until one common deadline in one worker process.

    Memory, then wake-up rate. The deadline leaves 1.2 times the time a pilot of noop runs
    predicts for putting N to sleep.
    """
    engine = make_engine(args.dir, "many", args.sync)
    pilot = engine.agent("pilot", tools=["noop"], review="auto")
    pilot.submit_plan(steps_plan(1))
    agent = engine.agent("many", review="auto")
    agent.submit_plan(MANY_PLAN)
    worker = common.spawn(SCRIPT, "worker", args, "--db", "many")
    try:
        wait_status(pilot.start(), "complete")  # the worker is up
        pilot_runs = [pilot.start() for _ in range(50)]
        started = time.time()
        for run in pilot_runs:
            wait_status(run, "complete")
        before = common.rss_kib(common.group_pids(worker.pid))
        per_run = (time.time() - started) / len(pilot_runs)
        deadline = time.time() + 1.2 * per_run * args.count + 5
        print(
            f"pilot: {per_run * 1000:.1f} ms/run; deadline in {deadline - time.time():.0f} s",
            file=sys.stderr,
        )
        started = time.time()
        for _ in range(args.count):
            agent.start(params={"at": deadline})
        while count(engine, "sleeping") < args.count and time.time() < deadline:
            time.sleep(1.0)
        asleep_at = time.time()
        asleep = count(engine, "sleeping")
        after = common.rss_kib(common.group_pids(worker.pid))
        time.sleep(max(0.0, deadline - time.time()))
        while count(engine, "complete") < args.count:
            time.sleep(1.0)
        # The last run's own end, not the poll that saw it (up to 1 s later: 10 % of the rate).
        done = max(run.ended_at or 0.0 for run in engine.store.list_runs("many", limit=10**6))
    finally:
        common.kill_group(worker)
        engine.close()
    return common.many_rows(args.count, asleep, before, after, asleep_at - started, done - deadline)


TAKEOVER_PLAN = (
    "def run(event, step):\n"
    '    step.do("a", tools.noop, 1)\n'
    '    step.do("b", tools.block, event.params["id"])\n'
    '    return step.do("c", tools.stamp)\n'
)


def takeover(args: Any) -> list[float]:
    """PostgreSQL: a worker SIGKILLed inside a step; a live worker on another connection.

    The victim's owner id names another host, so its pid tells nothing and its lease (120 s)
    is far off: only its database session, whose advisory lock the server frees when the
    connection dies, says it is gone. One sample: SIGKILL -> the run's last step has run in the
    live worker (its timestamp), and the run completes.
    """
    samples = []
    with pg.database() as url:
        engine = make_engine(args.dir, url, args.sync)
        agent = engine.agent("takeover", tools=["noop", "block", "stamp"], review="auto")
        agent.submit_plan(TAKEOVER_PLAN)
        rescuer = common.spawn(SCRIPT, "pg-rescuer", args, "--db", url, "--run-id", "rescuer")
        try:
            common.wait_for_file(args.dir / "ready-rescuer")
            for index in range(args.count):
                run_id = f"takeover-{index}"
                # The rescuer is stopped while the victim claims the run, so the victim has it.
                os.kill(rescuer.pid, signal.SIGSTOP)
                run = agent.start(params={"id": run_id}, run_id=run_id)
                victim = common.spawn(SCRIPT, "pg-victim", args, "--db", url, crashing=True)
                common.wait_for_file(args.dir / f"blocked-{run_id}")
                os.kill(rescuer.pid, signal.SIGCONT)
                # The rescuer saw the run leased to a live worker and idles; the kill falls at a
                # random point of its poll interval.
                time.sleep(0.7 + random.random() * 0.5)
                killed = time.time()
                common.kill_group(victim)
                status = wait_status(run, "complete", 60)
                samples.append(float(status.output) - killed)
        finally:
            common.kill_group(rescuer)
            engine.close()
    return samples


def takeover_rows(args: Any) -> list[dict[str, Any]]:
    how = (
        "PostgreSQL, durability=normal (synchronous_commit=off), isolation=process; a worker "
        "process whose owner id names another host (lease_seconds=120) is SIGKILLed inside "
        "a step; a live worker process on another connection (poll_interval=0.5 default) "
        "finds its session lock free; sample = SIGKILL -> the run's last step ran there"
    )
    return [common.row("session lock", how, takeover(args))]


def pg_worker(args: Any, victim: bool) -> None:
    """A worker of the takeover measure (the victim poses as a worker on another host)."""
    if victim:
        import socket

        socket.gethostname = lambda: "elsewhere"
    engine = make_engine(args.dir, args.db, args.sync, lease_seconds=120.0)
    if engine.sandboxes is not None:
        engine.sandboxes.warm()
    if args.run_id:
        common.touch(args.dir / f"ready-{args.run_id}")
    engine.work(until_idle=False)


WORKERS = (1, 2, 4)
POSTGRES_STEPS = 10


def postgres(args: Any) -> list[dict[str, Any]]:
    """N runs of 10 steps drained by 1, 2 and 4 worker processes on a fresh PostgreSQL database.

    The runs are created first; the workers, started and warmed, begin together on a signal.
    """
    samples: dict[int, list[float]] = {}
    for workers in WORKERS:
        with pg.database() as url:
            samples[workers] = [drain(args, url, workers)]
    setting = (
        f"PostgreSQL, durability={durability(args.sync)} (synchronous_commit="
        f"{'on' if args.sync == 'FULL' else 'off'}), isolation=process, {args.count} runs of "
        f"{POSTGRES_STEPS} steps created before the workers start; throughput = runs / "
        "(last completion - start signal), completions polled every 0.1 s"
    )
    return [common.row(f"{w} worker process(es), runs/s", setting, samples[w]) for w in WORKERS]


def drain(args: Any, url: str, workers: int) -> float:
    directory = args.dir / f"pg-{workers}"
    directory.mkdir()
    engine = make_engine(directory, url, args.sync)
    agent = engine.agent("pg", tools=["noop"], review="auto")
    agent.submit_plan(steps_plan(POSTGRES_STEPS))
    for _ in range(args.count):
        agent.start()
    worker_args = common.parse([*sys.argv[1:2], "--dir", str(directory), "--sync", args.sync])
    processes = [
        common.spawn(SCRIPT, "worker", worker_args, "--db", url, "--run-id", str(index))
        for index in range(workers)
    ]
    try:
        for index in range(workers):
            common.wait_for_file(directory / f"ready-{index}")
        started = time.time()
        common.touch(directory / "go")
        while len(engine.runs(status="complete", agent_id="pg")) < args.count:
            time.sleep(0.1)
        elapsed = time.time() - started
    finally:
        for process in processes:
            common.kill_group(process)
        engine.close()
    return args.count / elapsed


def main() -> None:
    args = common.parse()
    role = args.role
    roles = {
        "crash": crash,
        "recover": recover,
        "worker": worker,
        "pg-victim": lambda args: pg_worker(args, victim=True),
        "pg-rescuer": lambda args: pg_worker(args, victim=False),
    }
    if role in roles:
        roles[role](args)
        return
    if role in ("postgres", "pg-takeover"):
        common.emit(postgres(args) if role == "postgres" else takeover_rows(args))
        return
    setting = common.sqlite_setting(args.sync) + f" (durability={durability(args.sync)})"
    if role in ("step-full", "step-normal", "one-step"):
        common.emit(in_process(args, role))
    elif role == "recovery":
        samples = common.measure_recovery(SCRIPT, args, args.count)
        how = (
            "isolation=process, lease_seconds=5 (default; a dead worker on the same host is "
            "noticed by its pid, without waiting for its lease): "
            "a fresh process's engine.get_run(id).result()"
        )
        common.emit([common.row("default", f"{setting}, {how}", samples)])
    elif role == "event":
        how = "worker process (poll_interval=0.5 default), sender in another process"
        common.emit([common.row("default", f"{setting}, {how}", event(args))])
    elif role == "sleep":
        how = "live worker thread in process; wake = nap step's ended_at - wake_at"
        common.emit([common.row("default", f"{setting}, {how}", sleep(args))])
    elif role == "many-sleeps":
        how = (
            f"{setting}, one worker process (isolation=process: RSS summed over its sandboxes), "
            "runs started from another process; sleeping runs counted every 1 s; "
            "the wake-up ends at the last run's own ended_at"
        )
        rows = many_sleeps(args)
        for item in rows:
            item["setting"] = f"{item['setting']}; {how}".lstrip("; ")
        common.emit(rows)
    elif role == "sleep-crash":
        how = (
            f"worker process SIGKILLed {common.KILL_AFTER} s into a "
            f"{common.CRASH_SLEEP_SECONDS:g} s sleep, fresh worker process started at once"
        )
        common.emit([common.row("default", f"{setting}, {how}", sleep_after_crash(args))])


if __name__ == "__main__":
    main()
