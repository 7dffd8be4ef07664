"""The review app's list queries and live-stream reads on a large store.

Run: `.venv/bin/python bench/pages.py [--runs N] [--postgres URL]` (SQLite file by default;
about a minute for 50,000 runs). Rows are bulk-inserted as runs of 20 agents over 50 plan
versions spread over 90 days; each figure is the median of 20 timed calls (after one warm-up)
of the query its row names, as the review app makes it (`per` 25, plus one row to know if
there is a next page). The last rows time what one open run page costs its stream per poll:
reading the run and re-rendering its live fragment.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from agentflow import Engine
from agentflow.review.live import run_context
from agentflow.review.web import _environment
from agentflow.store.pages import page_plans, page_runs
from agentflow.store.tables import PLANS, RUNS, metadata

DAY = 86400.0
STATUSES = ("complete", "complete", "complete", "errored", "waiting", "sleeping")


def seed(engine: Engine, runs: int) -> None:
    now = time.time()
    plans = [
        {
            "id": i + 1,
            "agent_id": f"agent-{i % 20}",
            "version": i // 20 + 1,
            "sha256": f"{i:064d}",
            "source": "def run(event, step):\n    return 1\n",
            "summary": {},
            "warnings": [],
            "goal": f"{'Refund' if i % 5 == 0 else 'Report'} for customer group {i}",
            "origin": "submitted",
            "status": "approved",
            "generation": [],
            "created_at": now - 90 * DAY + i,
        }
        for i in range(50)
    ]
    with engine.store.engine.begin() as conn:
        conn.execute(insert(PLANS), plans)
        batch = []
        for n in range(runs):
            plan = plans[n % 50]
            batch.append(
                {
                    "id": f"run_{n:08d}",
                    "run_id": f"run_{n:08d}",
                    "agent_id": plan["agent_id"],
                    "plan_id": plan["id"],
                    "params": {"n": n},
                    "status": STATUSES[n % len(STATUSES)],
                    "output": {"n": n},
                    "created_at": now - 90 * DAY * (1 - n / runs),
                    "updated_at": now,
                    "log": "",
                }
            )
            if len(batch) == 5000:
                conn.execute(insert(RUNS), batch)
                batch = []
        if batch:
            conn.execute(insert(RUNS), batch)


def timed(call: Callable[[], Any], repeat: int = 20) -> float:
    call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL (its agentflow tables are dropped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.postgres or f"sqlite:///{directory}/pages.db"
        if args.postgres:
            from sqlalchemy import create_engine

            raw = create_engine(url)
            metadata.drop_all(raw)
            raw.dispose()
        engine = Engine(url)
        try:
            seed(engine, args.runs)
            report(engine, args.runs)
        finally:
            engine.close()


def report(engine: Engine, runs: int) -> None:
    store = engine.store
    middle = page_runs(store, limit=1, after=None, since=time.time() - 45 * DAY)[-1]
    month = time.time() - 30 * DAY
    rows: list[tuple[str, Callable[[], Any]]] = [
        ("runs, first page", lambda: page_runs(store, limit=26)),
        (
            "runs, a page half-way down",
            lambda: page_runs(store, limit=26, after=(middle.created_at, middle.id)),
        ),
        (
            "runs, a page back (before=)",
            lambda: page_runs(store, limit=26, before=(middle.created_at, middle.id)),
        ),
        ("runs of one agent", lambda: page_runs(store, agent_id="agent-3", limit=26)),
        (
            "runs errored, last 30 days",
            lambda: page_runs(store, status="errored", since=month, limit=26),
        ),
        ("runs whose goal has 'refund'", lambda: page_runs(store, goal="refund", limit=26)),
        ("runs whose goal has 'nothing'", lambda: page_runs(store, goal="nothing", limit=26)),
        ("plans whose goal has 'refund'", lambda: page_plans(store, goal="refund", limit=26)),
    ]
    print(f"{engine.url.split(':')[0]}, {runs} runs: median of 20 calls")
    for name, call in rows:
        print(f"  {name:<34} {timed(call):8.2f} ms")
    template = _environment().get_template("_run_live.html")
    run = engine.get_run(middle.run_id)

    def poll() -> str:
        return template.render(**run_context(run.status()))

    print(f"  {'run page stream, one poll':<34} {timed(poll):8.2f} ms")


if __name__ == "__main__":
    main()
