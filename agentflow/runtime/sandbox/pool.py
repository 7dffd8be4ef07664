"""The worker's sandbox processes: forked from a zygote, each dedicated to one agent.

A process serves the activations of the agent it was first given, one at a time, and keeps
that agent's compiled plans warm; it never serves another agent. It is retired (SIGKILL) when
it may hold stray state (an attempt that timed out, an out-of-memory error), when it has used
most of its lifetime CPU, or when the pool needs room for another agent. One spare process,
started ahead of need and dedicated to no agent yet, spares the next new process its start (a
fork and a confinement: milliseconds).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from agentflow.errors import ChannelClosed, ConfigurationError
from agentflow.runtime.sandbox.channel import MAX_CHANNEL_BYTES, PLAN_CACHE_SIZE, Channel

log = logging.getLogger("agentflow.sandbox")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class SandboxSettings:
    """Limits and sizes of a worker's sandboxes.

    Attributes:
        memory_bytes: address space of one sandbox process (RLIMIT_AS).
        cpu_seconds: CPU time plan code may use in one activation; the worker kills a sandbox
            that uses more.
        lifetime_cpu_seconds: CPU time of one sandbox process over its life (RLIMIT_CPU);
            the pool retires processes before they reach it.
        stall_seconds: how long a sandbox may compute without a word to its worker (while no
            tool call is in flight) before it is killed.
        max_processes: sandbox processes kept at once (the spare included); idle ones of other
            agents are retired to make room.
        reuse: keep a process for its agent's next activation (False: a fresh process per
            activation).
        uid_base: when the worker runs as root, sandbox number N runs as uid `uid_base + N`.
        seccomp: load the seccomp filter (where the kernel and libseccomp allow).
    """

    memory_bytes: int = 1024 * 1024 * 1024
    cpu_seconds: float = 10.0
    lifetime_cpu_seconds: int = 600
    stall_seconds: float = 10.0
    max_processes: int = 16
    reuse: bool = True
    uid_base: int = 61000
    seccomp: bool = True


@dataclass
class Sandbox:
    """One sandbox process, as its worker sees it."""

    pid: int
    slot: int
    uid: int
    agent_id: str
    channel: Channel
    pidfd: int | None
    applied: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    activations: int = 0
    killed_because: str | None = None
    stat_fd: int | None = None
    plans: dict[str, None] = field(default_factory=dict)
    """The SHA-256s of the plans the process has compiled, oldest first (as its own cache)."""

    def needs_source(self, sha256: str) -> bool:
        """Whether the process lacks plan `sha256`; if so, it is counted as sent now."""
        if sha256 in self.plans:
            return False
        if len(self.plans) >= PLAN_CACHE_SIZE:
            self.plans.pop(next(iter(self.plans)))
        self.plans[sha256] = None
        return True

    def cpu_seconds(self) -> float:
        """CPU time this process has used (0 once it is gone)."""
        try:
            if self.stat_fd is None:
                # Kept open: a read is then one pread, not an open, a read and a close.
                self.stat_fd = os.open(f"/proc/{self.pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
            stat = os.pread(self.stat_fd, 4096, 0)
            fields = stat.rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            return 0.0

    def kill(self, reason: str | None = None) -> None:
        """SIGKILL the process (through its pidfd: never another process that reused the pid)."""
        if reason is not None and self.killed_because is None:
            self.killed_because = reason
        with contextlib.suppress(ProcessLookupError, OSError):
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        self.channel.close()

    def close(self) -> None:
        """Release the worker's handles on the process."""
        self.channel.close()
        for fd in (self.pidfd, self.stat_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.pidfd = self.stat_fd = None


class Zygote:
    """The worker's handle on its zygote process."""

    def __init__(self) -> None:
        self._home = tempfile.mkdtemp(prefix="agentflow-sandbox-")
        os.chmod(self._home, 0o555)
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._control = parent
        # `-I`: no environment variables, no user site, no current directory on sys.path.
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-m", "agentflow.runtime.sandbox.zygote", str(child.fileno())],
            pass_fds=(child.fileno(),),
            env={"MALLOC_ARENA_MAX": "2"},
            cwd=self._home,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("AGENTFLOW_SANDBOX_STDERR") else subprocess.DEVNULL,
        )
        child.close()
        self._lock = threading.Lock()
        self._forked: list[int] = []
        self._forked_ready = threading.Condition()
        self.exits: dict[int, int] = {}
        self._exited = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="agentflow-zygote", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = self._control.recv(65536)
            except OSError:
                data = b""
            if not data:
                with self._forked_ready:
                    self._forked.append(-1)
                    self._forked_ready.notify_all()
                return
            message = json.loads(data)
            if message.get("op") == "forked":
                with self._forked_ready:
                    self._forked.append(int(message["pid"]))
                    self._forked_ready.notify_all()
            elif message.get("op") == "exited":
                with self._exited:
                    self.exits[int(message["pid"])] = int(message["status"])
                    self._exited.notify_all()

    @property
    def alive(self) -> bool:
        """Whether the zygote process still runs."""
        return self.process.poll() is None

    def fork(self, request: dict[str, Any], channel_end: socket.socket) -> int:
        """Fork a sandbox that will serve `channel_end`; returns its pid."""
        with self._lock:
            socket.send_fds(self._control, [json.dumps(request).encode()], [channel_end.fileno()])
            with self._forked_ready:
                if not self._forked_ready.wait_for(lambda: bool(self._forked), timeout=30):
                    raise ConfigurationError("the sandbox zygote did not answer within 30 s")
                pid = self._forked.pop(0)
        if pid < 0:
            raise ConfigurationError("the sandbox zygote has exited")
        return pid

    def exit_status(self, pid: int, wait: float) -> int | None:
        """The raw wait status of a sandbox that ended, waiting up to `wait` seconds for it."""
        with self._exited:
            self._exited.wait_for(lambda: pid in self.exits, timeout=wait)
            return self.exits.pop(pid, None)

    def close(self) -> None:
        """Stop the zygote; it kills the sandboxes it forked."""
        with contextlib.suppress(OSError):
            self._control.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            os.rmdir(self._home)


