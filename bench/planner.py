"""Benchmark the planner's own overhead, without the model's time.

A `ScriptedModel` answers at once, so what is measured is agentflow's work per `plan_and_run`:
resolving the agent and its tool catalogue, looking for a reusable plan, rendering the prompt,
extracting and compiling the reply, storing the version (review policy "auto") and queuing the
run, on a temporary SQLite file.

Run: `.venv/bin/python bench/planner.py [CALLS]` (default 200 calls per row).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from agentflow.cookbook import RECIPES
from agentflow.cookbook.shop import register_shop_tools

from agentflow.engine import Engine
from agentflow.planner import PromptTemplates, build_catalogue, plan_and_run
from agentflow.testing import ScriptedModel, temporary_engine

SOURCE = RECIPES["order_followup"].source


def reply(marker: str) -> str:
    """A model reply; the marker changes the source, so the compile cache misses."""
    return f"Here is the plan.\n\n```python\n# {marker}\n{SOURCE}```\n"


def timed(calls: int, action: Callable[[int], object]) -> list[float]:
    """Milliseconds of each call of `action(i)`."""
    samples = []
    for i in range(calls):
        started = time.perf_counter()
        action(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def row(name: str, samples: list[float]) -> str:
    """One table line: median and p95 in milliseconds."""
    p95 = statistics.quantiles(samples, n=20)[18]
    return f"| {name:<46} | {statistics.median(samples):>9.3f} | {p95:>9.3f} | {len(samples):>5} |"


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with temporary_engine() as engine:
        register_shop_tools(engine)
        engine.agent("bench", tools=["list_orders", "send_email", "refund"], review="auto")
        results = measure(engine, calls)
    print(f"planner overhead per call, ScriptedModel, SQLite file, {calls} calls each\n")
    print(f"| {'operation':<46} | {'median ms':>9} | {'p95 ms':>9} | {'calls':>5} |")
    print(f"|{'-' * 48}|{'-' * 11}|{'-' * 11}|{'-' * 7}|")
    for name, samples in results:
        print(row(name, samples))


def measure(engine: Engine, calls: int) -> list[tuple[str, list[float]]]:
    """Time each operation `calls` times."""
    cold = timed(
        calls,
        lambda i: plan_and_run(
            f"cold goal {i}", "bench", engine=engine, model=ScriptedModel([reply(f"cold {i}")])
        ),
    )
    warm = timed(
        calls,
        lambda i: plan_and_run(
            f"warm goal {i}", "bench", engine=engine, model=ScriptedModel([reply("same")])
        ),
    )
    reused = timed(
        calls,
        lambda i: plan_and_run("warm goal 0", "bench", engine=engine, model=ScriptedModel([])),
    )
    templates = PromptTemplates()
    catalogue = build_catalogue(engine, ["list_orders", "send_email", "refund"])
    render = timed(calls, lambda i: templates.plan_messages(catalogue, f"goal {i}"))
    tools = catalogue.names
    compile_cold = timed(
        calls, lambda i: engine.compile_for_agent(f"# compile {i}\n{SOURCE}", tools)
    )
    return [
        ("plan_and_run, fresh plan (new source: compile)", cold),
        ("plan_and_run, fresh plan (compile cache hit)", warm),
        ("plan_and_run, reused approved plan", reused),
        ("  of which: render the prompt", render),
        ("  of which: compile a new source (compiler)", compile_cold),
    ]


if __name__ == "__main__":
    main()
