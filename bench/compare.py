"""agentflow against DBOS and LangGraph, in one run, on the same SQLite settings and disk.

Every measurement runs in its own subprocess: agentflow with this interpreter (the project's
venv), DBOS and LangGraph with bench/peers/.venv (created by bench/peers/setup.sh with pinned
versions on first use; never part of the project's dependencies). Repetitions interleave the
systems round-robin, rotating who goes first, and each table pools every repetition's samples.

    .venv/bin/python bench/compare.py            # full run (about 10 minutes on 2 cores)
    .venv/bin/python bench/compare.py --quick    # smoke run
    .venv/bin/python bench/compare.py --quick --systems agentflow   # no peers venv needed
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers.stats import Summary, summarize

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
PEERS_PYTHON = PEERS / ".venv" / "bin" / "python"
SYSTEMS = ("agentflow", "dbos", "langgraph", "floor")
SCRIPTS = {
    "agentflow": "agentflow_bench.py",
    "dbos": "dbos_bench.py",
    "langgraph": "langgraph_bench.py",
    "floor": "sqlite_floor.py",
}


@dataclass(frozen=True)
class Measure:
    name: str
    title: str
    unit: str
    count: int  # samples per subprocess, full mode
    quick_count: int
    p99: bool = False
    max_reps: int = 100
    systems: tuple[str, ...] = ("agentflow", "dbos", "langgraph")


MEASURES = (
    Measure(
        "step-full",
        "Per-step overhead, synchronous=FULL (fsync on every commit): N-step run, total / N",
        "µs",
        5,
        2,
        systems=SYSTEMS,
    ),
    Measure(
        "step-normal",
        "Per-step overhead, synchronous=NORMAL (agentflow's default): N-step run, total / N",
        "µs",
        5,
        2,
        systems=SYSTEMS,
    ),
    Measure("one-step", "One-step run, start -> result, in process", "ms", 50, 10, p99=True),
    Measure(
        "recovery",
        "Recovery after SIGKILL mid-step: spawn a fresh process -> run's result (across "
        "processes; includes interpreter start and imports)",
        "ms",
        1,
        1,
    ),
    Measure(
        "pg-takeover",
        "PostgreSQL takeover: a worker on another host SIGKILLed mid-step -> a live worker on "
        "another connection has run the rest (across processes)",
        "ms",
        10,
        3,
        systems=("agentflow", "dbos"),
    ),
    Measure(
        "event",
        "Event sent -> run resumed (step after the wait), sender in another process than the run",
        "ms",
        10,
        2,
    ),
    Measure(
        "sleep",
        "Durable sleep of 1 s: wake - deadline, live worker",
        "ms",
        10,
        2,
    ),
    Measure(
        "sleep-crash",
        "Durable sleep after a crash: wake - deadline; the sleeping run's process is SIGKILLed "
        "0.5 s into a 3 s sleep and a fresh process is started at once",
        "ms",
        2,
        1,
    ),
    Measure(
        "many-sleeps",
        "Many sleeping runs (10,000; --quick 200), one worker: memory while they sleep, then "
        "wake-up rate once their common deadline passes (one repetition)",
        "see variant",
        10_000,
        200,
        max_reps=1,
    ),
    Measure(
        "postgres",
        "PostgreSQL: runs of 10 steps drained by 1, 2 and 4 worker processes, synchronous_commit"
        "=off (300 runs; --quick 30; at most 3 repetitions)",
        "runs/s",
        300,
        30,
        max_reps=3,
        systems=("agentflow", "dbos"),
    ),
)
SCALE = {"µs": 1e6, "ms": 1e3, "runs/s": 1.0, "see variant": 1.0}


@dataclass
class Collected:
    setting: str = ""
    samples: list[float] = field(default_factory=list)
    rep_medians: list[float] = field(default_factory=list)
    error: str = ""


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 repetition, few samples")
    parser.add_argument("--reps", type=int, help="repetitions (default 5; --quick 1)")
    parser.add_argument("--steps", type=int, help="steps per run for per-step (default 200)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated")
    parser.add_argument("--measures", default=",".join(m.name for m in MEASURES))
    parser.add_argument("--peers-python", type=Path, default=PEERS_PYTHON)
    parser.add_argument("--json", type=Path, help="also write every sample here")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "BENCH_POSTGRES", "postgresql+psycopg://agentflow:agentflow@127.0.0.1:54329/agentflow"
        ),
        help="a server where this role may CREATE DATABASE (one throw-away database per run)",
    )
    return parser.parse_args()


def python_for(system: str, args: argparse.Namespace) -> str:
    if system in ("dbos", "langgraph"):
        if not args.peers_python.exists():
            subprocess.run(["sh", str(PEERS / "setup.sh")], check=True)
        return str(args.peers_python)
    return sys.executable


def versions(systems: list[str], args: argparse.Namespace) -> dict[str, str]:
    found = {"python": platform.python_version()}
    code = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
    packages = {
        "agentflow": ["agentflow"],
        "dbos": ["dbos"],
        "langgraph": ["langgraph", "langgraph-checkpoint-sqlite"],
    }
    for system in systems:
        for package in packages.get(system, []):
            done = subprocess.run(
                [python_for(system, args), "-c", code, package], capture_output=True, text=True
            )
            found[package] = done.stdout.strip() or "?"
    return found


def run_one(system: str, measure: Measure, count: int, steps: int, args: Any) -> dict[str, Any]:
    """One subprocess of one system for one measure; its JSON answer."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{system}-") as directory:
        command = [
            python_for(system, args),
            str(PEERS / SCRIPTS[system]),
            measure.name,
            "--dir",
            directory,
            "--count",
            str(count),
            "--steps",
            str(steps),
        ]
        env = {**os.environ, "BENCH_POSTGRES": args.postgres}
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail}"}
    answer: dict[str, Any] = json.loads(lines[-1])
    return answer