class SandboxPool:
    """Sandbox processes of one worker, dedicated to agents, lent out one activation at a time."""

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self._lock = threading.Lock()
        self._zygote: Zygote | None = None
        self._idle: OrderedDict[int, Sandbox] = OrderedDict()  # by pid, least recent first
        self._busy: dict[int, Sandbox] = {}
        self._spare: Sandbox | None = None  # started ahead of need, dedicated to no agent yet
        self._refilling = False
        self._closed = False
        self._free_slots = list(range(self.settings.max_processes * 4))
        #: pid -> the agents it served (always one): what tests and operators can check.
        self.served: dict[int, set[str]] = {}
        self.uids: dict[int, int] = {}

    @property
    def busy(self) -> list[int]:
        """The pids of the sandbox processes running an activation now."""
        with self._lock:
            return list(self._busy)

    @property
    def spare(self) -> int | None:
        """The pid of the spare process, if one is ready."""
        with self._lock:
            return self._spare.pid if self._spare is not None else None

    def checkout(self, agent_id: str) -> Sandbox:
        """A sandbox process for `agent_id`: an idle one of its own, the spare, or a new one."""
        with self._lock:
            self._drop_exited()
            for pid, sandbox in reversed(self._idle.items()):
                if sandbox.agent_id == agent_id:
                    del self._idle[pid]
                    self._busy[pid] = sandbox
                    return sandbox
            spare, self._spare = self._spare, None
            slot = None if spare is not None else self._make_room()
        if spare is not None:
            spare.agent_id = agent_id
            sandbox = spare
        else:
            assert slot is not None
            sandbox = self._start_in(slot, agent_id)
        with self._lock:
            self._busy[sandbox.pid] = sandbox
            self.served.setdefault(sandbox.pid, set()).add(agent_id)
            self.uids[sandbox.pid] = sandbox.uid
        self._refill()
        return sandbox

    def _drop_exited(self) -> None:
        """Retire idle processes (and the spare) that ended while they waited (under _lock)."""
        gone = self._zygote.exits if self._zygote is not None else {}
        for pid in [pid for pid in self._idle if pid in gone]:
            self._retire(self._idle.pop(pid))
        if self._spare is not None and self._spare.pid in gone:
            self._retire(self._spare)
            self._spare = None

    def _make_room(self) -> int:
        """A slot for a new process, retiring idle ones of other agents at the limit (_lock)."""
        while self._idle and len(self._idle) + len(self._busy) >= self.settings.max_processes:
            _pid, oldest = self._idle.popitem(last=False)
            self._retire(oldest)
        return self._free_slots.pop(0)

    def _start_in(self, slot: int, agent_id: str) -> Sandbox:
        try:
            return self._start(agent_id, slot)
        except BaseException:
            with self._lock:
                self._free_slots.append(slot)
            raise

    def _refill(self) -> None:
        """Start a spare process in the background: the next new one is then ready at once.

        A spare has served no agent; the first activation it is given dedicates it, as a
        process started then would be.
        """
        with self._lock:
            room = len(self._idle) + len(self._busy) + 1 < self.settings.max_processes
            if self._closed or self._refilling or self._spare is not None or not room:
                return
            self._refilling = True
            slot = self._free_slots.pop(0)
        threading.Thread(
            target=self._start_spare, args=(slot,), name="agentflow-spare", daemon=True
        ).start()

    def _start_spare(self, slot: int) -> None:
        try:
            sandbox = self._start_in(slot, "")
        except Exception:
            with self._lock:
                self._refilling = False
                closed = self._closed
            if not closed:
                log.warning("could not start a spare sandbox process", exc_info=True)
            return
        with self._lock:
            self._refilling = False
            if not self._closed:
                self._spare = sandbox
                return
        sandbox.kill()
        sandbox.close()

    def checkin(self, sandbox: Sandbox, reusable: bool) -> None:
        """Give a sandbox back after an activation; one that may hold stray state is retired."""
        sandbox.activations += 1
        keep = (
            reusable
            and self.settings.reuse
            and sandbox.killed_because is None
            and sandbox.cpu_seconds() < self.settings.lifetime_cpu_seconds * 0.8
        )
        with self._lock:
            self._busy.pop(sandbox.pid, None)
            if keep:
                self._idle[sandbox.pid] = sandbox
                return
            self._retire(sandbox)

    def _retire(self, sandbox: Sandbox) -> None:
        sandbox.kill()
        sandbox.close()
        self._free_slots.append(sandbox.slot)

    def exit_status(self, sandbox: Sandbox, wait: float = 1.0) -> int | None:
        """How a sandbox process ended (raw wait status), if it has."""
        zygote = self._zygote
        return zygote.exit_status(sandbox.pid, wait) if zygote is not None else None

    @property
    def zygote_alive(self) -> bool:
        """Whether the zygote has been started and still runs."""
        zygote = self._zygote
        return zygote is not None and zygote.alive

    def warm(self) -> None:
        """Start the zygote if it is not running, and a spare process (a worker's first steps)."""
        try:
            self._ensure_zygote()
        except Exception:
            if not self._closed:
                log.exception("could not start the sandbox zygote")
            return
        self._refill()

    def _ensure_zygote(self) -> Zygote:
        with self._lock:
            if self._closed:
                # A spare started as the pool closed must not start a zygote nobody would stop.
                raise ConfigurationError("the sandbox pool is closed")
            if self._zygote is None or not self._zygote.alive:
                if self._zygote is not None:
                    self._zygote.close()
                self._zygote = Zygote()
            return self._zygote

    def _start(self, agent_id: str, slot: int) -> Sandbox:
        zygote = self._ensure_zygote()
        root = os.geteuid() == 0
        uid = self.settings.uid_base + slot if root else os.geteuid()
        request = {
            "op": "fork",
            "uid": uid if root else None,
            "memory_bytes": self.settings.memory_bytes,
            "cpu_seconds": self.settings.lifetime_cpu_seconds,
            "seccomp": self.settings.seccomp,
        }
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = zygote.fork(request, theirs)
        except BaseException:
            ours.close()  # the zygote is gone (the pool closing under a spare's start)
            raise
        finally:
            theirs.close()
        pidfd: int | None
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        channel = Channel(ours, MAX_CHANNEL_BYTES)
        sandbox = Sandbox(pid, slot, uid, agent_id, channel, pidfd)
        try:
            hello = channel.receive(timeout=30)
        except ChannelClosed:
            hello = None
        if hello is None or hello.get("op") != "hello":
            sandbox.kill()
            sandbox.close()
            raise ConfigurationError(
                "a sandbox process did not start (set AGENTFLOW_SANDBOX_STDERR=1 to see why)"
            )
        sandbox.applied = [str(item) for item in hello.get("applied", [])]
        sandbox.missing = [str(item) for item in hello.get("missing", [])]
        if sandbox.missing:
            log.warning("sandbox %s runs without: %s", pid, "; ".join(sandbox.missing))
        return sandbox

    def close(self) -> None:
        """Kill every sandbox and stop the zygote."""
        with self._lock:
            self._closed = True
            spare, self._spare = self._spare, None
            for sandbox in [*self._idle.values(), *self._busy.values(), *filter(None, [spare])]:
                sandbox.kill()
                sandbox.close()
            self._idle.clear()
            self._busy.clear()
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.close()
