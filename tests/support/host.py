"""A host application for tests: an engine with shop tools whose every call is logged to a file.

Tests spawn fresh processes that import this module, so the ledger file (one JSON line per tool
call, with the pid) proves how often each step's function really ran, across processes.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from agentflow import Engine, NonRetryableError

LEDGER_ENV = "AGENTFLOW_TEST_LEDGER"


def _ledger() -> Path | None:
    path = os.environ.get(LEDGER_ENV)
    return Path(path) if path else None


def record(tool: str, **fields: Any) -> None:
    """Append one line to the ledger (O_APPEND keeps lines whole across processes)."""
    path = _ledger()
    if path is None:
        return
    line = json.dumps({"tool": tool, "pid": os.getpid(), "t": time.time(), **fields}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_ledger(path: Path) -> list[dict[str, Any]]:
    """Every ledger line so far."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def make_engine(url: str, **options: Any) -> Engine:
    """An engine with the shop tools registered."""
    options.setdefault("lease_seconds", 1.0)
    options.setdefault("poll_interval", 0.05)
    engine = Engine(url, **options)
    _register_shop_tools(engine)
    _register_test_tools(engine)
    return engine


def _register_shop_tools(engine: Engine) -> None:
    @engine.tool(side_effects=False)
    def list_orders(status: str = "open") -> list[dict[str, Any]]:
        """Orders with the given status."""
        record("list_orders", status=status)
        return [
            {"id": 1, "email": "ada@example.com", "status": status},
            {"id": 2, "email": "bob@example.com", "status": status},
        ]

    @engine.tool(side_effects=True)
    def send_email(to: str, subject: str, body: str) -> dict[str, Any]:
        """Send an email."""
        record("send_email", to=to, subject=subject)
        return {"sent": True, "to": to}

    @engine.tool(side_effects=True)
    def refund(order_id: int) -> dict[str, Any]:
        """Refund an order."""
        record("refund", order_id=order_id)
        return {"refunded": order_id}


def _register_test_tools(engine: Engine) -> None:
    @engine.tool(side_effects=False)
    def slow(label: str, seconds: float) -> str:
        """Take a while: logs its start and its end."""
        record("slow", label=label, phase="start")
        time.sleep(seconds)
        record("slow", label=label, phase="end")
        return label

    @engine.tool(side_effects=False)
    def flaky(label: str, failures: int) -> str:
        """Fail the first `failures` calls for a label, then succeed."""
        path = _ledger()
        seen = sum(
            1
            for e in (read_ledger(path) if path else [])
            if e["tool"] == "flaky" and e["label"] == label
        )
        record("flaky", label=label)
        if seen < failures:
            raise RuntimeError(f"flaky {label} failure {seen + 1}")
        return label

    @engine.tool(side_effects=False)
    def reject(reason: str) -> None:
        """Always fail, non-retryably."""
        record("reject", reason=reason)
        raise NonRetryableError(reason)

    @engine.tool(side_effects=False)
    def crash() -> None:
        """Kill this process, as an out-of-memory kill would."""
        record("crash")
        os.kill(os.getpid(), 9)

    @engine.tool(side_effects=True)
    def point(label: str, index: int, kill: str) -> int:
        """One step of the crash matrix's runs; `kill` ("worker|sandbox:before|inside:N") names
        the one point where it SIGKILLs this worker or the sandbox that asked for it, the first
        time the point is reached: before its effect, or after its effect but before it returns."""
        target, when, at = kill.split(":")
        path = _ledger()
        armed = int(at) == index and not any(
            e["tool"] == "kill" and e["label"] == label for e in (read_ledger(path) if path else [])
        )
        if armed and when == "before":
            _kill(engine, target, label)
        record("point", label=label, index=index)
        if armed and when == "inside":
            _kill(engine, target, label)
        return index

    @engine.tool(side_effects=False)
    def echo(value: Any) -> Any:
        """Return the value."""
        record("echo", value=value)
        return value


def _kill(engine: Engine, target: str, label: str) -> None:
    if target == "worker":
        record("kill", label=label, pid=os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)
    pool = engine.sandboxes
    assert pool is not None, "the sandbox can only be killed with isolation='process'"
    (pid,) = pool.busy
    record("kill", label=label, pid=pid)
    os.kill(pid, signal.SIGKILL)


def main() -> None:
    """`python -m tests.support.host URL work|result RUN_ID [TIMEOUT]|worker`: drive runs."""
    import sys

    url, command = sys.argv[1], sys.argv[2]
    if os.environ.get("AGENTFLOW_TEST_HOSTNAME"):
        # A worker that looks as if it ran on another machine: its pid tells others nothing.
        import socket

        socket.gethostname = lambda: os.environ["AGENTFLOW_TEST_HOSTNAME"]
    engine = make_engine(
        url,
        lease_seconds=float(os.environ.get("AGENTFLOW_TEST_LEASE", "1")),
        poll_interval=float(os.environ.get("AGENTFLOW_TEST_POLL", "0.05")),
    )
    if command == "work":
        print(engine.work(until_idle=True), flush=True)
    elif command == "result":
        timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 30.0
        print(json.dumps(engine.get_run(sys.argv[3]).result(timeout=timeout)), flush=True)
    elif command == "send":
        engine.get_run(sys.argv[3]).send_event(sys.argv[4], json.loads(sys.argv[5]))
    elif command == "worker":
        import threading

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        print("ready", flush=True)
        engine.work(until_idle=False, stop=stop)
    engine.close()


if __name__ == "__main__":
    main()
