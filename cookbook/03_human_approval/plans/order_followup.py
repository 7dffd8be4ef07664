"""Remind customers with open orders, wait a little, refund what a manager approves."""


def run(event, step):
    orders = step.do("fetch open orders", tools.list_orders, status="open")
    for order in orders:
        step.do(
            "remind customer",
            tools.send_email,
            to=order["email"],
            subject="Your order",
            body=f"Order {order['id']} is still open.",
        )
    step.sleep("give them a moment", event.params.get("grace", "2 seconds"))
    try:
        answer = step.wait_for_event("manager approval", type="refund-approval", timeout="3 days")
    except WaitTimeout:
        return {"reminded": len(orders), "refunded": None}
    refunded = None
    if answer.payload["approved"]:
        refunded = step.do(
            "refund",
            tools.refund,
            order_id=orders[0]["id"],
            retries={"limit": 3, "delay": "10 seconds", "backoff": "exponential"},
        )
    return {"reminded": len(orders), "refunded": refunded}
