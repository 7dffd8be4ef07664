"""Cookbook recipes: plans to start from, each with its goal, tools and a demo run."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Recipe:
    """A cookbook plan with what it needs to run: tools, params and the events it waits for."""

    name: str
    goal: str
    tools: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    events: tuple[tuple[str, Any], ...] = ()

    @property
    def source(self) -> str:
        """The plan's source code."""
        return resources.files(__name__).joinpath(f"{self.name}.py").read_text()


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            name="order_followup",
            goal="Remind customers with open orders, wait a little, "
            "then refund the first order if a manager approves",
            tools=("list_orders", "send_email", "refund"),
            params={"grace": "2 seconds"},
            events=(("refund-approval", {"approved": True}),),
        ),
        Recipe(
            name="weekly_report",
            goal="Every week for a month, email the open-order report to ops",
            tools=("list_orders", "send_email"),
            params={"weeks": 2, "interval": "1 second"},
        ),
        Recipe(
            name="research_digest",
            goal="Look up several topics at once and put the findings in one digest",
            tools=("lookup",),
            params={"topics": ["durable execution", "sandboxing"]},
        ),
    )
}

__all__ = ["RECIPES", "Recipe"]
