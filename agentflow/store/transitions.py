"""What the store's named transitions take and answer.

`Transition`, `Settlement`, `NewPlanVersion` and `StartOnApproval`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from agentflow.states import RunState
from agentflow.store.tables import StepWrite


class Transition(StrEnum):
    """What a transition did; each method says which of these it answers."""

    DONE = "done"
    """The run moved to the asked-for state."""
    REQUESTED = "requested"
    """The run is running under a live lease: its activation honours the request at its next
    step boundary."""
    WITHDRAWN = "withdrawn"
    """A pause the activation had not honoured yet was withdrawn."""
    REFUSED = "refused"
    """The run's state does not allow it (resuming a run that is not paused, restarting one
    that is running under a live lease)."""
    ENDED = "ended"
    """The run had already ended."""
    LOST = "lost"
    """The caller no longer holds the run's lease."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """How an activation leaves its run: the run's new state and what goes with it.

    A run settled `queued` never ran its plan (its tools were missing): a pending control
    request and a pending rebase are kept for the activation that will. Any other settlement
    clears them; an ended run (complete, errored, terminated) gets its end time, and is due
    no more.
    """

    status: RunState
    wake_at: float | None = None
    waiting_for: str | None = None
    output: Any = None
    error: dict[str, Any] | None = None
    checkpoints: tuple[StepWrite, ...] = ()
    """Steps the activation finished but has not written yet: written with the settlement."""


@dataclass(frozen=True, slots=True)
class StartOnApproval:
    """What a reviewer's approval of a pending plan version sets going.

    A new run (`run_id`, `params`), or, for a repaired version, the restart of the failed run
    `restart_run_id` on it.
    """

    run_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    restart_run_id: str | None = None

    @classmethod
    def stored(cls, data: Mapping[str, Any] | None) -> StartOnApproval | None:
        """From its JSON column (None when nothing waits for the approval)."""
        if not data:
            return None
        return cls(
            run_id=data.get("run_id"),
            params=dict(data.get("params") or {}),
            restart_run_id=data.get("restart_run_id"),
        )

    def to_json(self) -> dict[str, Any]:
        """As its JSON column keeps it."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class NewPlanVersion:
    """A plan version to store (pending review), with where it came from.

    `summary` and `warnings` are the compiler's, as JSON; the provenance fields (`model`,
    `prompt_hash`, `tokens`, `cost`, `generation`) are the planner's, when a model wrote it.
    """

    agent_id: str
    sha256: str
    source: str
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[Any] = field(default_factory=list)
    goal: str | None = None
    goal_key: str | None = None
    catalogue_hash: str | None = None
    origin: str = "submitted"
    parent_id: int | None = None
    model: str | None = None
    prompt_hash: str | None = None
    tokens: int | None = None
    cost: float | None = None
    generation: list[Any] = field(default_factory=list)
    start_on_approval: StartOnApproval | None = None
