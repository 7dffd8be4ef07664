"""Recipe 6: a saga: a booking plan that undoes its completed steps when a later step fails.

Run it with `python cookbook/06_saga/run.py` (offline: recorded model replies), or with
`AGENTFLOW_MODEL=gpt-4o-mini` to have a real model write the plan.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from host import AGENT_ID, DECLINED_CARD, GOAL, LEDGER, TOOLS, build_engine

from agentflow import plan_and_run

TRIPS = [
    {"traveller": "ada", "destination": "Lisbon", "nights": 3, "card": "4242-4242-4242-4242"},
    {"traveller": "alan", "destination": "Oslo", "nights": 2, "card": DECLINED_CARD},
]


def main(url: str) -> None:
    """Two trips: the first is paid for, the second's card is declined and its bookings undone."""
    engine = build_engine(url)
    agent = engine.agent(AGENT_ID, tools=TOOLS, review="required")
    for trip in TRIPS:
        result = plan_and_run(GOAL, agent, trip, engine=engine)
        print(
            f"{trip['traveller']}: plan v{result.plan.version} by {result.plan.model}"
            f"{' (reused)' if result.reused else ''}: {result.status}"
        )
        if result.status == "awaiting_review":
            engine.reviews.approve(result.plan.id, reviewer="dana", comment="compensations ok")
        output = engine.get_run(result.run_id).result(timeout=30)
        print(f"{trip['traveller']}: {output}")
    for line in LEDGER:
        print(f"  {line}")
    engine.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentflow-recipe-") as folder:
        main(args.db or f"sqlite:///{Path(folder) / 'recipe.db'}")
