"""What sandbox processes cost: `isolation="process"` (the default) against `isolation="inline"`.

Both engines use a real SQLite file in WAL mode with agentflow's default `synchronous=NORMAL`
(a commit survives a process crash, not a power loss) and run their runs in this process's
worker loop; in "process" mode the plan code runs in a sandbox process and every step crosses
the JSON channel. Trials alternate between the two modes so both see the same machine. Medians.

Run: `.venv/bin/python bench/isolation.py` (prints a table; takes about half a minute).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentflow import Engine, Run
from agentflow.runtime.sandbox.pool import SandboxSettings

STEPS = 200
REPLAYED = 100
ROUNDS = 15


def make_engine(directory: str, isolation: str, reuse: bool = True) -> Engine:
    engine = Engine(
        f"sqlite:///{directory}/{isolation}-{reuse}.db",
        isolation=isolation,
        sandbox=SandboxSettings(reuse=reuse),
    )

    @engine.tool(side_effects=False)
    def noop(i: int) -> int:
        return i

    return engine


def steps_plan(count: int) -> str:
    return (
        "def run(event, step):\n"
        f"    for i in range({count}):\n"
        '        step.do("s", tools.noop, i)\n'
        "    return 1\n"
    )


def resume_plan(count: int) -> str:
    return (
        "def run(event, step):\n"
        f"    for i in range({count}):\n"
        '        step.do("s", tools.noop, i)\n'
        '    step.wait_for_event("go", "go")\n'
        "    return 1\n"
    )


def timed(body: Callable[[], object]) -> float:
    started = time.perf_counter()
    body()
    return time.perf_counter() - started


class Trial:
    """One engine, its agents, and a sample list per measure."""

    def __init__(self, directory: str, isolation: str, reuse: bool = True) -> None:
        self.engine = make_engine(directory, isolation, reuse)
        self.steps = self.engine.agent("steps", tools=["noop"], review="auto")
        self.steps.submit_plan(steps_plan(STEPS))
        self.one = self.engine.agent("one", tools=["noop"], review="auto")
        self.one.submit_plan(steps_plan(1))
        self.resume = self.engine.agent("resume", tools=["noop"], review="auto")
        self.resume.submit_plan(resume_plan(REPLAYED))
        if self.engine.sandboxes is not None:
            self.engine.sandboxes.warm()  # start the zygote, as a worker does when it starts
        self.samples: dict[str, list[float]] = {"step": [], "one": [], "resume": []}

    def run_once(self) -> None:
        run = self.steps.start()
        self.samples["step"].append(timed(lambda: self._finish(run)) / STEPS)
        self.samples["one"].append(timed(lambda: self._finish(self.one.start())))
        waiting = self.resume.start()
        self.engine.work()
        waiting.send_event("go")
        self.samples["resume"].append(timed(lambda: self._finish(waiting)))

    def _finish(self, run: Run) -> None:
        self.engine.work()
        run.result(timeout=60)


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        inline = Trial(directory, "inline")
        process = Trial(directory, "process")
        fresh = Trial(directory, "process", reuse=False)
        for trial in (inline, process, fresh):  # warm-up: the first run of each agent
            trial.run_once()
            trial.samples = {key: [] for key in trial.samples}
        for _ in range(ROUNDS):
            for trial in (inline, process, fresh):
                trial.run_once()
        rows = [
            (
                f"step round trip, {STEPS}-step run (per step, do + checkpoint)",
                median_us(inline.samples["step"]),
                median_us(process.samples["step"]),
                median_us(fresh.samples["step"]),
            ),
            (
                "one-step run, start -> result",
                median_us(inline.samples["one"]),
                median_us(process.samples["one"]),
                median_us(fresh.samples["one"]),
            ),
            (
                f"resume after an event, {REPLAYED} steps replayed",
                median_us(inline.samples["resume"]),
                median_us(process.samples["resume"]),
                median_us(fresh.samples["resume"]),
            ),
        ]
        for trial in (inline, process, fresh):
            trial.engine.close()
    print("SQLite WAL, synchronous=NORMAL (durability of a process crash), in-process worker loop")
    print(f"medians of {ROUNDS} alternating trials; process = plan code in a sandbox process")
    print()
    width = max(len(row[0]) for row in rows)
    header = (
        f"{'measure':<{width}}  {'inline µs':>10}  {'process µs':>11}  {'overhead µs':>12}"
        f"  {'fresh process µs':>17}"
    )
    print(header)
    print("-" * len(header))
    for name, inline_us, process_us, fresh_us in rows:
        print(
            f"{name:<{width}}  {inline_us:>10.0f}  {process_us:>11.0f}  "
            f"{process_us - inline_us:>12.0f}  {fresh_us:>17.0f}"
        )
    print()
    print("process: one sandbox process kept per agent (SandboxSettings(reuse=True), the default)")
    print("fresh process: a new process forked from the zygote per activation (reuse=False)")


if __name__ == "__main__":
    main()
