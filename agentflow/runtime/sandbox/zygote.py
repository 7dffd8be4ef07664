"""The zygote: a clean, pre-imported process that forks sandbox processes on request.

A worker starts one zygote with an empty environment in an empty directory, holding nothing
but its control socket. Forking it costs milliseconds, where starting an interpreter and
importing agentflow costs most of a second. The zygote never runs plan code; each child
confines itself before it reads its first message.

Control messages (SOCK_SEQPACKET, one JSON object each):
- worker → zygote: `{"op": "fork", "uid", "memory_bytes", "cpu_seconds", "seccomp"}` with the
  child's end of its channel attached as a file descriptor;
- zygote → worker: `{"op": "forked", "pid"}`, and `{"op": "exited", "pid", "status"}` whenever
  a child ends (its raw wait status).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import select
import signal
import socket
import sys
import traceback
from typing import Any

from agentflow.runtime.sandbox.channel import MAX_CHANNEL_BYTES, Channel
from agentflow.runtime.sandbox.child import HostLink, PlanSide
from agentflow.runtime.sandbox.confine import Confinement, confine

_PR_SET_PDEATHSIG = 1


def main() -> None:
    """Entry point: `python -I -m agentflow.runtime.sandbox.zygote CONTROL_FD`."""
    control = socket.socket(fileno=int(sys.argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Everything imported so far lives as long as the process: children need not scan it.
    gc.freeze()
    children: set[int] = set()
    try:
        while True:
            readable, _, _ = select.select([control], [], [], 0.05)
            _reap(control, children)
            if not readable:
                continue
            data, fds, _flags, _address = socket.recv_fds(control, 65536, 1)
            if not data:
                break
            request = json.loads(data)
            if request.get("op") != "fork" or len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                continue
            pid = os.fork()
            if pid == 0:
                control.close()
                _child(fds[0], request)
            os.close(fds[0])
            children.add(pid)
            control.send(json.dumps({"op": "forked", "pid": pid}).encode())
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    os._exit(0)


def _reap(control: socket.socket, children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        control.send(json.dumps({"op": "exited", "pid": pid, "status": status}).encode())


def _child(fd: int, request: dict[str, Any]) -> None:
    """Become one sandbox: keep only the channel, confine, then serve the host."""
    try:
        os.setsid()
        _die_with_parent()
        os.closerange(3, fd)
        os.closerange(fd + 1, 65536)
        settings = Confinement(
            memory_bytes=int(request["memory_bytes"]),
            cpu_seconds=int(request["cpu_seconds"]),
            uid=request.get("uid"),
            seccomp=bool(request.get("seccomp", True)),
        )
        report = confine(settings)
        channel = Channel(socket.socket(fileno=fd), MAX_CHANNEL_BYTES)
        PlanSide(HostLink(channel), report, settings.memory_bytes).serve()
    except BaseException:
        os.write(2, traceback.format_exc().encode("utf-8", "replace"))
    os._exit(1)


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


if __name__ == "__main__":
    main()
