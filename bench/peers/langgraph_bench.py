"""LangGraph's side of bench/compare.py.

Runs with bench/peers/.venv: langgraph==1.2.24 and langgraph-checkpoint-sqlite==3.1.2.

Each graph step (superstep) writes a checkpoint through SqliteSaver before the next one starts
(durability="sync"), on a sqlite3 connection in WAL mode with the measure's synchronous level.
LangGraph has no worker, no event delivery and no durable timer: a suspended thread (an
interrupt) is resumed by whoever invokes it again, and recovery is invoking the thread again.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

SCRIPT = str(Path(__file__).resolve())


class State(TypedDict, total=False):
    i: int
    n: int
    run_id: str
    out: float


def saver(directory: Path, name: str, sync: str) -> SqliteSaver:
    connection = sqlite3.connect(directory / f"langgraph-{name}.sqlite", check_same_thread=False)
    common.set_pragmas(connection, sync)
    return SqliteSaver(connection)


def steps_graph(checkpointer: SqliteSaver) -> Any:
    builder = StateGraph(State)
    builder.add_node("s", lambda state: {"i": state["i"] + 1})
    builder.add_edge(START, "s")
    builder.add_conditional_edges("s", lambda state: "s" if state["i"] < state["n"] else END)
    return builder.compile(checkpointer=checkpointer)


def crash_graph(checkpointer: SqliteSaver, directory: Path) -> Any:
    def block(state: State) -> State:
        common.block_if_crashing(directory, state["run_id"])
        return {"i": 2}

    builder = StateGraph(State)
    builder.add_node("a", lambda state: {"i": 1})
    builder.add_node("b", block)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", END)
    return builder.compile(checkpointer=checkpointer)


def event_graph(checkpointer: SqliteSaver) -> Any:
    def wait(state: State) -> State:
        interrupt("go")
        return {}

    builder = StateGraph(State)
    builder.add_node("wait", wait)
    builder.add_node("stamp", lambda state: {"out": time.time()})
    builder.add_edge(START, "wait")
    builder.add_edge("wait", "stamp")
    builder.add_edge("stamp", END)
    return builder.compile(checkpointer=checkpointer)


def config(thread: str, steps: int = 10) -> Any:
    return {"configurable": {"thread_id": thread}, "recursion_limit": steps + 10}


def in_process(args: Any, measure: str) -> list[dict[str, Any]]:
    sync = common.synchronous_of(measure)
    steps = 1 if measure == "one-step" else args.steps
    checkpointer = saver(args.dir, measure, sync)
    graph = steps_graph(checkpointer)
    counter = iter(range(10**9))

    def once() -> None:
        thread = f"t-{next(counter)}"
        graph.invoke({"i": 0, "n": steps}, config(thread, steps), durability="sync")

    once()  # warm-up
    samples = [common.timed(once) / steps for _ in range(args.count)]
    where = 'in process (graph.invoke, durability="sync") ' + common.observed(
        common.sqlite3_query(checkpointer.conn)
    )
    return [common.row("default", f"{common.sqlite_setting(sync)}, {where}", samples)]


def crash(args: Any) -> None:
    graph = crash_graph(saver(args.dir, "recovery", args.sync), args.dir)
    graph.invoke({"i": 0, "run_id": args.run_id}, config(args.run_id), durability="sync")


def recover(args: Any) -> None:
    graph = crash_graph(saver(args.dir, "recovery", args.sync), args.dir)
    print(graph.invoke(None, config(args.run_id), durability="sync")["i"], flush=True)


def suspend(args: Any) -> None:
    """The process the threads are suspended in: each runs to its interrupt."""
    graph = event_graph(saver(args.dir, "event", args.sync))
    for index in range(args.count + 1):
        graph.invoke({"i": 0}, config(f"event-{index}"), durability="sync")


def event(args: Any) -> list[float]:
    suspender = common.spawn(SCRIPT, "suspend", args, "--count", str(args.count))
    suspender.communicate(timeout=120)
    graph = event_graph(saver(args.dir, "event", args.sync))
    samples = []
    for index in range(args.count + 1):
        sent = time.time()
        state = graph.invoke(Command(resume="go"), config(f"event-{index}"), durability="sync")
        samples.append(state["out"] - sent)
    return samples[1:]


def main() -> None:
    args = common.parse()
    role = args.role
    if role in ("step-full", "step-normal", "one-step"):
        common.emit(in_process(args, role))
    elif role in ("crash", "recover", "suspend"):
        {"crash": crash, "recover": recover, "suspend": suspend}[role](args)
    elif role == "recovery":
        samples = common.measure_recovery(SCRIPT, args, args.count)
        how = "a fresh process invokes the thread again (graph.invoke(None, config))"
        common.emit([common.row("default", f"{common.sqlite_setting(args.sync)}, {how}", samples)])
    elif role == "event":
        how = (
            "suspended (interrupt) in another process; no event delivery: the sender resumes "
            "the thread itself with graph.invoke(Command(resume=...))"
        )
        common.emit(
            [common.row("default", f"{common.sqlite_setting(args.sync)}, {how}", event(args))]
        )
    elif role in ("sleep", "sleep-crash", "many-sleeps"):
        common.emit([common.row("n/a", "LangGraph has no durable timer: not measured", [])])


if __name__ == "__main__":
    main()
