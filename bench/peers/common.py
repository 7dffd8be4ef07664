"""What every system's measurement script shares (standard library only: it runs in both venvs).

A script is called as `python <system>_bench.py MEASURE --dir DIR --count N [--steps S]` and
prints one JSON line on stdout: {"rows": [{"variant", "setting", "samples"}]}, samples in
seconds. Roles other than a measure (a worker, a process to crash) are internal to a script.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SLEEP_SECONDS = 1.0
# After a crash: the sleeping run's worker is SIGKILLed KILL_AFTER seconds into the sleep and a
# fresh process is started at once; the sleep is long enough for that process to be up in time.
CRASH_SLEEP_SECONDS = 3.0
KILL_AFTER = 0.5


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("role")
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--sync", default="NORMAL", help="SQLite synchronous (internal roles)")
    parser.add_argument("--run-id", default="", help="internal roles")
    parser.add_argument("--db", default="", help="internal roles: which database file")
    return parser.parse_args(argv)


def emit(rows: list[dict[str, Any]]) -> None:
    print(json.dumps({"rows": rows}), flush=True)


def row(variant: str, setting: str, samples: list[float]) -> dict[str, Any]:
    return {"variant": variant, "setting": setting, "samples": samples}


def synchronous_of(measure: str) -> str:
    return "FULL" if measure == "step-full" else "NORMAL"


def sqlite_setting(sync: str) -> str:
    return f"SQLite WAL, synchronous={sync}"


def set_pragmas(connection: Any, sync: str) -> None:
    """WAL and the given synchronous level on a DB-API sqlite3 connection."""
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={sync}")


SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def observed(query: Callable[[str], Any]) -> str:
    """What one of the system's own connections reports, read back after the measurement."""
    journal = query("PRAGMA journal_mode")
    sync = SYNCHRONOUS_NAMES.get(int(query("PRAGMA synchronous")), "?")
    return f"[read back: journal_mode={journal}, synchronous={sync}]"


def sqlalchemy_query(engine: Any) -> Callable[[str], Any]:
    def query(sql: str) -> Any:
        with engine.connect() as connection:
            return connection.exec_driver_sql(sql).scalar()

    return query


def sqlite3_query(connection: sqlite3.Connection) -> Callable[[str], Any]:
    return lambda sql: connection.execute(sql).fetchone()[0]


def timed(body: Callable[[], object]) -> float:
    started = time.perf_counter()
    body()
    return time.perf_counter() - started


def touch(path: Path) -> None:
    path.write_text(str(time.time()))


def wait_for_file(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.002)


def spawn(
    script: str, role: str, args: argparse.Namespace, *extra: str, crashing: bool = False
) -> subprocess.Popen[str]:
    """This system's script again, in a fresh process and its own process group."""
    command = [sys.executable, script, role, "--dir", str(args.dir), "--sync", args.sync, *extra]
    env = {**os.environ, "BENCH_CRASHING": "1" if crashing else "0"}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, start_new_session=True, env=env
    )


def kill_group(process: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
    """SIGKILL a spawned process and whatever it started (sandboxes, pools)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    process.communicate(timeout=30)


def measure_recovery(script: str, args: argparse.Namespace, count: int) -> list[float]:
    """Crash a run mid-step with SIGKILL, then time a fresh process until it has the result.

    The crashing role touches `<dir>/blocked-<id>` inside its blocking step; the recovering
    role prints a line once it has the run's result.
    """
    samples = []
    for index in range(count):
        run_id = f"recover-{os.getpid()}-{index}"
        victim = spawn(script, "crash", args, "--run-id", run_id, crashing=True)
        wait_for_file(args.dir / f"blocked-{run_id}")
        kill_group(victim)
        started = time.perf_counter()
        rescuer = spawn(script, "recover", args, "--run-id", run_id)
        assert rescuer.stdout is not None
        line = rescuer.stdout.readline()
        elapsed = time.perf_counter() - started
        if not line.strip():
            raise RuntimeError(f"recovery of {run_id} printed nothing")
        rescuer.communicate(timeout=60)
        samples.append(elapsed)
    return samples


def block_if_crashing(directory: Path, run_id: str) -> None:
    """The step a crash happens in: in the crashing process it announces itself and hangs."""
    if os.environ.get("BENCH_CRASHING") == "1":
        touch(directory / f"blocked-{run_id}")
        time.sleep(3600)


def rss_kib(pids: list[int]) -> int:
    """Resident memory of these processes, summed (VmRSS from /proc)."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def group_pids(pgid: int) -> list[int]:
    """Every process in a process group (a worker and the sandboxes it started)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def many_rows(
    runs: int, asleep: int, before_kib: int, after_kib: int, put_to_sleep: float, wake: float
) -> list[dict[str, Any]]:
    """The rows of the many-sleeps measure (each value in its own unit, named in the variant)."""
    return [
        row("runs put to sleep, runs/s", "", [runs / put_to_sleep]),
        row(
            "memory while all sleep, MiB",
            f"before: {before_kib / 1024:.1f} MiB",
            [after_kib / 1024],
        ),
        row("memory per sleeping run, KiB", "", [(after_kib - before_kib) / runs]),
        row(
            "wake-up rate after the common deadline, runs/s",
            f"{asleep} of {runs} runs were asleep at the deadline",
            [runs / wake],
        ),
    ]
