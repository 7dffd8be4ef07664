"""Step scopes: which step attempt a thread runs, where tools may be called.

Free of pydantic (tool registration, in `tools.py`, needs it; a sandbox process does not).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from agentflow.errors import ToolNotAllowed

_step_scope = threading.local()


class StepScope:
    """One attempt of one step: tools may be called inside it until it expires (times out)."""

    __slots__ = ("expired", "key")

    def __init__(self, key: str) -> None:
        self.key = key
        self.expired = False


def current_scope(tool: str) -> StepScope:
    """The step attempt this thread runs, where `tool` may be called; raises ToolNotAllowed."""
    scope: StepScope | None = getattr(_step_scope, "scope", None)
    if scope is None:
        raise ToolNotAllowed(
            tool,
            message=f"tool {tool!r} was called outside a step: "
            f"call it through step.do('...', tools.{tool}, ...) so it is checkpointed",
        )
    if scope.expired:
        raise ToolNotAllowed(
            tool,
            message=f"tool {tool!r} was called by an attempt of step {scope.key!r} "
            "that had already timed out; its result could never be recorded",
        )
    return scope


@contextmanager
def inside_step(scope: StepScope) -> Iterator[None]:
    """Mark this thread as running a step's function, where tools may be called."""
    previous = getattr(_step_scope, "scope", None)
    _step_scope.scope = scope
    try:
        yield
    finally:
        _step_scope.scope = previous
