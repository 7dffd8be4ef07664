"""The runtime's suspension signal; an `ExecutorSignal`, so plan code cannot catch it."""

from __future__ import annotations

from dataclasses import dataclass

from agentflow.errors import ExecutorSignal
from agentflow.states import RunState


@dataclass
class Suspension:
    """Why and until when a run stops holding a worker."""

    status: RunState  # one of SUSPENDED
    wake_at: float | None = None
    waiting_for: str | None = None


class Suspend(ExecutorSignal):
    """Unwinds plan code when a run must stop: it sleeps, waits, is paused or terminated."""

    def __init__(self, suspension: Suspension) -> None:
        super().__init__(suspension.status)
        self.suspension = suspension
