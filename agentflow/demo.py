"""`agentflow demo`: one cookbook recipe end to end on the embedded SQLite store."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from agentflow.cookbook import RECIPES, SHOP_RECIPES
from agentflow.cookbook.shop import register_shop_tools
from agentflow.engine import Engine
from agentflow.planner import plan_and_run
from agentflow.states import PlanState, RunState
from agentflow.terminal import timeline_table


def run_demo(db: str | None, recipe_name: str, console: Console) -> int:
    """Plan, review, run and resume a cookbook recipe, printing each stage; an exit status."""
    if recipe_name not in SHOP_RECIPES:
        console.print(
            f"[red]no shop recipe {recipe_name!r}[/red]; choose from {', '.join(SHOP_RECIPES)} "
            "(the other recipes run with python cookbook/<folder>/run.py)"
        )
        return 2
    recipe = RECIPES[recipe_name]
    outbox: list[dict[str, Any]] = []
    engine = Engine(db)
    register_shop_tools(engine, outbox)
    agent = engine.agent(f"demo-{recipe.name}", tools=list(recipe.tools), review="required")
    console.rule(f"[bold]{recipe.name}[/bold]: {recipe.goal}")
    console.print(f"store: {engine.url}")

    planned = plan_and_run(recipe.goal, agent, recipe.params, engine=engine)
    plan = planned.plan
    console.print(planned.message)
    summary = plan.summary
    console.print(
        f"plan {plan.id} (v{plan.version}) is {plan.status}; risk [bold]{summary.risk}[/bold]"
    )
    for reason in summary.risk_reasons:
        console.print(f"  - {reason}")
    if plan.status == PlanState.PENDING:
        engine.reviews.approve(plan.id, reviewer="demo", comment="reviewed in the demo")
        console.print("approved by reviewer 'demo': the queued run starts by itself")
    if planned.run_id is None:
        console.print("[red]the planner started no run[/red]")
        return 1
    run = engine.get_run(planned.run_id)
    console.print(f"run {run.id} started with {recipe.params}")
    pending_events = list(recipe.events)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        engine.work(until_idle=True)
        status = run.status()
        if status.done:
            break
        if status.status == RunState.WAITING and pending_events:
            event_type, payload = pending_events.pop(0)
            console.print(f"run is waiting for {event_type!r}: sending {payload}")
            run.send_event(event_type, payload)
        elif status.status == RunState.SLEEPING and status.wake_at is not None:
            pause = max(0.0, status.wake_at.timestamp() - time.time())
            console.print(f"run is sleeping (no thread held) for {pause:.1f} s")
            time.sleep(min(pause, 5.0))
        else:
            time.sleep(0.05)
    status = run.status()
    console.print(timeline_table(status))
    for mail in outbox:
        console.print(f"  email to {mail['to']}: {mail['subject']}")
    console.print(f"status: [bold]{status.status}[/bold]  output: {status.output}")
    engine.close()
    return 0 if status.status == RunState.COMPLETE else 1
