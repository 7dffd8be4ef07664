"""Every week for a month, email the open-order report to ops."""


def run(event, step):
    weeks = event.params.get("weeks", 4)
    sent = []
    for week in range(weeks):
        orders = step.do("fetch open orders", tools.list_orders, status="open")
        lines = [f"#{order['id']} {order['email']}" for order in orders]
        body = f"{len(orders)} open orders:\n" + "\n".join(lines)
        step.do(
            "email report",
            tools.send_email,
            to="ops@example.com",
            subject=f"Open orders, week {week + 1}",
            body=body,
        )
        sent.append(len(orders))
        if week + 1 < weeks:
            step.sleep("wait a week", event.params.get("interval", "7 days"))
    return {"reports": len(sent), "open_orders": sent}
