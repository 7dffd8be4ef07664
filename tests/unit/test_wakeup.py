"""The work loop's wake-ups: one sent while the loop was busy is not lost."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from agentflow.runtime.worker import Wakeup, WorkLoop
from agentflow.store import Store


def test_notifications_are_counted() -> None:
    wakeup = Wakeup()
    with wakeup:
        before = wakeup.generation
        wakeup.notify_all()
        wakeup.notify_all()
    assert wakeup.generation == before + 2


def test_a_wake_up_sent_before_the_loop_idles_ends_its_idle_at_once(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'agentflow.db'}")
    wakeup = Wakeup()
    loop = WorkLoop(store, "me", 5.0, lambda row, handoff: None, wakeup)
    try:
        with wakeup:
            seen = wakeup.generation
        with wakeup:  # e.g. an event sent while the loop drained: nobody was waiting yet
            wakeup.notify_all()
        started = time.monotonic()
        loop._idle(30.0, threading.Event(), seen)
        assert time.monotonic() - started < 10  # far below the 30 s it would otherwise wait
    finally:
        store.close()
