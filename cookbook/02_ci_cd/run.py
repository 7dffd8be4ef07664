"""Recipe 2: each repository's own plan waits for `build-finished` events, with timeouts.

Run it with `python cookbook/02_ci_cd/run.py` (offline: recorded model replies), or with
`AGENTFLOW_MODEL=gpt-4o-mini` to have a real model write the pipelines.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from host import LEDGER, REPOSITORIES, build_engine

from agentflow import plan_and_run
from agentflow.testing import skip_time


def main(url: str) -> None:
    """Start both pipelines; the frontend's build reports back, the payments build never does."""
    engine = build_engine(url)
    runs = {}
    for repository in REPOSITORIES:
        # "auto": the team trusts its pipeline plans; every version is still stored and diffable.
        agent = engine.agent(repository.agent_id, tools=repository.tools, review="auto")
        result = plan_and_run(repository.goal, agent, repository.params, engine=engine)
        print(
            f"{repository.agent_id}: plan v{result.plan.version} by {result.plan.model}: "
            f"{result.status}"
        )
        runs[repository.agent_id] = engine.get_run(result.run_id)
    engine.work(until_idle=True)
    for agent_id, run in runs.items():
        status = run.status()
        print(f"{agent_id}: {status.status} for {status.waiting_for!r}")

    frontend = runs["web-frontend"]
    build_id = next(
        step.output["build_id"]
        for step in frontend.status().steps
        if isinstance(step.output, dict) and "build_id" in step.output
    )
    print(f"CI webhook: build-finished for {build_id}, passed")
    frontend.send_event("build-finished", {"build_id": build_id, "passed": True})
    engine.work(until_idle=True)

    payments = runs["payments-api"]
    skipped = skip_time(engine, run=payments)
    print(f"payments-api: no build-finished event; skipped {skipped / 60:.0f} minutes")
    engine.work(until_idle=True)

    for agent_id, run in runs.items():
        status = run.status()
        print(f"{agent_id}: {status.status} -> {status.output}")
    for line in LEDGER:
        print(f"  {line}")
    engine.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentflow-recipe-") as folder:
        main(args.db or f"sqlite:///{Path(folder) / 'recipe.db'}")
