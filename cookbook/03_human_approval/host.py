"""The expenses host: approval requests, payouts and messages to the person who filed."""

from __future__ import annotations

from typing import Any

from agentflow import Engine

#: What the tools did, in order.
LEDGER: list[str] = []

AGENT_ID = "expenses"
TOOLS = ["request_approval", "reimburse", "notify_requester"]
GOAL = (
    "Ask the expense's manager to approve it; if there is no answer within two days, escalate "
    "to the director; pay out what is approved and tell the requester"
)


def build_engine(url: str | None = None) -> Engine:
    """An engine with the expense tools registered."""
    engine = Engine(url)

    @engine.tool(side_effects=True)
    def request_approval(approver: str, expense_id: str, amount: float) -> dict[str, Any]:
        """Email an approver a link to approve or decline an expense; the decision comes back
        as an `expense-decision` event {"approved": bool, "by": email}.
        """
        LEDGER.append(f"asked {approver} to decide {expense_id} ({amount:.2f})")
        return {"asked": approver}

    @engine.tool(side_effects=True)
    def reimburse(expense_id: str, amount: float) -> dict[str, Any]:
        """Pay an approved expense out with the next payroll."""
        LEDGER.append(f"paid {expense_id}: {amount:.2f}")
        return {"paid": amount}

    @engine.tool(side_effects=True)
    def notify_requester(to: str, text: str) -> dict[str, Any]:
        """Email the person who filed the expense."""
        LEDGER.append(f"told {to}: {text}")
        return {"sent": True}

    return engine
