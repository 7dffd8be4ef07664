"""Ask the manager to approve an expense, escalate to the director after two days of silence."""


def run(event, step):
    expense = event.params["expense"]
    step.do(
        "ask manager",
        tools.request_approval,
        approver=expense["manager"],
        expense_id=expense["id"],
        amount=expense["amount"],
    )
    decided_by = "manager"
    try:
        decision = step.wait_for_event(
            "manager decision", type="expense-decision", timeout="2 days"
        )
    except WaitTimeout:
        decided_by = "director"
        step.do(
            "escalate to director",
            tools.request_approval,
            approver="director@example.com",
            expense_id=expense["id"],
            amount=expense["amount"],
        )
        try:
            decision = step.wait_for_event(
                "director decision", type="expense-decision", timeout="3 days"
            )
        except WaitTimeout:
            step.do(
                "tell requester",
                tools.notify_requester,
                to=expense["requester"],
                text=f"{expense['id']} expired without a decision",
            )
            return {"expense": expense["id"], "approved": False, "decided_by": None}
    approved = bool(decision.payload.get("approved"))
    if approved:
        step.do("pay out", tools.reimburse, expense_id=expense["id"], amount=expense["amount"])
    verdict = "approved" if approved else "declined"
    step.do(
        "tell requester",
        tools.notify_requester,
        to=expense["requester"],
        text=f"{expense['id']} was {verdict} by the {decided_by}",
    )
    return {"expense": expense["id"], "approved": approved, "decided_by": decided_by}
