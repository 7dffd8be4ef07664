"""Check an order's shipment daily for up to five days; email the tracking number once shipped."""


def run(event, step):
    order_id = event.params["order_id"]
    for day in range(event.params.get("days", 5)):
        shipment = step.do("check shipment", tools.check_shipment, order_id=order_id)
        if shipment["shipped"]:
            step.do(
                "email customer",
                tools.send_email,
                to=event.params["email"],
                subject=f"Order {order_id} has shipped",
                body=f"Tracking number: {shipment['tracking']}",
            )
            return {"order_id": order_id, "shipped_on_day": day + 1}
        step.sleep("wait a day", "1 day")
    return {"order_id": order_id, "shipped_on_day": None}
