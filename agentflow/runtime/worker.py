"""Workers: claim due runs under a lease, keep the lease alive, sleep until the next one is due."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from agentflow.checkpoints import WAKE_LEAD
from agentflow.runtime.liveness import release_dead_leases
from agentflow.store import RunRow, Store
from agentflow.store.claims import Claimed, Handoff

log = logging.getLogger("agentflow.worker")

IDLE_CHECK = 60.0
"""The longest an idle worker sleeps when other processes' writes wake it (a safety net)."""


class Wakeup(threading.Condition):
    """A condition that counts its `notify_all` calls, so a loop can tell it missed one."""

    def __init__(self) -> None:
        super().__init__()
        self.generation = 0

    def notify_all(self) -> None:
        """Wake every waiter (the lock held), and count the wake-up."""
        self.generation += 1
        super().notify_all()


class LeaseKeeper:
    """A daemon thread that renews the leases of the runs this process is executing.

    A process killed with SIGKILL stops renewing, so its leases lapse after `lease_seconds`
    and another worker resumes its runs.
    """

    def __init__(self, store: Store, owner: str, lease_seconds: float) -> None:
        self._store = store
        self._owner = owner
        self._lease_seconds = lease_seconds
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, run_id: str) -> None:
        """Start renewing a run's lease."""
        with self._lock:
            self._held.add(run_id)
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._renew_forever, name="agentflow-lease-keeper", daemon=True
                )
                self._thread.start()

    def release(self, run_id: str) -> None:
        """Stop renewing a run's lease."""
        with self._lock:
            self._held.discard(run_id)

    def _renew_forever(self) -> None:
        interval = max(self._lease_seconds / 3, 0.05)
        while not self._stop.wait(interval):
            with self._lock:
                held = set(self._held)
            if not held:
                continue
            try:
                self._store.renew_leases(self._owner, held, self._lease_seconds)
            except Exception:  # a busy database must not kill the keeper
                log.exception("could not renew leases")

    def stop(self) -> None:
        """Stop the thread (the leases it held lapse on their own)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


class WorkLoop:
    """Claim and run due runs until idle or until stopped.

    Args:
        store: the shared store.
        owner: this process's lease owner id.
        lease_seconds: how long a claim lasts without renewal.
        activate: runs one claimed run's activation; given a `Handoff` (the next reserved
            run), its settlement claims that run in its transaction.
        wakeup: notified in this process when a run may have become due (an event was sent).
        poll_interval: the longest it sleeps before looking for runs made due by other processes,
            when nothing tells it (an in-memory SQLite database); otherwise it sleeps until the
            next run is due, however far off (at most `IDLE_CHECK` seconds).
        leases: keeps the leases of claimed runs alive while they wait their turn.
        claim_batch: how many due runs one claim takes (one transaction), when one thread
            serves them all.
    """

    def __init__(
        self,
        store: Store,
        owner: str,
        lease_seconds: float,
        activate: Callable[[RunRow | Claimed, Handoff | None], object],
        wakeup: Wakeup,
        poll_interval: float = 0.5,
        leases: LeaseKeeper | None = None,
        claim_batch: int = 16,
    ) -> None:
        self.store = store
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.activate = activate
        self.wakeup = wakeup
        self.poll_interval = poll_interval
        self.leases = leases
        self._longest_sleep = poll_interval
        self.claim_batch = claim_batch if leases is not None else 1

    def drain(self, stop: threading.Event | None = None, batch: int | None = None) -> int:
        """Run every run that is due now, then return how many activations ran.

        Each claim takes up to `batch` due runs in one transaction (default `claim_batch`),
        whose leases are kept alive while they wait their turn. A set `stop` ends the loop
        after the activation in progress, even with a backlog; runs claimed but not started
        are given back.
        """
        count = 0
        limit = batch or self.claim_batch
        # A dead worker (this host's, or any on PostgreSQL) is noticed now, not when its
        # leases lapse.
        release_dead_leases(self.store, self.owner)
        while stop is None or not stop.is_set():
            if limit == 1:
                claimed = self.store.claim_due_runs(self.owner, self.lease_seconds, limit=1)
                if not claimed:
                    return count
                self._activate(claimed[0], None)
                count += 1
                continue
            # Also takes a run a dead worker left `running`, alone, when no other is due.
            first, reserved = self.store.claim_and_reserve_loaded(
                self.owner, self.lease_seconds, limit
            )
            if first is None:
                return count
            count += self._run_reserved(first, reserved, stop)
        return count

    def _run_reserved(
        self, first: Claimed, reserved: list[str], stop: threading.Event | None
    ) -> int:
        """Run `first`, then claim and run the reserved runs one by one.

        Each settlement claims the next reserved run in its own transaction (a `Handoff`);
        one it could not try is claimed on its own. The ones left at a stop are given back.
        """
        waiting = list(reserved)
        if self.leases is not None:
            for key in waiting:
                self.leases.hold(key)
        count = 0
        current: Claimed | None = first
        try:
            while current is not None:
                handoff = self._handoff(waiting, stop)
                self._activate(current, handoff)
                count += 1
                current = self._next(handoff, waiting, stop)
        finally:
            if waiting:
                self.store.release_reservations(self.owner, waiting)
            if self.leases is not None:
                for key in reserved:
                    self.leases.release(key)
        return count

    def _handoff(self, waiting: list[str], stop: threading.Event | None) -> Handoff | None:
        """The next reserved run, for the settlement in progress to claim (None at a stop)."""
        if not waiting or (stop is not None and stop.is_set()):
            return None
        return Handoff(waiting.pop(0), self.lease_seconds)

    def _next(
        self, handoff: Handoff | None, waiting: list[str], stop: threading.Event | None
    ) -> Claimed | None:
        """The next reserved run claimed: by the settlement before, or here; None when done."""
        while handoff is not None:
            claimed = handoff.claimed
            if not handoff.tried:
                claimed = self.store.claim_loaded(handoff.key, self.owner, self.lease_seconds)
            if claimed is not None:
                return claimed
            # Paused, restarted or its agent at its limit since: given back now.
            self.store.release_reservations(self.owner, [handoff.key])
            handoff = self._handoff(waiting, stop)
        return None

    def _activate(self, claimed: RunRow | Claimed, handoff: Handoff | None) -> None:
        try:
            self.activate(claimed, handoff)
        except Exception:
            # The run stays leased and `running`: its lease lapses, and the next claim counts
            # the activation against the run. The worker serves the others.
            row = claimed.row if isinstance(claimed, Claimed) else claimed
            log.exception("activation of run %s failed", row.id)

    def run_forever(self, stop: threading.Event, concurrency: int = 1) -> int:
        """Drain, then sleep until the next run is due (or an event arrives), until `stop`.

        With `concurrency` above 1, that many threads each claim and run their own runs, so a
        slow step in one run does not hold up the others.
        """
        self.store.prepare_claims(self.claim_batch if concurrency <= 1 else 1)
        listener = self.store.listen_for_due(self._wake, stop)
        self._longest_sleep = self.poll_interval if listener is None else IDLE_CHECK
        try:
            return self._serve_with(stop, concurrency)
        finally:
            if listener is not None:
                listener.join(timeout=2)

    def _wake(self) -> None:
        with self.wakeup:
            self.wakeup.notify_all()

    def _serve_with(self, stop: threading.Event, concurrency: int) -> int:
        if concurrency <= 1:
            return self._serve(stop)
        counts: list[int] = []
        threads = [
            threading.Thread(
                # Each thread claims one run at a time: a batch would wait behind a slow run.
                target=lambda: counts.append(self._serve(stop, batch=1)),
                name=f"agentflow-worker-{number}",
                daemon=True,
            )
            for number in range(concurrency)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(counts)

    def _serve(self, stop: threading.Event, batch: int | None = None) -> int:
        count = 0
        retried = False
        while not stop.is_set():
            with self.wakeup:
                seen = self.wakeup.generation  # a wake-up from here on cuts the idle short
            ran = self.drain(stop, batch)
            count += ran
            if stop.is_set():
                break
            # Asleep until the next run is due: a timer fires at its deadline, not at a poll.
            next_due = self.store.next_wake_at()
            delay = self._longest_sleep
            if next_due is not None:
                left = next_due - time.time()
                delay = _until_due(left, delay, self.poll_interval, ran > 0 or not retried)
                retried = delay == 0.0
            if delay > self.poll_interval and self.store.leased_elsewhere(self.owner):
                # A worker's death writes nothing that wakes this one: while another holds a
                # lease, the next drain (`release_dead_leases`) looks for it after a poll.
                delay = self.poll_interval
            self._idle(delay, stop, seen)
        return count

    def _idle(self, delay: float, stop: threading.Event, seen: int) -> None:
        """Wait `delay` seconds, or until notified after generation `seen` of the wake-ups.

        A notification sent while the loop drained or worked out the delay counts too: it
        was not waiting then, but the generation moved. A set `stop` ends the wait within
        0.2 s.
        """
        deadline = time.monotonic() + delay
        with self.wakeup:
            while not stop.is_set() and self.wakeup.generation == seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.wakeup.wait(min(left, 0.2))


def _until_due(left: float, longest: float, poll: float, claim_now: bool) -> float:
    """How long an idle loop waits for a run due in `left` seconds (at most `longest`)."""
    if left > WAKE_LEAD:
        return min(longest, left - WAKE_LEAD)  # a sleeping run may be claimed that early
    if claim_now:
        return 0.0  # it fell due as the claim ended: claim again at once
    if left > 0:
        return left  # not asleep (so not claimable early): at its time
    # Due but not claimable (its agent is at max_concurrent_runs, or another worker holds
    # it): a run ending, here or elsewhere, wakes the loop.
    return min(longest, poll)
