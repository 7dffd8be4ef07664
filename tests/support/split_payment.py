"""A cookbook-like case for the reviewer: a repair that splits a refused payment into parts.

Version 1 looks up an invoice and pays it in one call, `pay(amount=500)`; the payment tool
refuses anything over 100 per payment, so the run errors after the look-up. The repair the model
writes (replayed here offline) pays `amount=100` five times in a loop: the same 500 in parts
below the limit. A reviewer must be told the call count and the amount changed and that the
original was refused, not shown "a loop" like any other.

`python -m tests.support.split_payment URL` leaves such a store at URL (for a server to show).
"""

from __future__ import annotations

import sys
from typing import Any

from agentflow import Engine, NonRetryableError, Run, repair
from agentflow.planner import RecordedModel
from agentflow.runtime import PlanVersion

AGENT_ID = "payments"
GOAL = "Pay invoice INV-7 to the supplier"
LIMIT = 100

#: Payments made, in order, by every engine of this process.
PAID: list[dict[str, Any]] = []

ORIGINAL = '''"""Look the invoice up and pay it."""


def run(event, step):
    invoice = step.do("look up invoice", tools.lookup_invoice, invoice_id=event.params["invoice"])
    receipt = step.do("pay invoice", tools.pay, invoice_id=invoice["id"], amount=500)
    return {"paid": [receipt]}
'''

REPAIRED = '''"""Look the invoice up and pay it in parts the payment tool accepts."""


def run(event, step):
    invoice = step.do("look up invoice", tools.lookup_invoice, invoice_id=event.params["invoice"])
    receipts = []
    for part in range(5):
        receipts.append(
            step.do("pay part", tools.pay, invoice_id=invoice["id"], amount=100)
        )
    return {"paid": receipts}
'''


def build_engine(url: str, **options: Any) -> Engine:
    """An engine with the invoice look-up and the payment tool (which refuses over `LIMIT`)."""
    engine = Engine(url, isolation="inline", **options)

    @engine.tool(side_effects=False)
    def lookup_invoice(invoice_id: str) -> dict[str, Any]:
        """The invoice: {"id", "supplier", "total"}."""
        return {"id": invoice_id, "supplier": "Initech", "total": 500}

    @engine.tool(side_effects=True)
    def pay(invoice_id: str, amount: int) -> dict[str, Any]:
        """Pay `amount` towards an invoice; one payment may be at most LIMIT."""
        if amount > LIMIT:
            raise NonRetryableError(
                f"payment of {amount} refused: the limit is {LIMIT} per payment"
            )
        PAID.append({"invoice": invoice_id, "amount": amount})
        return {"invoice": invoice_id, "amount": amount}

    return engine


def refused_and_repaired(
    engine: Engine, invoice: str = "INV-7", **agent: Any
) -> tuple[Run, PlanVersion]:
    """Run version 1 until the payment is refused, and store the repair, pending review.

    Returns the failed run and the repaired version (whose approval restarts the run on it).
    """
    payments = engine.agent(AGENT_ID, tools=["lookup_invoice", "pay"], **agent)
    original = payments.submit_plan(ORIGINAL, goal=GOAL)
    engine.reviews.approve(original.id, reviewer="dana", comment="one payment")
    run = payments.start({"invoice": invoice}, plan=original, run_id="pay-inv-7")
    engine.work(until_idle=True)
    reply = f"```python\n{REPAIRED}```\n"
    repaired = repair(run.id, engine=engine, model=RecordedModel(reply, GOAL))
    return run, repaired


def main(url: str) -> None:
    """Leave a refused run and its pending repair in the store at `url`."""
    engine = build_engine(url)
    run, repaired = refused_and_repaired(engine, review="required", approvals={"high": 2})
    print(f"{run.id} {repaired.id}")
    engine.close()


if __name__ == "__main__":
    main(sys.argv[1])
