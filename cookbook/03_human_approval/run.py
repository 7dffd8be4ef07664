"""Recipe 3: a plan waits for a manager's decision and escalates to the director after a timeout.

Run it with `python cookbook/03_human_approval/run.py` (offline: recorded model replies), or with
`AGENTFLOW_MODEL=gpt-4o-mini` to have a real model write the plan.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from host import AGENT_ID, GOAL, LEDGER, TOOLS, build_engine

from agentflow import plan_and_run
from agentflow.testing import skip_time

EXPENSES = [
    {"id": "EXP-1", "amount": 84.0, "requester": "ada@example.com", "manager": "mo@example.com"},
    {"id": "EXP-2", "amount": 920.0, "requester": "alan@example.com", "manager": "mo@example.com"},
]


def main(url: str) -> None:
    """EXP-1: the manager answers in time. EXP-2: two silent days, then the director decides."""
    engine = build_engine(url)
    agent = engine.agent(AGENT_ID, tools=TOOLS, review="required")
    runs = {}
    for expense in EXPENSES:
        result = plan_and_run(GOAL, agent, {"expense": expense}, engine=engine)
        print(
            f"{expense['id']}: plan v{result.plan.version} by {result.plan.model}"
            f"{' (reused)' if result.reused else ''}: {result.status}"
        )
        if result.status == "awaiting_review":
            summary = result.plan.summary
            print(f"  the reviewer sees risk {summary.risk} and approves")
            engine.reviews.approve(result.plan.id, reviewer="dana", comment="escalation is fine")
        runs[expense["id"]] = engine.get_run(result.run_id)
    engine.work(until_idle=True)

    print("mo@example.com approves EXP-1")
    runs["EXP-1"].send_event("expense-decision", {"approved": True, "by": "mo@example.com"})
    engine.work(until_idle=True)

    late = runs["EXP-2"]
    skipped = skip_time(engine, "2 days", run=late)
    print(f"EXP-2: nobody answered; skipped {skipped / 86400:.0f} days")
    engine.work(until_idle=True)
    print(f"EXP-2: {late.status().status} for {late.status().waiting_for!r} again")
    print("director@example.com approves EXP-2")
    late.send_event("expense-decision", {"approved": True, "by": "director@example.com"})
    engine.work(until_idle=True)

    for expense_id, run in runs.items():
        status = run.status()
        print(f"{expense_id}: {status.status} -> {status.output}")
    for line in LEDGER:
        print(f"  {line}")
    engine.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentflow-recipe-") as folder:
        main(args.db or f"sqlite:///{Path(folder) / 'recipe.db'}")
