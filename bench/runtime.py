"""Runtime benchmarks on a real SQLite file: step overhead, latencies, wake lateness.

Run: `.venv/bin/python bench/runtime.py` (prints a table; takes about half a minute).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentflow import Engine


def make_engine(directory: str) -> Engine:
    engine = Engine(f"sqlite:///{directory}/bench.db", poll_interval=0.5)

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


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p95_ms(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[int(0.95 * (len(ordered) - 1))] * 1000


def bench_step_overhead(engine: Engine) -> tuple[str, float, float]:
    agent = engine.agent("overhead", tools=["noop"], review="auto")
    agent.submit_plan(plan_with_steps(500))
    samples = []
    for _ in range(3):
        run = agent.start()
        started = time.perf_counter()
        run.result(timeout=120)
        samples.append((time.perf_counter() - started) / 500)
    return "per-step overhead (do + checkpoint)", median_ms(samples), p95_ms(samples)


def bench_one_step_run(engine: Engine) -> tuple[str, float, float]:
    agent = engine.agent("one-step", tools=["noop"], review="auto")
    agent.submit_plan(plan_with_steps(1))
    samples = []
    for _ in range(50):
        started = time.perf_counter()
        agent.start().result(timeout=30)
        samples.append(time.perf_counter() - started)
    return "one-step run: start -> result", median_ms(samples), p95_ms(samples)


def bench_resume_100(engine: Engine) -> tuple[str, float, float]:
    agent = engine.agent("resume", tools=["noop"], review="auto")
    agent.submit_plan(plan_with_steps(100, '    step.wait_for_event("go", type="go")\n'))
    samples = []
    for _ in range(10):
        run = agent.start()
        engine.work()
        run.send_event("go", None)
        started = time.perf_counter()
        run.result(timeout=30)
        samples.append(time.perf_counter() - started)
    return "resume a 100-step run (replay + finish)", median_ms(samples), p95_ms(samples)


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


def bench_event_to_resume(engine: Engine) -> tuple[str, float, float]:
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
    return "event sent -> wait step resumed (worker)", median_ms(samples), p95_ms(samples)


def bench_sleep_lateness(engine: Engine) -> tuple[str, float, float]:
    agent = engine.agent("sleeps", review="auto")
    agent.submit_plan('def run(event, step):\n    step.sleep("nap", 0.2)\n')

    def body() -> list[float]:
        runs = []
        for _ in range(20):
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
    return "sleep wake lateness (worker)", median_ms(samples), p95_ms(samples)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(directory)
        for bench in (
            bench_step_overhead,
            bench_one_step_run,
            bench_resume_100,
            bench_event_to_resume,
            bench_sleep_lateness,
        ):
            rows.append(bench(engine))
        engine.close()
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'median ms':>10}  {'p95 ms':>10}")
    print("-" * (width + 24))
    for name, median, p95 in rows:
        print(f"{name:<{width}}  {median:>10.3f}  {p95:>10.3f}")


if __name__ == "__main__":
    main()
