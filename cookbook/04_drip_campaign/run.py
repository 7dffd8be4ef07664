"""Recipe 4: a drip campaign over a month of durable sleeps, fast-forwarded with `skip_time`.

Run it with `python cookbook/04_drip_campaign/run.py` (offline: recorded model replies), or with
`AGENTFLOW_MODEL=gpt-4o-mini` to have a real model write the campaign.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from host import AGENT_ID, GOAL, OUTBOX, TOOLS, build_engine

from agentflow import plan_and_run
from agentflow.testing import skip_time


def main(url: str) -> None:
    """Start the campaign, then skip from timer to timer until it ends (a month in a second).

    `skip_time` brings pending timers due; it does not move a clock, so the `sleep_until` of a
    date 30 days from now is still 30 days away when the run reaches it.
    """
    engine = build_engine(url)
    agent = engine.agent(AGENT_ID, tools=TOOLS, review="required")
    renewal = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    params = {"user": "ada@example.com", "renewal_at": renewal.isoformat()}
    result = plan_and_run(GOAL, agent, params, engine=engine)
    print(f"plan v{result.plan.version} by {result.plan.model}: {result.status}")
    sleeps = [s.name for s in result.plan.summary.steps if s.kind.startswith("sleep")]
    print(f"the reviewer sees {len(sleeps)} sleeps: {', '.join(sleeps)}")
    if result.status == "awaiting_review":
        engine.reviews.approve(result.plan.id, reviewer="dana", comment="ok")
    run = engine.get_run(result.run_id)
    while True:
        engine.work(until_idle=True)
        status = run.status()
        if status.status != "sleeping":
            break
        asleep = next(s for s in reversed(status.steps) if s.kind.startswith("sleep"))
        skipped = skip_time(engine, run=run)
        print(f"sleeping in {asleep.name!r}: skipped {skipped / 86400:.1f} days")
    print(f"{status.status} -> {status.output}")
    for line in OUTBOX:
        print(f"  {line}")
    engine.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentflow-recipe-") as folder:
        main(args.db or f"sqlite:///{Path(folder) / 'recipe.db'}")
