"""The platform's host: one engine, every tenant's tools, and which tenant may use which."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentflow import Engine

#: What the tools did, in order: the recipe prints it at the end.
LEDGER: list[str] = []


@dataclass(frozen=True)
class Tenant:
    """One customer of the platform: its agent, its tool allow-list and what it asked for."""

    agent_id: str
    tools: list[str]
    goal: str
    params: dict[str, Any] = field(default_factory=dict)


TENANTS = [
    Tenant(
        agent_id="acme-billing",
        tools=["list_unpaid_invoices", "send_payment_reminder"],
        goal="Wait a day, then remind every customer with an unpaid invoice",
        params={"grace": "1 day"},
    ),
    Tenant(
        agent_id="globex-warehouse",
        tools=["check_stock", "reorder"],
        goal="Check stock levels tomorrow and reorder every item below its minimum",
        params={"delay": "1 day"},
    ),
    Tenant(
        agent_id="initech-analytics",
        tools=["daily_signups", "post_to_channel"],
        goal="After a day, post yesterday's signup count to the team channel",
        params={"channel": "#growth", "delay": "1 day"},
    ),
]


def build_engine(url: str | None = None) -> Engine:
    """An engine with every tenant's tools registered: what each worker process runs."""
    engine = Engine(url)

    @engine.tool(side_effects=False)
    def list_unpaid_invoices() -> list[dict[str, Any]]:
        """Acme's unpaid invoices: [{"id", "customer", "amount"}]."""
        return [
            {"id": "INV-7", "customer": "ada@example.com", "amount": 120.0},
            {"id": "INV-9", "customer": "alan@example.com", "amount": 35.5},
        ]

    @engine.tool(side_effects=True)
    def send_payment_reminder(customer: str, invoice_id: str) -> dict[str, Any]:
        """Email one customer a reminder about one invoice."""
        LEDGER.append(f"acme: reminded {customer} about {invoice_id}")
        return {"sent": True, "invoice_id": invoice_id}

    @engine.tool(side_effects=False)
    def check_stock() -> list[dict[str, Any]]:
        """Globex's stock: [{"sku", "on_hand", "minimum"}]."""
        return [
            {"sku": "BOLT-M4", "on_hand": 40, "minimum": 100},
            {"sku": "NUT-M4", "on_hand": 500, "minimum": 100},
        ]

    @engine.tool(side_effects=True)
    def reorder(sku: str, quantity: int) -> dict[str, Any]:
        """Order more of one item from the supplier."""
        LEDGER.append(f"globex: reordered {quantity} x {sku}")
        return {"sku": sku, "ordered": quantity}

    @engine.tool(side_effects=False)
    def daily_signups() -> int:
        """Initech's signups of the previous day."""
        return 42

    @engine.tool(side_effects=True)
    def post_to_channel(channel: str, text: str) -> dict[str, Any]:
        """Post a message to a chat channel."""
        LEDGER.append(f"initech: posted to {channel}: {text}")
        return {"posted": True}

    return engine
