"""Recipe 5: research fan-out: `step.map` over sources, retries on a flaky one, a model summary.

Run it with `python cookbook/05_research_fanout/run.py` (offline: a recorded plan and litellm's
`mock_response` for the summary), or with `AGENTFLOW_MODEL=gpt-4o-mini` for a real model.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from host import AGENT_ID, GOAL, PAGES, REQUESTS, TOOLS, build_engine

from agentflow import plan_and_run
from agentflow.testing import skip_time


def main(url: str) -> None:
    """Run the fan-out; skip each retry delay instead of waiting it out."""
    engine = build_engine(url)
    # No tool has side effects, so "auto-if-safe" approves the plan without a reviewer.
    agent = engine.agent(AGENT_ID, tools=TOOLS, review="auto-if-safe")
    params = {"topic": "durable execution", "sources": list(PAGES)}
    result = plan_and_run(GOAL, agent, params, engine=engine)
    print(
        f"plan v{result.plan.version} by {result.plan.model}, {result.plan.status} "
        f"by {result.plan.decided_by}: {result.status}"
    )
    run = engine.get_run(result.run_id)
    while True:
        engine.work(until_idle=True)
        if run.status().done:
            break
        skip_time(engine, run=run)
    status = run.status()
    for step in status.steps:
        indent = "  " if step.parent else ""
        print(
            f"{indent}{step.name}: {step.status} after "
            f"{step.attempts} attempt{'s' * (step.attempts != 1)}"
        )
    print(f"requests per source: { {source: REQUESTS[source] for source in PAGES} }")
    print(f"{status.status}: {status.output['sources']} sources")
    print(f"summary: {status.output['summary']}")
    engine.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentflow-recipe-") as folder:
        main(args.db or f"sqlite:///{Path(folder) / 'recipe.db'}")
