"""Threads that run one step attempt each under a deadline, kept and reused between steps.

A step's tool runs in a thread of its own so the step can give up on it at its timeout (a
Python thread cannot be stopped). Starting a thread for every call cost about 150 µs a step;
these threads wait for their next call instead. A thread whose call overran its deadline
finishes that call before it takes another.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

_IDLE_KEPT = 8


class StepCall:
    """One call handed to a step thread: its outcome and whether it has ended."""

    __slots__ = ("ended", "error", "invoke", "value")

    def __init__(self, invoke: Callable[[], Any]) -> None:
        self.invoke = invoke
        self.value: Any = None
        self.error: BaseException | None = None
        self.ended = threading.Event()

    def run(self) -> None:
        """Call `invoke` in this thread and keep its value or exception."""
        try:
            self.value = self.invoke()
        except BaseException as exc:
            self.error = exc
        finally:
            self.ended.set()


class _StepThread:
    def __init__(self, pool: StepThreads) -> None:
        self._pool = pool
        self._inbox: SimpleQueue[StepCall] = SimpleQueue()
        threading.Thread(target=self._serve, name="agentflow-step", daemon=True).start()

    def hand(self, call: StepCall) -> None:
        self._inbox.put(call)

    def _serve(self) -> None:
        while True:
            call = self._inbox.get()
            call.run()
            del call
            if not self._pool.give_back(self):
                return


class StepThreads:
    """A small set of idle daemon threads, each taking one call at a time."""

    def __init__(self, idle_kept: int = _IDLE_KEPT) -> None:
        self._idle: list[_StepThread] = []
        self._lock = threading.Lock()
        self._idle_kept = idle_kept

    def start(self, invoke: Callable[[], Any]) -> StepCall:
        """Run `invoke` in an idle thread (or a new one); wait on the returned call's `ended`."""
        call = StepCall(invoke)
        with self._lock:
            thread = self._idle.pop() if self._idle else None
        (thread or _StepThread(self)).hand(call)
        return call

    def give_back(self, thread: _StepThread) -> bool:
        """Keep a thread that finished its call, unless enough are idle (then it ends)."""
        with self._lock:
            if len(self._idle) >= self._idle_kept:
                return False
            self._idle.append(thread)
            return True

    def forget(self) -> None:
        """Drop the idle threads (after a fork, where they do not exist)."""
        self._idle = []
        self._lock = threading.Lock()


STEP_THREADS = StepThreads()
os.register_at_fork(after_in_child=STEP_THREADS.forget)
