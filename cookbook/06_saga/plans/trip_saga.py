"""Book flight, hotel and payment; when a step fails for good, undo the completed ones."""


def run(event, step):
    trip = event.params
    retries = {"limit": 2, "delay": "1 second"}
    undo = []
    try:
        flight = step.do(
            "book flight",
            tools.book_flight,
            traveller=trip["traveller"],
            destination=trip["destination"],
            retries=retries,
        )
        undo.append({"step": "cancel flight", "booking_id": flight["booking_id"]})
        hotel = step.do(
            "book hotel",
            tools.book_hotel,
            traveller=trip["traveller"],
            destination=trip["destination"],
            nights=trip["nights"],
            retries=retries,
        )
        undo.append({"step": "cancel hotel", "booking_id": hotel["booking_id"]})
        total = flight["price"] + hotel["price"]
        step.do("charge card", tools.charge_card, card=trip["card"], amount=total, retries=retries)
    except StepFailed as failure:
        for action in reversed(undo):
            cancel = (
                tools.cancel_flight if action["step"] == "cancel flight" else tools.cancel_hotel
            )
            step.do(action["step"], cancel, booking_id=action["booking_id"])
        return {"booked": False, "undone": [a["booking_id"] for a in undo], "error": str(failure)}
    return {"booked": True, "total": total}
