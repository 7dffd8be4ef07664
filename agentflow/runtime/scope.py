"""Step scopes: which step attempt a thread runs, where tools may be called.

Free of pydantic (tool registration, in `tools.py`, needs it; a sandbox process does not).
"""

from __future__ import annotations

import threading
from types import TracebackType

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


class inside_step:
    """Mark this thread as running a step's function, where tools may be called.

    A class (named as the function it replaced) rather than a generator-based context manager:
    it is entered for every step, at a third of the cost.
    """

    __slots__ = ("_previous", "_scope")

    def __init__(self, scope: StepScope) -> None:
        self._scope = scope
        self._previous: StepScope | None = None

    def __enter__(self) -> None:
        self._previous = getattr(_step_scope, "scope", None)
        _step_scope.scope = self._scope

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _step_scope.scope = self._previous
