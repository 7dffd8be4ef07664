"""The cookbook: recipes in folders (`01_multi_tenant/`, ...), each a README, a host and a `run.py`.

Installed as `agentflow.cookbook`, it is also package data for the planner: `RECIPES` lists every
plan of every recipe with the goal it answers; `recorded/` holds the model reply replayed for each
goal when no model is configured; a few plans are the planner's prompt examples; and `shop.py`
with the shop plans is what `agentflow demo` runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Recipe:
    """One cookbook plan with what it needs to run: tools, params and the events it waits for.

    Attributes:
        name: the plan's name, also its file name (`<folder>/plans/<name>.py`) and the name of
            its recorded reply (`recorded/<name>.json`).
        goal: the goal the plan answers, as a recipe hands it to `plan_and_run`.
        tools: the tools the recipe's agent may use.
        folder: the recipe's folder under `cookbook/`.
        params: example params for a run.
        events: the events a run waits for, in order, as (type, payload).
        fixtures: example results per tool, for a dry run (`engine.reviews.simulate` and
            `agentflow review simulate --fixtures`) of the plan; tools not listed return an
            example of their return annotation.
    """

    name: str
    goal: str
    tools: tuple[str, ...]
    folder: str
    params: dict[str, Any] = field(default_factory=dict)
    events: tuple[tuple[str, Any], ...] = ()
    fixtures: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """The plan's source code."""
        plan = resources.files(__name__).joinpath(self.folder, "plans", f"{self.name}.py")
        return plan.read_text(encoding="utf-8")


#: The plans `agentflow demo` runs on the demo shop (`shop.py`).
SHOP_RECIPES: tuple[str, ...] = ("order_followup", "weekly_report", "research_digest")

RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            name="acme_billing",
            goal="Wait a day, then remind every customer with an unpaid invoice",
            tools=("list_unpaid_invoices", "send_payment_reminder"),
            folder="01_multi_tenant",
            params={"grace": "1 day"},
            fixtures={"list_unpaid_invoices": [{"id": "INV-7", "customer": "ada@example.com"}]},
        ),
        Recipe(
            name="globex_warehouse",
            goal="Check stock levels tomorrow and reorder every item below its minimum",
            tools=("check_stock", "reorder"),
            folder="01_multi_tenant",
            params={"delay": "1 day"},
            fixtures={
                "check_stock": [
                    {"sku": "BOLT-M4", "on_hand": 40, "minimum": 100},
                    {"sku": "NUT-M4", "on_hand": 500, "minimum": 100},
                ]
            },
        ),
        Recipe(
            name="initech_analytics",
            goal="After a day, post yesterday's signup count to the team channel",
            tools=("daily_signups", "post_to_channel"),
            folder="01_multi_tenant",
            params={"channel": "#growth", "delay": "1 day"},
        ),
        Recipe(
            name="web_frontend_ci",
            goal="Build every pushed commit, wait up to 30 minutes for the build, "
            "deploy a preview if it passed, and tell the team",
            tools=("start_build", "deploy", "notify"),
            folder="02_ci_cd",
            params={"repo": "web-frontend", "commit": "a1b2c3d"},
            events=(("build-finished", {"passed": True}),),
            fixtures={
                "start_build": {"build_id": "b-1"},
                "deploy": {"url": "https://preview.example.com/b-1"},
            },
        ),
        Recipe(
            name="payments_api_ci",
            goal="Build the release commit, wait up to an hour for the build, deploy to staging "
            "if it passed, and cancel the build and page on-call if it never finishes",
            tools=("start_build", "deploy", "cancel_build", "notify"),
            folder="02_ci_cd",
            params={"repo": "payments-api", "commit": "9f8e7d6"},
            events=(("build-finished", {"passed": True}),),
            fixtures={
                "start_build": {"build_id": "b-2"},
                "deploy": {"url": "https://staging.example.com/b-2"},
            },
        ),
        Recipe(
            name="expense_approval",
            goal="Ask the expense's manager to approve it; if there is no answer within two "
            "days, escalate to the director; pay out what is approved and tell the requester",
            tools=("request_approval", "reimburse", "notify_requester"),
            folder="03_human_approval",
            params={
                "expense": {
                    "id": "EXP-1",
                    "amount": 84.0,
                    "requester": "ada@example.com",
                    "manager": "mo@example.com",
                }
            },
            events=(("expense-decision", {"approved": True}),),
        ),
        Recipe(
            name="order_followup",
            goal="Remind customers with open orders, wait a little, "
            "then refund the first order if a manager approves",
            tools=("list_orders", "send_email", "refund"),
            folder="03_human_approval",
            params={"grace": "2 seconds"},
            events=(("refund-approval", {"approved": True}),),
            fixtures={
                "list_orders": [
                    {"id": 1, "email": "ada@example.com", "status": "open"},
                    {"id": 2, "email": "bob@example.com", "status": "open"},
                ]
            },
        ),
        Recipe(
            name="weekly_report",
            goal="Every week for a month, email the open-order report to ops",
            tools=("list_orders", "send_email"),
            folder="04_drip_campaign",
            params={"weeks": 2, "interval": "1 second"},
            fixtures={
                "list_orders": [
                    {"id": 1, "email": "ada@example.com", "status": "open"},
                    {"id": 2, "email": "bob@example.com", "status": "open"},
                ]
            },
        ),
        Recipe(
            name="research_digest",
            goal="Look up several topics at once and put the findings in one digest",
            tools=("lookup",),
            folder="05_research_fanout",
            params={"topics": ["durable execution", "sandboxing"]},
        ),
        Recipe(
            name="drip_campaign",
            goal="Welcome a new signup, send tips two days later, nudge them a week after that "
            "if they have not logged in, and send a renewal offer on their renewal date",
            tools=("send_message", "has_logged_in"),
            folder="04_drip_campaign",
            params={"user": "ada@example.com", "renewal_at": "2030-01-01T09:00:00+00:00"},
        ),
        Recipe(
            name="research_fanout",
            goal="Fetch every source at once, retrying the flaky ones, "
            "then have a model summarise what they say about the topic",
            tools=("fetch_source", "summarise"),
            folder="05_research_fanout",
            params={"topic": "durable execution", "sources": ["https://example.com/temporal"]},
        ),
        Recipe(
            name="trip_saga",
            goal="Book the trip's flight and hotel and charge the card; if any step fails for "
            "good, cancel what was already booked, newest first",
            tools=("book_flight", "book_hotel", "charge_card", "cancel_flight", "cancel_hotel"),
            folder="06_saga",
            params={"traveller": "ada", "destination": "Lisbon", "nights": 3, "card": "4242"},
            fixtures={
                "book_flight": {"booking_id": "FL-1", "price": 240},
                "book_hotel": {"booking_id": "HO-1", "price": 360},
            },
        ),
        Recipe(
            name="shipment_watch",
            goal="Check the order's shipment once a day for up to five days "
            "and email the customer its tracking number as soon as it ships",
            tools=("check_shipment", "send_email"),
            folder="07_agent_frameworks",
            params={"order_id": 1001, "email": "ada@example.com"},
            fixtures={"check_shipment": {"shipped": True, "tracking": "1Z999"}},
        ),
        Recipe(
            name="invoice_total",
            goal="Convert this month's invoices to euros, enter each in the ledger, "
            "and return the total",
            tools=("list_invoices", "to_eur", "to_usd", "record_entry"),
            folder="08_repair",
            fixtures={
                "list_invoices": [{"id": "INV-1", "amount": 100.0, "currency": "USD"}],
                "to_eur": {"eur": 92.5},
            },
        ),
    )
}

__all__ = ["RECIPES", "SHOP_RECIPES", "Recipe"]
