"""The travel host: bookings, a payment that can be declined, and the calls that undo them."""

from __future__ import annotations

from typing import Any

from agentflow import Engine, NonRetryableError

#: What the tools did, in order.
LEDGER: list[str] = []

AGENT_ID = "travel-desk"
TOOLS = ["book_flight", "book_hotel", "charge_card", "cancel_flight", "cancel_hotel"]
GOAL = (
    "Book the trip's flight and hotel and charge the card; if any step fails for good, "
    "cancel what was already booked, newest first"
)
#: A card the payment provider always declines.
DECLINED_CARD = "4000-0000-0000-0002"


def build_engine(url: str | None = None) -> Engine:
    """An engine with the travel tools registered."""
    engine = Engine(url)

    @engine.tool(side_effects=True)
    def book_flight(traveller: str, destination: str) -> dict[str, Any]:
        """Reserve a seat; returns {"booking_id", "price"}."""
        LEDGER.append(f"booked flight to {destination} for {traveller}")
        return {"booking_id": f"FL-{destination[:3].upper()}", "price": 320.0}

    @engine.tool(side_effects=True)
    def book_hotel(traveller: str, destination: str, nights: int) -> dict[str, Any]:
        """Reserve a room; returns {"booking_id", "price"}."""
        LEDGER.append(f"booked {nights} nights in {destination} for {traveller}")
        return {"booking_id": f"HT-{destination[:3].upper()}", "price": 110.0 * nights}

    @engine.tool(side_effects=True)
    def charge_card(card: str, amount: float) -> dict[str, Any]:
        """Charge a card; a declined card fails for good (NonRetryableError)."""
        if card == DECLINED_CARD:
            raise NonRetryableError(f"card ending {card[-4:]} was declined")
        LEDGER.append(f"charged {amount:.2f} to card ending {card[-4:]}")
        return {"charged": amount}

    @engine.tool(side_effects=True)
    def cancel_flight(booking_id: str) -> dict[str, Any]:
        """Cancel a flight booking (idempotent)."""
        LEDGER.append(f"cancelled {booking_id}")
        return {"cancelled": booking_id}

    @engine.tool(side_effects=True)
    def cancel_hotel(booking_id: str) -> dict[str, Any]:
        """Cancel a hotel booking (idempotent)."""
        LEDGER.append(f"cancelled {booking_id}")
        return {"cancelled": booking_id}

    return engine
