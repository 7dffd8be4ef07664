"""10,000 sleeping runs on one worker: the memory they add while asleep, and how fast they wake.

Every run sleeps until one shared deadline, so at the deadline all of them are due at once.
The worker is this process (process isolation, one sandbox per agent); the runs are spread over
a few agents. This process starts the runs and puts them to sleep (`engine.work()`), then runs
the worker's own loop (`engine.work(until_idle=False)`: its due-time watcher, lease keeper and
idle checks) while they sleep. Reported: the resident memory the sleeping runs add to the worker
(VmRSS while that loop idles with them all asleep, minus before the first was started), the
same for its sandbox processes, the wake-up rate (runs completed per second of wall time, from
the deadline until the last one ended, by `engine.work()`), and the worker's CPU per woken run
(this process only: the sandbox's replay is not counted).

The runs are counted by a `count(*)` on a connection of the bench's own, after the memory is
read: listing them would load every row into the worker, and its memory would count too.

Run: `.venv/bin/python bench/wakeups.py [--runs 10000] [--durability normal|full]`
(takes about two minutes for 10,000 runs on a quiet 2-core machine).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentflow import Agent, Engine

AGENTS = 4
IDLE_SECONDS = 3.0
"""How long the worker's loop idles with every run asleep before its memory is read."""
PLAN = (
    "def run(event, step):\n"
    '    step.sleep_until("nap", event.params["at"])\n'
    '    return step.do("after", tools.noop, 1)\n'
)


def rss_mb(pid: int | str = "self") -> float:
    """A process's resident set size, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def descendants(pid: int) -> list[int]:
    """The live processes below `pid` (the sandbox zygote and its sandboxes)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, up in parents.items() if up == parent]
        found += children
        frontier += children
    return found


def sandboxes_mb() -> float:
    """The resident memory of this process's descendants."""
    total = 0.0
    for pid in descendants(os.getpid()):
        with contextlib.suppress(OSError, RuntimeError):
            total += rss_mb(pid)
    return total


def count(path: str, status: str) -> int:
    """How many runs have `status`, read on a connection of the bench's own."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        found: int = conn.execute(
            "SELECT count(*) FROM runs WHERE status = ?", (status,)
        ).fetchone()[0]
        return found


def warm(engine: Engine) -> list[Agent]:
    """The agents, each with its plan approved and one run done: the sandboxes are up."""
    agents = [engine.agent(f"tenant-{n}", tools=["noop"], review="auto") for n in range(AGENTS)]
    for agent in agents:
        agent.submit_plan(PLAN)
        agent.start(params={"at": time.time()}).result(timeout=60)
    return agents


def idle_memory(engine: Engine) -> tuple[float, float]:
    """(worker RSS, sandboxes' RSS) while the worker's loop idles for `IDLE_SECONDS`."""
    stop = threading.Event()
    loop = threading.Thread(target=engine.work, kwargs={"until_idle": False, "stop": stop})
    loop.start()
    try:
        time.sleep(IDLE_SECONDS)
        gc.collect()
        return rss_mb(), sandboxes_mb()
    finally:
        stop.set()
        loop.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--durability", choices=("normal", "full"), default="normal")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = f"{directory}/wakeups.db"
        engine = Engine(f"sqlite:///{path}", durability=args.durability)

        @engine.tool(side_effects=False)
        def noop(i: int) -> int:
            return i

        agents = warm(engine)
        gc.collect()
        before, sandboxes_before = rss_mb(), sandboxes_mb()

        # The deadline leaves time to start every run and put it to sleep.
        started = time.perf_counter()
        deadline = time.time() + 3600
        for n in range(args.runs):  # no handles kept: the worker holds nothing for them
            agents[n % AGENTS].start(params={"at": deadline}, run_id=f"r{n}")
        engine.work()
        asleep = time.perf_counter() - started
        worker, sandboxes = idle_memory(engine)
        sleeping = count(path, "sleeping")

        # Bring the shared deadline to now (the test clock's shift_timers), then wake them all.
        engine.store.shift_timers(deadline - time.time())
        woke = time.perf_counter()
        cpu = time.process_time()
        engine.work()
        wall = time.perf_counter() - woke
        cpu_per_run = (time.process_time() - cpu) / args.runs
        complete = count(path, "complete") - AGENTS
        engine.close()
    print(
        f"SQLite WAL, durability={args.durability} (synchronous="
        f"{'FULL' if args.durability == 'full' else 'NORMAL'}), isolation=process, one worker "
        f"(this process), {AGENTS} agents"
    )
    print(f"runs started and put to sleep        {args.runs:>10,}  in {asleep:.1f} s")
    print(f"runs asleep                          {sleeping:>10,}")
    print(f"worker RSS added while they sleep    {worker - before:>10.1f} MB  ({worker:.1f} MB)")
    print(
        f"sandboxes' RSS added                 {sandboxes - sandboxes_before:>10.1f} MB"
        f"  ({sandboxes:.1f} MB)"
    )
    print(f"runs woken and completed             {complete:>10,}  in {wall:.2f} s")
    print(f"wake-up rate                         {complete / wall:>10,.0f} runs/s")
    print(f"worker CPU per woken run             {cpu_per_run * 1e6:>10,.0f} µs")


if __name__ == "__main__":
    main()
