"""Start a real `agentflow serve` subprocess for tests, and wait until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.support.reach_app:engine"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(db: str, *extra: str) -> Iterator[str]:
    """`agentflow serve --app tests.support.reach_app:engine --worker` on `db`; yields its URL."""
    with launched("serve", "--db", db, "--app", APP, "--worker", *extra) as base:
        yield base


@contextmanager
def launched(*args: str) -> Iterator[str]:
    """`agentflow ARGS --port PORT` as a subprocess, once it answers; yields its URL."""
    port = free_port()
    command = [sys.executable, "-m", "agentflow.cli", *args, "--port", str(port)]
    with tempfile.TemporaryFile(mode="w+") as output:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            yield wait_until_serving(f"http://127.0.0.1:{port}", proc, output)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until_serving(base: str, proc: subprocess.Popen[str], output: IO[str]) -> str:
    """`base` once the server answers; raises with its output if it exits or hangs first."""
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            output.seek(0)
            raise RuntimeError(f"agentflow serve exited: {output.read()}")
        try:
            if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                return base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("agentflow serve did not answer within 30 s")
        time.sleep(0.1)
