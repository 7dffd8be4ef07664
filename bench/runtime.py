"""Runtime benchmarks on a real SQLite file: step overhead, latencies, wake lateness.

Run: `.venv/bin/python bench/runtime.py [--durability normal|full]` (prints a table; takes
about 20 seconds); every row names the durability it ran at. Every p95 is a
real percentile over the n samples its row names; bench/compare.py compares with DBOS/LangGraph.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentflow import Engine
from bench.peers.stats import percentile as interpolate


def percentile(samples: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks over every sample (not a median of few)."""
    return interpolate(sorted(samples), fraction)


def make_engine(directory: str, durability: str = "normal") -> Engine:
    engine = Engine(f"sqlite:///{directory}/bench.db", poll_interval=0.5, durability=durability)

    @engine.tool(side_effects=False)
    def noop(i: int) -> int:
        return i

    return engine


def plan_with_steps(count: int, tail: str = "") -> str:
    return (
        "def run(event, step):\n"
        f"    for i in range({count}):\n"
        '        step.do("s", tools.noop, i)\n'
        f"{tail}"
        "    return 1\n"
    )


Row = tuple[str, list[float]]


def bench_step_overhead(engine: Engine) -> Row:
    agent = engine.agent("overhead", tools=["noop"], review="auto")
    agent.submit_plan(plan_with_steps(100))
    samples = []
    for _ in range(20):
        run = agent.start()
        started = time.perf_counter()
        run.result(timeout=120)
        samples.append((time.perf_counter() - started) / 100)
    return "per-step overhead (do + checkpoint; n runs of 100 steps)", samples


def bench_one_step_run(engine: Engine) -> Row:
    agent = engine.agent("one-step", tools=["noop"], review="auto")
    agent.submit_plan(plan_with_steps(1))
    samples = []
    for _ in range(200):
        started = time.perf_counter()
        agent.start().result(timeout=30)
        samples.append(time.perf_counter() - started)
    return "one-step run: start -> result", samples


def bench_resume_100(engine: Engine) -> Row:
    agent = engine.agent("resume", tools=["noop"], review="auto")
    agent.submit_plan(plan_with_steps(100, '    step.wait_for_event("go", type="go")\n'))
    samples = []
    for _ in range(20):
        run = agent.start()
        engine.work()
        run.send_event("go", None)
        started = time.perf_counter()
        run.result(timeout=30)
        samples.append(time.perf_counter() - started)
    return "resume a 100-step run (replay + finish)", samples


def with_worker(engine: Engine, body):  # type: ignore[no-untyped-def]
    stop = threading.Event()
    worker = threading.Thread(target=engine.work, kwargs={"until_idle": False, "stop": stop})
    worker.start()
    try:
        return body()
    finally:
        stop.set()
        engine.notify()
        worker.join()


def bench_event_to_resume(engine: Engine) -> Row:
    agent = engine.agent("events", review="auto")
    agent.submit_plan('def run(event, step):\n    step.wait_for_event("w", type="go")\n')

    def body() -> list[float]:
        samples = []
        for _ in range(30):
            run = agent.start()
            while run.status().status != "waiting":
                time.sleep(0.005)
            sent = time.time()
            run.send_event("go", None)
            run.result(timeout=10)
            received = run.status().steps[0].ended_at
            assert received is not None
            samples.append(received.timestamp() - sent)
        return samples

    samples = with_worker(engine, body)
    return "event sent -> wait step resumed (worker thread)", samples


def bench_sleep_lateness(engine: Engine) -> Row:
    agent = engine.agent("sleeps", review="auto")
    agent.submit_plan('def run(event, step):\n    step.sleep("nap", 0.2)\n')

    def body() -> list[float]:
        runs = []
        for _ in range(40):
            runs.append(agent.start())
            time.sleep(0.03)
        samples = []
        for run in runs:
            run.result(timeout=10)
            nap = run.status().steps[0]
            assert nap.ended_at is not None and nap.wake_at is not None
            samples.append(nap.ended_at.timestamp() - nap.wake_at.timestamp())
        return samples

    samples = with_worker(engine, body)
    return "sleep wake lateness (worker thread)", samples


def main() -> None:
    parser = argparse.ArgumentParser(description="agentflow runtime benchmarks on SQLite")
    parser.add_argument("--durability", choices=("normal", "full"), default="normal")
    durability = parser.parse_args().durability
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(directory, durability)
        for bench in (
            bench_step_overhead,
            bench_one_step_run,
            bench_resume_100,
            bench_event_to_resume,
            bench_sleep_lateness,
        ):
            rows.append(bench(engine))
        engine.close()
    synchronous = "FULL" if durability == "full" else "NORMAL"
    print(f"SQLite WAL, durability={durability} (synchronous={synchronous}), isolation=process")
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'durability':>10}  {'n':>4}  {'median ms':>10}  {'p95 ms':>10}")
    print("-" * (width + 42))
    for name, samples in rows:
        median = statistics.median(samples) * 1000
        p95 = percentile(samples, 0.95) * 1000
        print(
            f"{name:<{width}}  {durability:>10}  {len(samples):>4}  {median:>10.3f}  {p95:>10.3f}"
        )


if __name__ == "__main__":
    main()
