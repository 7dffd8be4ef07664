"""Every cookbook recipe's `run.py` runs offline in a fresh folder and prints what its README says;
every cookbook plan compiles against its recipe's tools; the shop plans run on the demo shop."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agentflow.cookbook import RECIPES, SHOP_RECIPES
from agentflow.cookbook.shop import register_shop_tools

from agentflow import Engine

COOKBOOK = Path(__file__).resolve().parents[2] / "cookbook"

#: Per recipe folder: lines its run.py must print (each a substring of one line of stdout).
EXPECTED: dict[str, list[str]] = {
    "01_multi_tenant": [
        "acme-billing: plan v1 by recorded, tools list_unpaid_invoices, send_payment_reminder: "
        "awaiting_review",
        "line 3: AF150 unknown tool 'send_payment_reminder'. (available: check_stock, reorder)",
        "globex-warehouse: run is sleeping (no thread held)",
        "skipped 24 hours; a fresh worker picks the runs up",
        "acme-billing: complete on plan v1",
        "-> {'reminded': 2}",
        "globex-warehouse: complete on plan v1",
        "-> {'reordered': ['BOLT-M4']}",
        "initech-analytics: complete on plan v1",
        "initech: posted to #growth: 42 signups yesterday",
    ],
    "02_ci_cd": [
        "web-frontend: waiting for 'build-finished'",
        "payments-api: no build-finished event; skipped 60 minutes",
        "web-frontend: complete -> {'build': 'web-frontend-a1b2c3d', 'deployed': True,",
        "payments-api: complete -> {'build': 'payments-api-9f8e7d6', 'deployed': False, "
        "'reason': 'timeout'}",
        "cancelled payments-api-9f8e7d6",
        "pager:on-call: payments-api-9f8e7d6 hung",
    ],
    "03_human_approval": [
        "EXP-1: plan v1 by recorded: awaiting_review",
        "EXP-2: plan v1 by recorded (reused): started",
        "EXP-2: nobody answered; skipped 2 days",
        "EXP-1: complete -> {'expense': 'EXP-1', 'approved': True, 'decided_by': 'manager'}",
        "EXP-2: complete -> {'expense': 'EXP-2', 'approved': True, 'decided_by': 'director'}",
        "asked director@example.com to decide EXP-2 (920.00)",
    ],
    "04_drip_campaign": [
        "the reviewer sees 3 sleeps: two days in, a week later, renewal day",
        "sleeping in 'two days in': skipped 2.0 days",
        "sleeping in 'a week later': skipped 7.0 days",
        "sleeping in 'renewal day': skipped 30.0 days",
        "complete -> {'user': 'ada@example.com', 'sent': ['welcome', 'tips', 'nudge', "
        "'renewal-offer']}",
    ],
    "05_research_fanout": [
        "approved by policy:auto-if-safe: started",
        "fetch[1]: complete after 3 attempts",
        "requests per source: {'https://example.com/temporal': 1, 'https://example.com/dbos': 3,",
        "complete: 3 sources",
        "summary: All three engines make long-running work durable",
    ],
    "06_saga": [
        "ada: {'booked': True, 'total': 650.0}",
        "alan: {'booked': False, 'undone': ['FL-OSL', 'HT-OSL'], 'error': \"step 'charge card' "
        'failed after 1 attempt: NonRetryableError: card ending 0002 was declined"}',
        "cancelled HT-OSL",
        "cancelled FL-OSL",
    ],
    "07_agent_frameworks": [
        "litellm: plan_and_run -> status awaiting_review, plan v1 (pending)",
        "reviewer approves plan 1: run litellm starts",
        "pydantic-ai: plan_and_run -> status started, plan v1 (approved, reused)",
        "langchain: plan_and_run -> status started, plan v1 (approved, reused)",
        "openai-agents: plan_and_run -> status started, plan v1 (approved, reused)",
        "litellm: complete -> {'order_id': 1001, 'shipped_on_day': 2}",
        "pydantic-ai: complete -> {'order_id': 1002, 'shipped_on_day': 2}",
        "langchain: complete -> {'order_id': 1003, 'shipped_on_day': 2}",
        "openai-agents: complete -> {'order_id': 1004, 'shipped_on_day': 2}",
        "customer4@example.com: Order 1004 has shipped: Tracking number: TRK1004",
    ],
    "08_repair": [
        "run errored: StepFailed: step 'convert' failed after 1 attempt: NonRetryableError: "
        "no euro rate for JPY",
        "repair: plan v2 (parent 1, origin repair) by recorded: pending",
        "run complete on plan v2 -> {'invoices': 3, 'total_eur': 505.9}",
        "ledger: ['A-1: 100.00 EUR', 'A-2: 225.00 EUR', 'A-3: 180.90 EUR']",
    ],
}


def run_recipe(folder: str, tmp_path: Path) -> str:
    """Run a recipe's run.py offline on a fresh SQLite file; its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFLOW_")}
    proc = subprocess.run(
        [sys.executable, str(COOKBOOK / folder / "run.py"), "--db", f"sqlite:///{tmp_path}/r.db"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "replayed the recorded reply" in proc.stderr, "offline by default"
    return proc.stdout


def test_every_recipe_folder_has_a_readme_a_host_and_a_run_py():
    folders = sorted(p.name for p in COOKBOOK.iterdir() if p.is_dir() and p.name[0].isdigit())
    assert folders == sorted(EXPECTED), "each recipe folder is run by this module"
    for folder in folders:
        for part in ("README.md", "host.py", "run.py"):
            assert (COOKBOOK / folder / part).is_file(), f"{folder} has no {part}"
    assert {r.folder for r in RECIPES.values()} <= set(folders)


@pytest.mark.parametrize("folder", sorted(EXPECTED))
def test_recipe_prints_what_its_readme_says(folder, tmp_path):
    lines = run_recipe(folder, tmp_path).splitlines()
    for expected in EXPECTED[folder]:
        assert any(expected in line for line in lines), f"{expected!r} not in:\n" + "\n".join(lines)


@pytest.mark.parametrize("name", sorted(SHOP_RECIPES))
def test_shop_recipe_runs_end_to_end(name, tmp_path):
    recipe = RECIPES[name]
    outbox: list[dict] = []
    engine = Engine(f"sqlite:///{tmp_path / 'cookbook.db'}", poll_interval=0.05)
    register_shop_tools(engine, outbox)
    agent = engine.agent(f"cook-{name}", tools=list(recipe.tools), review="required")
    plan = agent.submit_plan(recipe.source, goal=recipe.goal)
    assert plan.status == "pending"
    assert plan.summary.steps, "the summary lists the steps"
    engine.reviews.approve(plan.id, reviewer="test")
    run = agent.start(params=recipe.params)
    events = list(recipe.events)
    deadline = time.monotonic() + 30
    while not run.status().done and time.monotonic() < deadline:
        engine.work()
        status = run.status()
        if status.status == "waiting" and events:
            run.send_event(*events.pop(0))
        time.sleep(0.02)
    status = run.status()
    assert status.status == "complete", status.error
    assert not events, "every event the recipe expects was consumed"
    if "send_email" in recipe.tools:
        assert outbox
    engine.close()


def test_order_followup_output(tmp_path):
    recipe = RECIPES["order_followup"]
    engine = Engine(f"sqlite:///{tmp_path / 'c.db'}")
    register_shop_tools(engine)
    agent = engine.agent("shop", tools=list(recipe.tools), review="auto")
    agent.submit_plan(recipe.source)
    run = agent.start(params={"grace": 0.05})
    engine.work()
    run.send_event("refund-approval", {"approved": True})
    assert run.result(timeout=10) == {
        "reminded": 2,
        "refunded": {"order_id": 1001, "refunded": 42.0},
    }
    engine.close()
