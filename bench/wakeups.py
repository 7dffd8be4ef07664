"""10,000 sleeping runs on one worker: the memory they add while asleep, and how fast they wake.

Every run sleeps until one shared deadline, so at the deadline all of them are due at once.
The worker is this process (`engine.work()`, process isolation, one sandbox per agent); the
runs are spread over a few agents. Reported: the resident memory the sleeping runs add to the
worker (VmRSS after they are all asleep, minus before the first was started), the wake-up
rate (runs completed per second of wall time, from the deadline until the last one ended),
and the worker's CPU per woken run (this process only: the sandbox's replay is not counted).

Run: `.venv/bin/python bench/wakeups.py [--runs 10000] [--durability normal|full]`
(takes about two minutes for 10,000 runs on a quiet 2-core machine).
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentflow import Engine

AGENTS = 4
PLAN = (
    "def run(event, step):\n"
    '    step.sleep_until("nap", event.params["at"])\n'
    '    return step.do("after", tools.noop, 1)\n'
)


def rss_mb() -> float:
    """This process's resident set size, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--durability", choices=("normal", "full"), default="normal")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        engine = Engine(f"sqlite:///{directory}/wakeups.db", durability=args.durability)

        @engine.tool(side_effects=False)
        def noop(i: int) -> int:
            return i

        agents = [engine.agent(f"tenant-{n}", tools=["noop"], review="auto") for n in range(AGENTS)]
        for agent in agents:
            agent.submit_plan(PLAN)
            agent.start(params={"at": time.time()}).result(timeout=60)  # warm: sandbox up
        gc.collect()
        before = rss_mb()

        # The deadline leaves time to start every run and put it to sleep.
        started = time.perf_counter()
        deadline = time.time() + 3600
        for n in range(args.runs):  # no handles kept: the worker holds nothing for them
            agents[n % AGENTS].start(params={"at": deadline}, run_id=f"r{n}")
        engine.work()
        asleep = time.perf_counter() - started
        sleeping = len(engine.store.list_runs(status="sleeping", limit=args.runs + AGENTS))
        gc.collect()
        added = rss_mb() - before

        # Bring the shared deadline to now (the test clock's shift_timers), then wake them all.
        engine.store.shift_timers(deadline - time.time())
        woke = time.perf_counter()
        cpu = time.process_time()
        engine.work()
        wall = time.perf_counter() - woke
        cpu_per_run = (time.process_time() - cpu) / args.runs
        complete = len(engine.store.list_runs(status="complete", limit=args.runs + AGENTS)) - AGENTS
        engine.close()
    print(
        f"SQLite WAL, durability={args.durability} (synchronous="
        f"{'FULL' if args.durability == 'full' else 'NORMAL'}), isolation=process, one worker "
        f"(this process), {AGENTS} agents"
    )
    print(f"runs started and put to sleep        {args.runs:>10,}  in {asleep:.1f} s")
    print(f"runs asleep                          {sleeping:>10,}")
    print(f"worker RSS added while they sleep    {added:>10.1f} MB")
    print(f"runs woken and completed             {complete:>10,}  in {wall:.2f} s")
    print(f"wake-up rate                         {complete / wall:>10,.0f} runs/s")
    print(f"worker CPU per woken run             {cpu_per_run * 1e6:>10,.0f} µs")


if __name__ == "__main__":
    main()
