"""Whether the worker behind a lease is still alive, where that can be known at once.

A lease owner is `host:pid:s-tag`. On the same host, a worker whose process is gone cannot be
renewing its leases, so waiting for them to lapse only delays recovery: its leases are given
up at once and the runs are claimed again (their lost activation counts, as after any crash).
On PostgreSQL, every worker holds a session-level advisory lock keyed by its owner id on a
connection of its own; the server frees it when that connection ends, so a worker on any host
that can take the lock knows the owner is gone. Elsewhere (SQLite across hosts, or a worker
whose database session outlived its process in a proxy) the lease stays the rule.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from agentflow.store import Store
from agentflow.store.dialect import SESSION_MARK


def owner_id(tag: str) -> str:
    """A lease owner id for this process: `host:pid:s-tag` (`s-`: it holds a session lock)."""
    return f"{socket.gethostname()}:{os.getpid()}:{SESSION_MARK}{tag}"


def pid_alive(pid: int) -> bool:
    """True unless process `pid` is gone or a zombie (killed, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return True  # no /proc (not Linux): kill(0) is all there is
    return stat.rsplit(b")", 1)[-1].split()[:1] != [b"Z"]


def local_pid(owner: str, host: str) -> int | None:
    """The pid in a lease owner id of this host, else None."""
    parts = owner.split(":")
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return None
    return int(parts[1])


def owner_is_gone(owner: str | None) -> bool:
    """True when `owner` is a worker of this host whose process is gone."""
    if owner is None:
        return False
    pid = local_pid(owner, socket.gethostname())
    return pid is not None and pid != os.getpid() and not pid_alive(pid)


def release_if_gone(store: Store, owner: str, me: str) -> bool:
    """End `owner`'s leases at once if its worker is known to be gone; whether it was.

    Known by its pid on this host, or (PostgreSQL) by its free session lock on any host.
    """
    if owner == me:
        return False
    if owner_is_gone(owner):
        store.expire_leases([owner])
        return True
    return store.expire_leases_of_ended_sessions(me, [owner]) > 0


def release_dead_leases(store: Store, me: str) -> int:
    """Give up the leases of workers known to be gone; how many runs.

    This host's workers whose processes are gone, and (PostgreSQL) any worker whose session
    lock is free. `me`, this process's own owner id, is never taken for gone.
    """
    dead = [owner for owner in store.lease_owners_on(socket.gethostname()) if owner_is_gone(owner)]
    count = store.expire_leases(dead) if dead else 0
    return count + store.expire_leases_of_ended_sessions(me)
