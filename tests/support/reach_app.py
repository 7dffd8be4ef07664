"""The host that `agentflow serve` and `agentflow mcp` load in tests.

`--app tests.support.reach_app:engine`: the shop tools, plan code inline (fast), and a scripted
model that always writes `PLANNED`, so plan-and-run works offline over HTTP and MCP.
"""

from __future__ import annotations

from agentflow import Engine
from agentflow.testing import ScriptedModel
from tests.support.host import make_engine

PLANNED = '''"""List the open orders and count them."""

def run(event, step):
    orders = step.do("fetch open orders", tools.list_orders, status="open")
    return {"orders": len(orders), "label": event.params.get("label")}
'''
REPLY = f"Here is the plan.\n\n```python\n{PLANNED}```\n"


def engine(url: str | None = None) -> Engine:
    """The test host's engine on `url`, whose planner answers with `PLANNED`."""
    found = make_engine(url or "sqlite:///agentflow.db", isolation="inline")
    found.model = ScriptedModel([REPLY] * 100)
    return found
