"""Property: compile_plan returns a CompiledPlan or raises PlanValidationError, for any text."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentflow.errors import PlanValidationError
from agentflow.plan import CompiledPlan, compile_plan
from tests.unit.plan.conftest import TOOLS

VALID = '''"""Remind, wait, refund."""
import json

LIMIT = 3

def fmt(order):
    return f"Order {order['id']} is open"

def run(event, step):
    orders = step.do("fetch", tools.list_orders, status="open")
    for order in orders[:LIMIT]:
        step.do("remind", tools.send_email, to=order["email"], subject="Hi", body=fmt(order))
    step.sleep("nap", "1 day")
    answer = step.wait_for_event("approval", type="refund-approval", timeout="3 days")
    try:
        if answer["payload"]["approved"]:
            step.do("refund", tools.refund, order_id=orders[0]["id"])
    except KeyError:
        pass
    return json.dumps({"n": len(orders)})
'''
TOKENS = [
    "(",
    ")",
    ":",
    "step",
    "tools",
    "_",
    "__class__",
    "**",
    "*",
    "'",
    '"',
    "\n",
    "    ",
    "lambda",
    "yield",
    "import os",
    "try",
    "finally",
    "\\",
    "#",
    "{",
    "}",
    "[",
    "]",
    "=",
    "def",
    "class",
    "async",
    "while True",
    "\x00",
    "ｅｘｅｃ",
    "format",
    ".",
]


@st.composite
def mutated_plan(draw: st.DrawFn) -> str:
    text = VALID
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "duplicate", "token"]))
        if action == "delete":
            length = draw(st.integers(1, 20))
            text = text[:position] + text[position + length :]
        elif action == "insert":
            text = text[:position] + draw(st.text(max_size=5)) + text[position:]
        elif action == "duplicate":
            length = draw(st.integers(1, 40))
            text = (
                text[:position] + text[position : position + length] * 2 + text[position + length :]
            )
        else:
            text = text[:position] + draw(st.sampled_from(TOKENS)) + text[position:]
    return text


def _compiles_or_is_invalid(source: str) -> None:
    try:
        result = compile_plan(source, TOOLS)
    except PlanValidationError as exc:
        assert exc.diagnostics
    else:
        assert isinstance(result, CompiledPlan)


@settings(max_examples=250, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_plan())
def test_mutated_plans_never_crash_the_compiler(source: str) -> None:
    _compiles_or_is_invalid(source)


@settings(max_examples=100, deadline=5000)
@given(st.text(max_size=200))
def test_random_text_never_crashes_the_compiler(source: str) -> None:
    _compiles_or_is_invalid(source)


def test_the_seed_plan_is_valid() -> None:
    assert isinstance(compile_plan(VALID, TOOLS), CompiledPlan)


def test_pathological_nesting_is_a_diagnostic() -> None:
    for source in [
        "1+" * 100_000 + "1",
        "-" * 100_000 + "1",
        "(" * 300 + ")" * 300,
        "def run(event, step):\n    return " + "[" * 150 + "]" * 150 + "\n",
        "x" * 300_000,
    ]:
        _compiles_or_is_invalid(source)
