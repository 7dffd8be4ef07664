"""Goals: their normal form and the key under which a plan for a goal is reused."""

from __future__ import annotations

import hashlib
import re

_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s.!?;:,…]+$")


def normalise_goal(goal: str) -> str:
    """Casefold, collapse whitespace and drop trailing punctuation.

    Example:
        >>> normalise_goal("  Email the   report to ops! ")
        'email the report to ops'
    """
    return _TRAILING.sub("", _SPACES.sub(" ", goal.casefold()).strip())


def goal_key(goal: str) -> str:
    """The SHA-256 (hex) of the normalised goal: 64 characters, fit for an index."""
    return hashlib.sha256(normalise_goal(goal).encode()).hexdigest()
