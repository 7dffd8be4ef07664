"""Recorded replies: what the planner replays for cookbook goals when no model is configured."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from agentflow.planner.goals import goal_key

_PACKAGE = "agentflow.cookbook"
_DIRECTORY = "recorded"


@lru_cache(maxsize=1)
def recorded_replies() -> dict[str, tuple[str, str]]:
    """Every recorded reply shipped with the cookbook: goal key -> (goal, reply)."""
    found: dict[str, tuple[str, str]] = {}
    try:
        folder = resources.files(_PACKAGE).joinpath(_DIRECTORY)
        files = sorted(folder.iterdir(), key=lambda f: f.name)
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        return found
    for item in files:
        if item.name.endswith(".json"):
            data = json.loads(item.read_text(encoding="utf-8"))
            found[goal_key(data["goal"])] = (data["goal"], data["reply"])
    return found


def recorded_reply(goal: str) -> str | None:
    """The recorded reply for a goal (compared in normal form), or None."""
    hit = recorded_replies().get(goal_key(goal))
    return hit[1] if hit else None
