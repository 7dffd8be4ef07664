"""`Store`: the one gateway through which agentflow reads and writes its database."""

from __future__ import annotations

import threading
from collections.abc import Callable

from agentflow.store.agents import AgentStore
from agentflow.store.history import HistoryStore
from agentflow.store.journal import JournalStore
from agentflow.store.leases import LeaseStore
from agentflow.store.plans import PlanStore
from agentflow.store.runs import RunStore
from agentflow.store.timers import TimerStore


class Store(AgentStore, PlanStore, RunStore, LeaseStore, JournalStore, TimerStore, HistoryStore):
    """Repository over the agentflow tables; the runtime never writes SQL itself.

    One object over one database, whose methods come by subject from the modules beside this
    one: agents and tools (`agents`), plan versions and decisions (`plans`), runs and the
    transitions a host asks for (`runs`), leases and settling (`leases`), step checkpoints and
    events (`journal`), timers (`timers`), runs' append-only histories (`history`). Every
    SQLite/PostgreSQL difference is in `dialect`.

    Args:
        url: a SQLAlchemy URL, `sqlite:///agentflow.db` or `postgresql+psycopg://...`.
    """

    def listen_for_due(
        self, callback: Callable[[], None], stop: threading.Event
    ) -> threading.Thread | None:
        """Call `callback` whenever any process makes a run due (PostgreSQL LISTEN/NOTIFY).

        Returns the listening thread, or None on SQLite (one machine: polling suffices).
        """
        return self.dialect.listen_for_due(self.engine, callback, stop)
