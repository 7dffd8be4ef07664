"""Dry runs (`engine.reviews.simulate`): fake tools, a throw-away store and a virtual clock."""

from __future__ import annotations

import functools
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, TypedDict

import pytest
from agentflow.cookbook import RECIPES, SHOP_RECIPES
from agentflow.cookbook.shop import register_shop_tools

from agentflow import Engine
from agentflow.errors import ConfigurationError
from agentflow.runtime.tools import RegisteredTool
from tests.conftest import ROOT

DAY = 86400.0


class Receipt(TypedDict):
    charge_id: str
    amount: int


def _tripwire_engine(path: Path, isolation: str = "inline") -> tuple[Engine, list[str]]:
    """An engine whose tools fail the test if anything ever calls them."""
    engine = Engine(f"sqlite:///{path / 'host.db'}", isolation=isolation)
    called: list[str] = []

    @engine.tool(side_effects=True)
    def charge(customer: str, amount: int) -> Receipt:
        """Charge a customer."""
        called.append("charge")
        raise AssertionError("the simulation called the real charge tool")

    @engine.tool(side_effects=False)
    def list_customers(region: str = "eu") -> list[str]:
        """Customers of a region."""
        called.append("list_customers")
        raise AssertionError("the simulation called the real list_customers tool")

    return engine, called


THREE_DAYS_THEN_CHARGE = """
def run(event, step):
    customers = step.do("customers", tools.list_customers, region="eu")
    step.sleep("cool off", "3 days")
    receipts = []
    for customer in customers:
        receipts.append(step.do("charge", tools.charge, customer=customer, amount=10))
    return {"charged": len(receipts), "first": receipts[0]["charge_id"]}
"""

WAIT_OR_ESCALATE = """
def run(event, step):
    try:
        answer = step.wait_for_event("manager", type="decision", timeout="2 days")
    except WaitTimeout:
        step.do("escalate", tools.charge, customer="director", amount=0)
        return "escalated"
    return answer.payload["approved"]
"""


@pytest.mark.parametrize("isolation", ["inline", "process"])
def test_a_three_day_sleep_simulates_at_once_and_reports_three_days(tmp_path, isolation):
    engine, called = _tripwire_engine(tmp_path, isolation)
    agent = engine.agent("billing", tools=["charge", "list_customers"], review="required")
    plan = agent.submit_plan(THREE_DAYS_THEN_CHARGE, goal="charge after three days")

    simulation = engine.reviews.simulate(plan.id)

    assert called == []
    assert simulation.status == "complete"
    assert simulation.output == {"charged": 1, "first": "example"}
    kinds = [(entry.kind, entry.step) for entry in simulation.trace]
    assert kinds == [
        ("tool", "customers"),
        ("sleep", "cool off"),
        ("tool", "charge"),
        ("output", None),
    ]
    sleep = simulation.trace[1]
    assert sleep.seconds == 3 * DAY
    first, charge = simulation.tool_calls
    assert (first.tool, first.kwargs, first.value, first.value_from) == (
        "list_customers",
        {"region": "eu"},
        ["example"],
        "annotation",
    )
    assert charge.kwargs == {"customer": "example", "amount": 10}
    assert charge.at_seconds >= 3 * DAY
    assert 3 * DAY <= simulation.virtual_seconds < 3 * DAY + 60
    assert simulation.wall_seconds < 10  # real time: the three days were skipped
    assert agent.runs() == [], "nothing ran in the reviewer's store"
    engine.close()


def test_fixtures_are_values_or_functions_of_the_call(tmp_path):
    engine, called = _tripwire_engine(tmp_path)
    agent = engine.agent("billing", tools=["charge", "list_customers"], review="required")
    plan = agent.submit_plan(THREE_DAYS_THEN_CHARGE)

    simulation = engine.reviews.simulate(
        plan.id,
        fixtures={
            "list_customers": ["ada", "bob"],
            "charge": lambda customer, amount: {"charge_id": f"ch-{customer}", "amount": amount},
        },
    )

    assert called == []
    assert simulation.output == {"charged": 2, "first": "ch-ada"}
    assert [(c.tool, c.kwargs.get("customer"), c.value_from) for c in simulation.tool_calls] == [
        ("list_customers", None, "fixture"),
        ("charge", "ada", "fixture"),
        ("charge", "bob", "fixture"),
    ]
    engine.close()


def test_a_wait_is_answered_with_the_example_event(tmp_path):
    engine, called = _tripwire_engine(tmp_path)
    agent = engine.agent("approvals", tools=["charge"], review="required")
    plan = agent.submit_plan(WAIT_OR_ESCALATE)

    simulation = engine.reviews.simulate(plan.id, events={"decision": {"approved": True}})

    assert simulation.status == "complete"
    assert simulation.output is True
    event = simulation.trace[0]
    assert (event.kind, event.step, event.event_type, event.value) == (
        "event",
        "manager",
        "decision",
        {"approved": True},
    )
    assert simulation.tool_calls == []
    assert called == []
    engine.close()


