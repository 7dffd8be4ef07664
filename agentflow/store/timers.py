"""Pending timers (sleeps, retry delays, wait timeouts), which tests skip through."""

from __future__ import annotations

from sqlalchemy import func, select, update

from agentflow.states import RunState, StepState
from agentflow.store.database import Database
from agentflow.store.tables import RUNS, STEPS

_TIMED_RUNS = (RunState.SLEEPING, RunState.WAITING)
_TIMED_STEPS = (StepState.SLEEPING, StepState.WAITING, StepState.RETRYING)


class TimerStore(Database):
    """The wake-up times of suspended runs, read and moved (`agentflow.testing`'s clock)."""

    def next_timer(self, key: str | None = None) -> float | None:
        """The earliest wake-up time of a sleeping or waiting run (optionally one run)."""
        query = select(func.min(RUNS.c.wake_at)).where(RUNS.c.status.in_(_TIMED_RUNS))
        if key is not None:
            query = query.where(RUNS.c.id == key)
        with self._read() as conn:
            return conn.execute(query).scalar()

    def shift_timers(self, seconds: float, key: str | None = None) -> int:
        """Bring every pending timer (sleeps, retry delays, wait timeouts) `seconds` closer.

        Returns how many runs were touched.
        """
        runs = update(RUNS).where(RUNS.c.status.in_(_TIMED_RUNS), RUNS.c.wake_at.is_not(None))
        steps = update(STEPS).where(STEPS.c.status.in_(_TIMED_STEPS), STEPS.c.wake_at.is_not(None))
        if key is not None:
            runs = runs.where(RUNS.c.id == key)
            steps = steps.where(STEPS.c.run_id == key)
        else:
            suspended = select(RUNS.c.id).where(RUNS.c.status.in_(_TIMED_RUNS))
            steps = steps.where(STEPS.c.run_id.in_(suspended))
        with self._tx() as conn:
            conn.execute(steps.values(wake_at=STEPS.c.wake_at - seconds))
            return conn.execute(runs.values(wake_at=RUNS.c.wake_at - seconds)).rowcount