def collect(
    measure: Measure, systems: list[str], reps: int, args: Any
) -> dict[tuple[str, str], Collected]:
    count = measure.quick_count if args.quick else measure.count
    steps = args.steps or (20 if args.quick else 200)
    rows: dict[tuple[str, str], Collected] = {}
    for rep in range(min(reps, measure.max_reps)):
        order = systems[rep % len(systems) :] + systems[: rep % len(systems)]
        for system in order:
            answer = run_one(system, measure, count, steps, args)
            if "error" in answer:
                rows.setdefault((system, "-"), Collected()).error = answer["error"]
                continue
            for row in answer["rows"]:
                collected = rows.setdefault((system, row["variant"]), Collected())
                collected.setting = row["setting"]
                collected.samples.extend(row["samples"])
                if row["samples"]:
                    collected.rep_medians.append(summarize(row["samples"]).median)
    return rows


def fmt(value: float, unit: str) -> str:
    scaled = value * SCALE[unit]
    return f"{scaled:,.0f}" if scaled >= 100 else f"{scaled:,.2f}"


def print_table(
    measure: Measure, rows: dict[tuple[str, str], Collected], systems: list[str]
) -> None:
    if measure.max_reps == 1:  # one value per row
        print_values(measure, rows, systems)
        return
    unit = measure.unit
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n### {measure.title} [{unit}]\n")
    print(f"load average after this measure (1/5/15 min): {load}\n")
    p99 = f" p99 {unit} |" if measure.p99 else ""
    print(
        f"| system | variant | n | median {unit} | p10 {unit} | p90 {unit} |{p99} "
        f"rep medians min-max {unit} | configuration |"
    )
    print("|---|---|---:|---:|---:|---:|" + ("---:|" if measure.p99 else "") + "---|---|")
    for system in systems:
        for (name, variant), collected in rows.items():
            if name != system:
                continue
            if collected.error:
                print(f"| {system} | {variant} | failed: {collected.error} |")
                continue
            if not collected.samples:
                print(
                    f"| {system} | {variant} | 0 | n/a | | |{' |' if measure.p99 else ''}"
                    f" | {collected.setting} |"
                )
                continue
            s: Summary = summarize(collected.samples)
            spread = (
                f"{fmt(min(collected.rep_medians), unit)}-{fmt(max(collected.rep_medians), unit)}"
            )
            extra = f" {fmt(s.p99, unit)} |" if measure.p99 else ""
            print(
                f"| {system} | {variant} | {s.n} | {fmt(s.median, unit)} | {fmt(s.p10, unit)} |"
                f" {fmt(s.p90, unit)} |{extra} {spread} ({len(collected.rep_medians)} reps) |"
                f" {collected.setting} |"
            )


def print_values(
    measure: Measure, rows: dict[tuple[str, str], Collected], systems: list[str]
) -> None:
    """A one-repetition measure: one value per row, in the unit its name gives."""
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n### {measure.title}\n")
    print(f"load average after this measure (1/5/15 min): {load}\n")
    print("| system | figure | value | configuration |")
    print("|---|---|---:|---|")
    for system in systems:
        for (name, variant), collected in rows.items():
            if name != system:
                continue
            if collected.error:
                value = f"failed: {collected.error}"
            elif collected.samples:
                value = fmt(statistics.median(collected.samples), measure.unit)
            else:
                value = "n/a"
            print(f"| {system} | {variant} | {value} | {collected.setting} |")


def main() -> None:
    args = parse()
    reps = args.reps or (1 if args.quick else 5)
    systems = [s for s in args.systems.split(",") if s]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        raise SystemExit(f"unknown systems: {', '.join(sorted(unknown))}")
    wanted = args.measures.split(",")
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    print("# agentflow vs DBOS vs LangGraph")
    print()
    print(
        f"- started {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, "
        f"{'quick' if args.quick else 'full'} mode, {reps} repetition(s), systems interleaved "
        "round-robin (first system rotates each repetition)"
    )
    print(
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; "
        f"load average at start (1/5/15 min): {load}"
    )
    print(f"- versions: {', '.join(f'{k} {v}' for k, v in versions(systems, args).items())}")
    print(f"- SQLite files in {tempfile.gettempdir()} (one fresh directory per subprocess)")
    print(
        "- per-step rows: n = runs; each sample = one run's time / its step count "
        f"({args.steps or (20 if args.quick else 200)} steps); floor = a bare sqlite3 commit"
    )
    results: dict[str, Any] = {}
    for measure in MEASURES:
        if measure.name not in wanted:
            continue
        taking = [s for s in systems if s in measure.systems]
        rows = collect(measure, taking, reps, args)
        print_table(measure, rows, taking)
        results[measure.name] = {
            f"{system}/{variant}": vars(collected) for (system, variant), collected in rows.items()
        }
        sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
