"""The accounting host: invoices, currency conversion with a gap, and a ledger."""

from __future__ import annotations

from typing import Any

from agentflow import Engine, NonRetryableError

#: Ledger entries written, in order: each invoice must be entered once, even across the repair.
LEDGER: list[str] = []

AGENT_ID = "accounts"
TOOLS = ["list_invoices", "to_eur", "to_usd", "record_entry"]
GOAL = "Convert this month's invoices to euros, enter each in the ledger, and return the total"

_TO_EUR = {"EUR": 1.0, "USD": 0.9, "GBP": 1.17}
_TO_USD = {"JPY": 0.0067, "EUR": 1.11}


def build_engine(url: str | None = None) -> Engine:
    """An engine with the accounting tools registered."""
    engine = Engine(url)

    @engine.tool(side_effects=False)
    def list_invoices() -> list[dict[str, Any]]:
        """This month's invoices: [{"id", "amount", "currency"}]."""
        return [
            {"id": "A-1", "amount": 100.0, "currency": "EUR"},
            {"id": "A-2", "amount": 250.0, "currency": "USD"},
            {"id": "A-3", "amount": 30000.0, "currency": "JPY"},
        ]

    @engine.tool(side_effects=False)
    def to_eur(amount: float, currency: str) -> dict[str, float]:
        """Convert an amount to euros: {"eur": amount}. Knows EUR, USD and GBP only."""
        if currency not in _TO_EUR:
            raise NonRetryableError(f"no euro rate for {currency}: convert it with to_usd first")
        return {"eur": round(amount * _TO_EUR[currency], 2)}

    @engine.tool(side_effects=False)
    def to_usd(amount: float, currency: str) -> dict[str, float]:
        """Convert an amount to US dollars: {"usd": amount}. Knows JPY and EUR."""
        return {"usd": round(amount * _TO_USD[currency], 2)}

    @engine.tool(side_effects=True)
    def record_entry(invoice_id: str, amount_eur: float) -> dict[str, Any]:
        """Enter one invoice in the ledger, in euros."""
        LEDGER.append(f"{invoice_id}: {amount_eur:.2f} EUR")
        return {"entered": invoice_id}

    return engine
