"""Recipe 8: repair: a run fails, a model writes a new plan version from the failure, a reviewer
approves it, and the run goes on with it, keeping the checkpoints that still match.

Run it with `python cookbook/08_repair/run.py` (offline: a recorded plan, and `repaired_plan.py`
as the model's repair), or with `AGENTFLOW_MODEL=gpt-4o-mini` for a real model.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from host import AGENT_ID, GOAL, LEDGER, TOOLS, build_engine

from agentflow import plan_and_run, repair
from agentflow.planner import MODEL_ENV, PlannerModel, RecordedModel

HERE = Path(__file__).parent


def repair_model() -> PlannerModel | None:
    """The configured model, else a recording of the reply a model gave to the repair prompt."""
    if os.environ.get(MODEL_ENV):
        return None
    reply = f"```python\n{(HERE / 'repaired_plan.py').read_text()}```\n"
    return RecordedModel(reply, GOAL)


def main(url: str) -> None:
    """Plan, fail on the yen invoice, repair, approve, and finish without entering twice."""
    engine = build_engine(url)
    agent = engine.agent(AGENT_ID, tools=TOOLS, review="required")
    result = plan_and_run(GOAL, agent, engine=engine)
    print(f"plan v{result.plan.version} by {result.plan.model}: {result.status}")
    if result.status == "awaiting_review":
        engine.reviews.approve(result.plan.id, reviewer="dana", comment="ok")
    run = engine.get_run(result.run_id)
    engine.work(until_idle=True)
    status = run.status()
    print(f"run {status.status}: {status.error['type']}: {status.error['message']}")
    print(f"ledger so far: {LEDGER}")

    repaired = repair(run.id, engine=engine, model=repair_model())
    print(
        f"repair: plan v{repaired.version} (parent {repaired.parent_id}, origin "
        f"{repaired.origin}) by {repaired.model}: {repaired.status}"
    )
    engine.reviews.approve(repaired.id, reviewer="dana", comment="route yen through dollars")
    print("approved: the run continues on the new version")
    output = run.result(timeout=30)
    status = run.status()
    plan = engine.get_plan(status.plan_id)
    print(f"run {status.status} on plan v{plan.version} -> {output}")
    print(f"steps: {', '.join(f'{s.name}#{s.occurrence}' for s in status.steps)}")
    print(f"ledger: {LEDGER}")
    engine.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentflow-recipe-") as folder:
        main(args.db or f"sqlite:///{Path(folder) / 'recipe.db'}")
