"""`Run`: a handle on one run, from any process that shares the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentflow.checkpoints import WAKE_LEAD
from agentflow.errors import NotFound, PlanNotApproved, RunFailed, RunStateError, RunTimeout
from agentflow.models import (
    CLAIMABLE,
    STEP_OUTCOMES,
    TERMINAL,
    HistoryEntry,
    PlanState,
    RunState,
    StepState,
    to_datetime,
)
from agentflow.runtime import PlanVersion, RunStatus, StepStatus
from agentflow.runtime.liveness import release_if_gone
from agentflow.runtime.step_api import checkpointable
from agentflow.store import RunRow, StepRecord, Transition
from agentflow.store.mappers import history_entry_of

if TYPE_CHECKING:
    from agentflow.engine import Engine

_POLL_SECONDS = 0.05


def step_status_of(row: StepRecord) -> StepStatus:
    """One timeline entry from a stored step record."""
    duration = None
    if row.started_at is not None and row.ended_at is not None:
        duration = round((row.ended_at - row.started_at) * 1000, 3)
    return StepStatus(
        key=row.key,
        name=row.name,
        occurrence=row.occurrence,
        kind=row.kind,
        status=StepState(row.status),
        attempts=row.attempts,
        parent=row.parent_key,
        started_at=to_datetime(row.started_at),
        ended_at=to_datetime(row.ended_at),
        wake_at=to_datetime(row.wake_at),
        duration_ms=duration,
        output=row.output,
        error=row.error,
    )


def run_status_of(row: RunRow, steps: list[StepRecord]) -> RunStatus:
    """The public status of a stored run."""
    return RunStatus(
        id=row.run_id,
        agent_id=row.agent_id,
        plan_id=row.plan_id,
        status=row.status,  # type: ignore[arg-type]
        params=row.params,
        output=row.output,
        error=row.error,
        created_at=to_datetime(row.created_at),  # type: ignore[arg-type]
        updated_at=to_datetime(row.updated_at),  # type: ignore[arg-type]
        started_at=to_datetime(row.started_at),
        ended_at=to_datetime(row.ended_at),
        wake_at=to_datetime(row.wake_at)
        if row.status in (RunState.SLEEPING, RunState.WAITING)
        else None,
        waiting_for=row.waiting_for,
        activations=row.activations,
        log=row.log,
        steps=[step_status_of(s) for s in steps],
    )


def no_such_run(agent_id: str, run_id: str) -> str:
    """The one message for a run an agent cannot see: missing and foreign read the same."""
    return f"agent {agent_id!r} has no run {run_id!r}"


class Run:
    """A handle on a run: read its status, send it events, drive it, control it.

    A handle obtained through an agent (`agent.start`, `agent.runs`, `agent.get_run`) is bound
    to that agent: every read, event and control checks that the run is still the agent's, and
    answers NotFound otherwise, with the same message as for a run that does not exist. The
    engine's own handles (`engine.get_run`, `engine.runs`) are the host operator's view.
    """

    def __init__(
        self,
        engine: Engine,
        run_id: str,
        agent_id: str,
        *,
        key: str | None = None,
        bound: bool = False,
    ) -> None:
        self.engine = engine
        self.id = run_id
        self.agent_id = agent_id
        self._key = key or run_id
        self._bound = bound

    @classmethod
    def of(cls, engine: Engine, row: RunRow, *, bound: bool = False) -> Run:
        """The handle of a stored run (bound to its agent when `bound`)."""
        return cls(engine, row.run_id, row.agent_id, key=row.id, bound=bound)

    @property
    def key(self) -> str:
        """The run's key, unique in the whole store (its id is unique only per agent)."""
        return self._key

    def __repr__(self) -> str:
        return f"Run({self.id!r}, agent={self.agent_id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def _row(self) -> RunRow:
        try:
            row = self.engine.store.get_run(self._key)
        except NotFound:
            if self._bound:
                raise NotFound(no_such_run(self.agent_id, self.id)) from None
            raise
        if self._bound and row.agent_id != self.agent_id:
            raise NotFound(no_such_run(self.agent_id, self.id))
        return row

    @property
    def _scope(self) -> str | None:
        """The agent a bound handle's writes are kept to (None: the operator's handle)."""
        return self.agent_id if self._bound else None

    def status(self) -> RunStatus:
        """The run's state, output or error, and its step timeline."""
        row = self._row()
        return run_status_of(row, self.engine.store.load_steps(row.id))

    def history(self) -> list[HistoryEntry]:
        """Every change to the run so far, oldest first: its append-only history.

        Entries are never rewritten: a restart, a repair, a pause or a termination adds
        entries (with who asked and why) and leaves the earlier ones as they were.
        """
        row = self._row()
        return [history_entry_of(h) for h in self.engine.store.load_history(row.id)]

    def send_event(
        self,
        type: str,
        payload: Any = None,
        *,
        id: str | None = None,
        actor: str | None = None,
    ) -> bool:
        """Send an event; a wait for that type receives it (now, or when it gets there).

        Args:
            type: the event's type, which `step.wait_for_event(..., type=...)` waits for.
            payload: JSON-serialisable data.
            id: an idempotency key: an event sent again with an id this run already received
                is not delivered a second time.
            actor: who sends it, for the run's history.

        Returns:
            True when the event was added; False when `id` was already received.

        Raises:
            RunStateError: the run has already ended (and `id`, if given, is a new one).
            LimitExceeded: the payload is not JSON or is larger than the limit (1 MiB).
        """
        if not isinstance(type, str) or not type or len(type) > 256:
            raise ValueError("an event type must be a non-empty text of at most 256 characters")
        if id is not None and (not isinstance(id, str) or not id or len(id) > 256):
            raise ValueError("an event id must be a non-empty text of at most 256 characters")
        payload = checkpointable(
            payload, self.engine.limits.max_event_bytes, f"the payload of event {type!r}"
        )
        row = self._row()
        if id is not None and self.engine.store.event_received(self._key, id):
            return False  # a retry of an event already received, even if the run ended since
        if row.status in TERMINAL:
            raise RunStateError(f"run {self.id} is {row.status}; it takes no more events")
        added = self.engine.store.add_event(
            self._key, type, payload, idempotency_key=id, actor=actor
        )
        self.engine.notify()
        return added is not None

    def result(self, timeout: float | None = None) -> Any:
        """Drive the run in this process when it is due, and wait for its end; its output.

        Raises:
            RunFailed: the run ended errored or terminated.
            RunTimeout: `timeout` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            row = self._row()
            if row.status == RunState.COMPLETE:
                return row.output
            if row.status in TERMINAL:
                raise RunFailed(self.id, row.status, row.error)
            now = time.time()
            # Claiming takes the write lock: try only when the run looks due and unleased.
            due = _due(row, now)
            free = row.lease_owner is None or (row.lease_expires_at or 0) < now
            if (
                row.lease_owner is not None
                and not free
                and release_if_gone(self.engine.store, row.lease_owner, self.engine.owner)
            ):
                free = True  # its worker is gone: its lease need not lapse first
            if due and free:
                self.engine.warm_sandboxes()  # starts while the run is claimed and loaded
            claimed = (
                self.engine.store.claim_run(self._key, self.engine.owner, self.engine.lease_seconds)
                if due and free
                else None
            )
            if claimed is not None:
                self.engine.activate(claimed)
                continue
            pause = _POLL_SECONDS
            if (
                row.status == RunState.SLEEPING
                and row.wake_at is not None
                and row.lease_owner is None
            ):
                pause = max(0.0, min(row.wake_at - WAKE_LEAD - now, 1.0))
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RunTimeout(self.id, row.status, timeout or 0.0)
                pause = min(pause, left)
            with self.engine.wakeup:
                self.engine.wakeup.wait(pause)

    # --- control -------------------------------------------------------------------------

    def pause(self, *, actor: str | None = None, reason: str | None = None) -> None:
        """Stop the run at its next step boundary until `resume()`.

        Args:
            actor: who asks, for the run's history.
            reason: why, for the run's history.

        Raises:
            RunStateError: the run has already ended.
        """
        self._control(self.engine.store.request_pause, actor, reason)

    def terminate(self, *, actor: str | None = None, reason: str | None = None) -> None:
        """End the run for good at its next step boundary.

        Args:
            actor: who asks, for the run's history.
            reason: why, for the run's history.

        Raises:
            RunStateError: the run has already ended.
        """
        self._control(self.engine.store.request_terminate, actor, reason)

    def _control(
        self, request: Callable[..., Transition], actor: str | None, reason: str | None
    ) -> None:
        ended = self._row().status in TERMINAL
        if ended or request(self._key, self._scope, actor=actor, reason=reason) is (
            Transition.ENDED
        ):
            raise RunStateError(f"run {self.id} is already {self._row().status}")
        self.engine.notify()

    def resume(self, *, actor: str | None = None, reason: str | None = None) -> None:
        """Let a paused run go on from where it stopped.

        Args:
            actor: who asks, for the run's history.
            reason: why, for the run's history.

        Raises:
            RunStateError: the run is not paused (nor about to pause).
        """
        self._row()
        resumed = self.engine.store.resume(self._key, self._scope, actor=actor, reason=reason)
        if resumed is Transition.REFUSED:
            raise RunStateError(f"run {self.id} is {self._row().status}, not paused")
        self.engine.notify()

    def restart(
        self,
        from_step: str | None = None,
        plan: PlanVersion | int | None = None,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Run again: from the start, from a named step, or on another approved plan version.

        - `restart()` drops every checkpoint and runs the plan from the beginning;
        - `restart(from_step="name")` keeps the checkpoints before that step's first occurrence;
        - `restart(plan=v)` moves the run to version `v` of the same agent and keeps every
          checkpoint whose step key and inputs still match, which is how a failed run goes on
          with a repaired plan.

        The run's history records the restart (or the move to the repaired version, with the
        approval that let it run), the steps kept, `actor` and `reason`.

        Raises:
            RunStateError: a worker is running the run now: pause or terminate it first.
            NotFound: no such step, or the plan version is another agent's.
            PlanNotApproved: the plan version is not approved.
        """
        store = self.engine.store
        row = self._row()
        if self._leased(row):
            raise self._running_elsewhere(row)
        steps = store.load_steps(self._key)
        top = [s for s in steps if s.parent_key is None]
        plan_id: int | None = None
        from_seq: int | None = 0
        if plan is not None:
            target = store.get_plan(plan if isinstance(plan, int) else plan.id)
            if target.agent_id != row.agent_id:
                raise NotFound(f"plan version {target.id} belongs to another agent")
            if target.status != PlanState.APPROVED:
                raise PlanNotApproved(target.id or 0, target.status)
            plan_id = target.id
            unfinished = [s.seq for s in top if s.status not in STEP_OUTCOMES]
            from_seq = min(unfinished) if unfinished else None
        elif from_step is not None:
            matches = [s.seq for s in top if from_step in (s.name, s.key)]
            if not matches:
                raise NotFound(f"run {self.id} has no step named {from_step!r}")
            from_seq = min(matches)
        restarted = store.restart(
            self._key,
            self._scope,
            from_seq=from_seq,
            plan_id=plan_id,
            actor=actor,
            reason=reason,
            detail={"from_step": from_step} if from_step is not None else None,
        )
        if restarted is Transition.REFUSED:
            raise self._running_elsewhere(self._row())
        self.engine.notify()

    def retry(self, *, actor: str | None = None, reason: str | None = None) -> None:
        """Run a failed run again from the step that failed, keeping every step it finished.

        A run that failed outside any step (its plan raised) keeps all its checkpoints and
        replays from the start without calling a tool again.

        Raises:
            RunStateError: the run has not failed (only an errored run is retried).
        """
        row = self._row()
        if row.status != RunState.ERRORED:
            raise RunStateError(f"run {self.id} is {row.status}; only an errored run is retried")
        top = [s for s in self.engine.store.load_steps(self._key) if s.parent_key is None]
        unfinished = [s.seq for s in top if s.status not in STEP_OUTCOMES]
        from_seq = min(unfinished) if unfinished else None
        retried = self.engine.store.restart(
            self._key,
            self._scope,
            from_seq=from_seq,
            actor=actor,
            reason=reason,
            detail={"retry": True},
        )
        if retried is Transition.REFUSED:
            raise self._running_elsewhere(self._row())
        self.engine.notify()

    @staticmethod
    def _leased(row: RunRow) -> bool:
        return row.status == RunState.RUNNING and (row.lease_expires_at or 0) > time.time()

    def _running_elsewhere(self, row: RunRow) -> RunStateError:
        return RunStateError(
            f"run {self.id} is running in {row.lease_owner}: pause or terminate it first"
        )

    async def result_async(self, timeout: float | None = None) -> Any:
        """`result` for async code.

        Drives and awaits the run in a worker thread, so the event loop never blocks.

        Raises:
            RunFailed: the run ended errored or terminated.
            RunTimeout: `timeout` seconds passed first.
        """
        import asyncio

        return await asyncio.to_thread(self.result, timeout)


def _due(row: RunRow, now: float) -> bool:
    """Whether the run may be claimed now (a sleeping one up to WAKE_LEAD early, as workers do)."""
    if row.status not in CLAIMABLE:
        return False
    lead = WAKE_LEAD if row.status == RunState.SLEEPING else 0.0
    return (row.wake_at or 0) <= now + lead
