"""Recipe 1: three tenants, three generated plans, each reloaded from the store after a day's sleep.

Run it with `python cookbook/01_multi_tenant/run.py` (offline: recorded model replies), or with
`AGENTFLOW_MODEL=gpt-4o-mini` to have a real model write the plans.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from host import LEDGER, TENANTS, build_engine

from agentflow import PlanValidationError, plan_and_run
from agentflow.testing import skip_time

# Globex's agent asks for Acme's reminder tool: the compiler must refuse it.
CROSS_TENANT_PLAN = """
def run(event, step):
    return step.do("borrow", tools.send_payment_reminder, customer="x", invoice_id="y")
"""


def main(url: str) -> None:
    """Plan, review, start, sleep, skip a day, and resume every tenant's run on a fresh worker."""
    engine = build_engine(url)
    run_ids = {}
    for tenant in TENANTS:
        agent = engine.agent(tenant.agent_id, tools=tenant.tools, review="required")
        result = plan_and_run(tenant.goal, agent, tenant.params, engine=engine)
        print(
            f"{tenant.agent_id}: plan v{result.plan.version} by {result.plan.model}, "
            f"tools {', '.join(tenant.tools)}: {result.status}"
        )
        if result.status == "awaiting_review":
            engine.reviews.approve(result.plan.id, reviewer="platform-ops", comment="ok")
        run_ids[tenant.agent_id] = result.run_id

    try:
        engine.get_agent("globex-warehouse").submit_plan(CROSS_TENANT_PLAN)
    except PlanValidationError as exc:
        print("globex-warehouse: a plan naming another tenant's tool is refused:")
        for diagnostic in exc.diagnostics:
            print(f"  line {diagnostic.line}: {diagnostic.code} {diagnostic.message}")

    engine.work(until_idle=True)
    for agent_id, run_id in run_ids.items():
        print(f"{agent_id}: run is {engine.get_run(run_id).status().status} (no thread held)")
    skipped = skip_time(engine, "1 day")
    engine.close()
    print(f"skipped {skipped / 3600:.0f} hours; a fresh worker picks the runs up")

    worker = build_engine(url)
    worker.work(until_idle=True)
    for agent_id, run_id in run_ids.items():
        status = worker.get_run(run_id).status()
        plan = worker.get_plan(status.plan_id)
        print(
            f"{agent_id}: {status.status} on plan v{plan.version} "
            f"({plan.sha256[:12]}) -> {status.output}"
        )
    for line in LEDGER:
        print(f"  {line}")
    worker.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentflow-recipe-") as folder:
        main(args.db or f"sqlite:///{Path(folder) / 'recipe.db'}")
