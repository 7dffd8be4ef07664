"""Check stock levels tomorrow and reorder every item below its minimum."""


def run(event, step):
    step.sleep("until tomorrow", event.params.get("delay", "1 day"))
    stock = step.do("check stock", tools.check_stock)
    ordered = []
    for item in stock:
        if item["on_hand"] < item["minimum"]:
            quantity = item["minimum"] * 2 - item["on_hand"]
            step.do("reorder", tools.reorder, sku=item["sku"], quantity=quantity)
            ordered.append(item["sku"])
    return {"reordered": ordered}
