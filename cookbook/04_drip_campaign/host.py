"""The marketing host: messages to a user and a look at whether they came back."""

from __future__ import annotations

from typing import Any

from agentflow import Engine

#: The messages sent, in order.
OUTBOX: list[str] = []

AGENT_ID = "onboarding"
TOOLS = ["send_message", "has_logged_in"]
GOAL = (
    "Welcome a new signup, send tips two days later, nudge them a week after that if they "
    "have not logged in, and send a renewal offer on their renewal date"
)


def build_engine(url: str | None = None) -> Engine:
    """An engine with the campaign's tools registered."""
    engine = Engine(url)

    @engine.tool(side_effects=True)
    def send_message(to: str, template: str) -> dict[str, Any]:
        """Email one user one of the campaign's templates ("welcome", "tips", "nudge", ...)."""
        OUTBOX.append(f"{template} -> {to}")
        return {"sent": template}

    @engine.tool(side_effects=False)
    def has_logged_in(user: str) -> bool:
        """Whether the user logged in since signing up."""
        return False

    return engine
