"""The shop assistant's host: shipment checks and email, and the agent frameworks hand over to."""

from __future__ import annotations

from collections import Counter
from typing import Any

from agentflow import Engine

#: The emails sent, in order.
OUTBOX: list[str] = []
#: How often each order's shipment was checked; an order ships at its second check.
CHECKS: Counter[int] = Counter()

AGENT_ID = "shop-assistant"
TOOLS = ["check_shipment", "send_email"]
GOAL = (
    "Check the order's shipment once a day for up to five days "
    "and email the customer its tracking number as soon as it ships"
)


def build_engine(url: str | None = None) -> Engine:
    """An engine with the shop assistant's tools registered."""
    engine = Engine(url)

    @engine.tool(side_effects=False)
    def check_shipment(order_id: int) -> dict[str, Any]:
        """Ask the warehouse about an order: {"shipped": bool, "tracking": str | None}."""
        CHECKS[order_id] += 1
        shipped = CHECKS[order_id] >= 2
        return {"shipped": shipped, "tracking": f"TRK{order_id}" if shipped else None}

    @engine.tool(side_effects=True)
    def send_email(to: str, subject: str, body: str) -> dict[str, Any]:
        """Send an email to one address."""
        OUTBOX.append(f"{to}: {subject}: {body}")
        return {"sent": True}

    return engine