def test_a_wait_the_reviewer_lets_time_out_takes_its_timeout(tmp_path):
    engine, called = _tripwire_engine(tmp_path)
    agent = engine.agent("approvals", tools=["charge"], review="required")
    plan = agent.submit_plan(WAIT_OR_ESCALATE)

    simulation = engine.reviews.simulate(plan.id, waits="timeout")

    assert simulation.status == "complete"
    assert simulation.output == "escalated"
    timeout = simulation.trace[0]
    assert (timeout.kind, timeout.step, timeout.event_type, timeout.seconds) == (
        "wait_timeout",
        "manager",
        "decision",
        2 * DAY,
    )
    assert [c.kwargs["customer"] for c in simulation.tool_calls] == ["director"]
    assert simulation.virtual_seconds >= 2 * DAY
    assert called == []
    engine.close()


def test_a_failing_plan_simulates_to_its_error_and_bad_options_are_refused(tmp_path):
    engine, _ = _tripwire_engine(tmp_path)
    agent = engine.agent("broken", tools=["list_customers"], review="required")
    plan = agent.submit_plan(
        'def run(event, step):\n    return step.do("c", tools.list_customers)[5]\n'
    )
    simulation = engine.reviews.simulate(plan.id)
    assert simulation.status == "errored"
    assert simulation.trace[-1].kind == "error"
    assert "index" in simulation.error["message"]
    with pytest.raises(ConfigurationError, match="waits='never'"):
        engine.reviews.simulate(plan.id, waits="never")
    engine.close()


def _host_module(folder: str) -> ModuleType:
    path = ROOT / "cookbook" / folder / "host.py"
    spec = importlib.util.spec_from_file_location(f"simulated_host_{folder}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def _with_tripwires(engine: Engine, called: list[str]) -> None:
    """Replace every tool's function by one that records the call and fails, same signature."""
    for name in engine.tools.names():
        real = engine.tools.get(name)

        @functools.wraps(real.fn)
        def tripwire(*args: Any, _name: str = name, **kwargs: Any) -> Any:
            called.append(_name)
            raise AssertionError(f"the simulation called the real {_name} tool")

        engine.tools._tools[name] = RegisteredTool(
            name, tripwire, real.side_effects, real.signature, real.doc
        )


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_cookbook_plan_simulates_without_calling_a_real_tool(name, tmp_path):
    recipe = RECIPES[name]
    url = f"sqlite:///{tmp_path / 'host.db'}"
    if name in SHOP_RECIPES:
        engine = Engine(url)
        register_shop_tools(engine)
    else:
        engine = _host_module(recipe.folder).build_engine(url)
    called: list[str] = []
    _with_tripwires(engine, called)
    agent = engine.agent(f"review-{name}", tools=list(recipe.tools), review="required")
    plan = agent.submit_plan(recipe.source, goal=recipe.goal)
    events: dict[str, list[Any]] = {}
    for event_type, payload in recipe.events:
        events.setdefault(event_type, []).append(payload)

    simulation = engine.reviews.simulate(plan.id, recipe.fixtures, events, params=recipe.params)

    assert simulation.status == "complete", simulation.error
    assert simulation.tool_calls, "the trace shows the plan's tool calls"
    assert {call.tool for call in simulation.tool_calls} <= set(recipe.tools)
    assert called == []
    assert engine.get_plan(plan.id).status == "pending", "a dry run decides nothing"
    engine.close()


def test_the_cli_prints_the_trace_and_its_json(tmp_path):
    engine, _ = _tripwire_engine(tmp_path)
    agent = engine.agent("billing", tools=["charge", "list_customers"], review="required")
    plan = agent.submit_plan(THREE_DAYS_THEN_CHARGE)
    engine.close()
    fixtures = tmp_path / "fixtures.json"
    # Without --app the CLI knows no tool's return annotation: the fixtures say it all.
    receipt = {"charge_id": "ch-1", "amount": 10}
    fixtures.write_text(json.dumps({"list_customers": ["[bold]ada"], "charge": receipt}))
    command = [sys.executable, "-m", "agentflow.cli", "review", "simulate", str(plan.id)]
    command += ["--db", engine.url, "--fixtures", str(fixtures)]

    table = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    as_json = subprocess.run(
        [*command, "--json"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )

    assert table.returncode == 0, table.stderr
    assert "cool off" in table.stdout
    assert "[bold]ada" in table.stdout, "values are shown as they are, never as markup"
    assert "the run would take 3d" in table.stdout
    simulation = json.loads(as_json.stdout)
    assert simulation["status"] == "complete"
    assert [entry["kind"] for entry in simulation["trace"]] == ["tool", "sleep", "tool", "output"]
    bad = subprocess.run(
        [*command[:5], "99", "--db", engine.url], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1
    assert "no plan version with id 99" in bad.stdout
