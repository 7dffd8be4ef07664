"""The demo shop: the tools the cookbook recipes use, over in-memory data."""

from __future__ import annotations

from typing import Any

from agentflow import Engine

ORDERS: list[dict[str, Any]] = [
    {"id": 1001, "email": "ada@example.com", "status": "open", "total": 42.0},
    {"id": 1002, "email": "grace@example.com", "status": "open", "total": 17.5},
    {"id": 1003, "email": "alan@example.com", "status": "shipped", "total": 99.0},
]

FACTS = {
    "durable execution": "checkpoint every step; replay to resume after a crash",
    "sandboxing": "run untrusted code with a restricted namespace and a compute budget",
}


def register_shop_tools(engine: Engine, outbox: list[dict[str, Any]] | None = None) -> None:
    """Register `list_orders`, `send_email`, `refund` and `lookup` on an engine."""
    sent = outbox if outbox is not None else []

    @engine.tool(side_effects=False)
    def list_orders(status: str = "open") -> list[dict[str, Any]]:
        """List the shop's orders that have the given status ("open", "shipped")."""
        return [dict(order) for order in ORDERS if order["status"] == status]

    @engine.tool(side_effects=True)
    def send_email(to: str, subject: str, body: str) -> dict[str, Any]:
        """Send an email to one address. Returns {"sent": True, "to": ...}."""
        sent.append({"to": to, "subject": subject, "body": body})
        return {"sent": True, "to": to}

    @engine.tool(side_effects=True)
    def refund(order_id: int) -> dict[str, Any]:
        """Refund an order in full. Returns {"order_id": ..., "refunded": amount}."""
        order = next((o for o in ORDERS if o["id"] == order_id), None)
        if order is None:
            from agentflow import NonRetryableError

            raise NonRetryableError(f"no order {order_id}")
        return {"order_id": order_id, "refunded": order["total"]}

    @engine.tool(side_effects=False)
    def lookup(topic: str) -> str:
        """Look a topic up in the knowledge base; returns one sentence."""
        return FACTS.get(topic.lower(), f"nothing known about {topic}")
