"""DBOS's side of bench/compare.py (runs with bench/peers/.venv: dbos==3.4.0).

DBOS keeps its system database in SQLite here, as agentflow does. DBOS sets neither
journal_mode nor synchronous on its SQLite connections, so a SQLAlchemy connect listener sets
WAL and the measure's synchronous level on every connection it opens (as agentflow does).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import pg
import sqlalchemy as sa
from dbos import DBOS, DBOSClient, DBOSConfig, SetWorkflowID
from dbos._dbos import _get_dbos_instance

SCRIPT = str(Path(__file__).resolve())
SYNC = "NORMAL"
DIRECTORY = Path(".")


@sa.event.listens_for(sa.engine.Engine, "connect")
def _pragmas(connection: Any, _record: Any) -> None:
    if isinstance(connection, sqlite3.Connection):
        common.set_pragmas(connection, SYNC)


@DBOS.step()
def noop(i: int) -> int:
    return i


@DBOS.step()
def stamp() -> float:
    return time.time()


@DBOS.step()
def block(run_id: str) -> int:
    common.block_if_crashing(DIRECTORY, run_id)
    return 2


@DBOS.step()
def ready(run_id: str) -> None:
    common.touch(DIRECTORY / f"ready-{run_id}")


@DBOS.workflow()
def steps_wf(count: int) -> int:
    for i in range(count):
        noop(i)
    return 1


@DBOS.workflow()
def crash_wf(run_id: str) -> int:
    noop(1)
    block(run_id)
    return 1


@DBOS.workflow()
def event_wf(run_id: str) -> float:
    ready(run_id)
    DBOS.recv("go", timeout_seconds=3600)
    return stamp()


@DBOS.workflow()
def sleep_wf(seconds: float, run_id: str) -> float:
    DBOS.sleep(seconds)
    return time.time()  # on recovery, this is the recovering process's wake-up


@DBOS.workflow()
def until_wf(at: float) -> int:
    DBOS.sleep(max(0.0, at - time.time()))
    return 1


def lateness(run_id: str, woke: float) -> float:
    """Wake minus the deadline DBOS.sleep checkpointed (time.time() + seconds when first called)."""
    connection = sqlite3.connect(DIRECTORY / "dbos-sleep.sqlite")
    query = "SELECT output FROM operation_outputs WHERE workflow_uuid = ? AND function_name = ?"
    (output,) = connection.execute(query, (run_id, "DBOS.sleep")).fetchone()
    connection.close()
    return woke - float(json.loads(output))


def url(name: str) -> str:
    return name if "://" in name else f"sqlite:///{DIRECTORY}/dbos-{name}.sqlite"


def launch(name: str, **extra: Any) -> None:
    config: DBOSConfig = {"name": "bench", "system_database_url": url(name), "log_level": "ERROR"}
    config.update(extra)  # type: ignore[typeddict-item]
    DBOS(config=config)
    DBOS.launch()
    if "://" not in name:
        DBOS.register_queue("bench", polling_interval_sec=0.05)


def in_process(args: Any, measure: str) -> list[dict[str, Any]]:
    launch(measure)
    steps = 1 if measure == "one-step" else args.steps
    steps_wf(steps)  # warm-up
    samples = [common.timed(lambda: steps_wf(steps)) / steps for _ in range(args.count)]
    where = "in process (workflow function called directly) " + observed()
    return [common.row("default", f"{common.sqlite_setting(SYNC)}, {where}", samples)]


def observed() -> str:
    return common.observed(common.sqlalchemy_query(_get_dbos_instance()._sys_db.engine))


def crash(args: Any) -> None:
    launch("recovery")
    with SetWorkflowID(args.run_id):
        crash_wf(args.run_id)


def recover(args: Any) -> None:
    launch(args.db or "recovery")  # recovers this executor's pending workflows on launch
    print(DBOS.retrieve_workflow(args.run_id).get_result(), flush=True)
    DBOS.destroy()


def worker(args: Any) -> None:
    launch("event")
    while True:
        time.sleep(3600)


def event(args: Any) -> list[float]:
    launch("event")  # creates the schema before the worker and the client use it
    process = common.spawn(SCRIPT, "worker", args)
    client = DBOSClient(system_database_url=url("event"))
    samples = []
    try:
        for index in range(args.count + 1):
            run_id = f"event-{index}"
            options = {"queue_name": "bench", "workflow_name": "event_wf", "workflow_id": run_id}
            handle = client.enqueue(options, run_id)  # type: ignore[arg-type]
            common.wait_for_file(DIRECTORY / f"ready-{run_id}")
            time.sleep(0.1)  # let the workflow reach DBOS.recv
            sent = time.time()
            client.send(run_id, "go", topic="go")
            samples.append(handle.get_result() - sent)
    finally:
        common.kill_group(process)
        client.destroy()
    return samples[1:]


def sleep(args: Any) -> list[float]:
    launch("sleep")
    handles = []
    for index in range(args.count):
        run_id = f"sleep-{index}"
        with SetWorkflowID(run_id):
            handles.append(DBOS.start_workflow(sleep_wf, common.SLEEP_SECONDS, run_id))
        time.sleep(0.1)
    return [lateness(handle.workflow_id, handle.get_result()) for handle in handles]


def sleeper(args: Any) -> None:
    launch("sleep")
    with SetWorkflowID(args.run_id):
        DBOS.start_workflow(sleep_wf, common.CRASH_SLEEP_SECONDS, args.run_id)
    time.sleep(3600)


def sleep_after_crash(args: Any) -> list[float]:
    samples = []
    for index in range(args.count):
        run_id = f"sleep-crash-{index}"
        victim = common.spawn(SCRIPT, "sleeper", args, "--run-id", run_id)
        wait_for_sleep(run_id)
        time.sleep(common.KILL_AFTER)
        common.kill_group(victim)
        rescuer = common.spawn(SCRIPT, "recover", args, "--run-id", run_id, "--db", "sleep")
        assert rescuer.stdout is not None
        woke = float(rescuer.stdout.readline())
        rescuer.communicate(timeout=60)
        samples.append(lateness(run_id, woke))
    return samples


def wait_for_sleep(run_id: str) -> None:
    """Until the sleep's deadline is checkpointed."""
    path = DIRECTORY / "dbos-sleep.sqlite"
    query = "SELECT 1 FROM operation_outputs WHERE workflow_uuid = ? AND function_name = ?"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists():
            connection = sqlite3.connect(path, timeout=30)
            try:
                if connection.execute(query, (run_id, "DBOS.sleep")).fetchone():
                    return
            except sqlite3.OperationalError:
                pass  # tables not created yet
            finally:
                connection.close()
        time.sleep(0.005)
    raise TimeoutError(f"{run_id} never slept")


def many_sleeps(args: Any) -> list[dict[str, Any]]:
    """N workflows sleep until one common deadline in this process.

    Memory, then wake-up rate. The deadline leaves 1.2 times the time a pilot of one-step
    workflows predicts.
    """
    launch("many")
    steps_wf(1)
    started = time.time()
    for handle in [DBOS.start_workflow(steps_wf, 1) for _ in range(50)]:
        handle.get_result()
    per_run = (time.time() - started) / 50
    before = common.rss_kib([os.getpid()])
    deadline = time.time() + 1.2 * per_run * args.count + 5
    started = time.time()
    handles = [DBOS.start_workflow(until_wf, deadline) for _ in range(args.count)]
    while sleeping() < args.count and time.time() < deadline:
        time.sleep(1.0)
    asleep_at, asleep = time.time(), sleeping()
    after = common.rss_kib([os.getpid()])
    threads = threading.active_count()
    time.sleep(max(0.0, deadline - time.time()))
    for handle in handles:
        handle.get_result()
    done = time.time()
    rows = common.many_rows(args.count, asleep, before, after, asleep_at - started, done - deadline)
    how = (
        f"{common.sqlite_setting(SYNC)}, one process (workflows started in it; "
        f"{threads} threads while they slept)"
    )
    for item in rows:
        item["setting"] = f"{item['setting']}; {how}".lstrip("; ")
    return rows


def sleeping() -> int:
    connection = sqlite3.connect(DIRECTORY / "dbos-many.sqlite", timeout=30)
    query = "SELECT count(*) FROM operation_outputs WHERE function_name = 'DBOS.sleep'"
    (found,) = connection.execute(query).fetchone()
    connection.close()
    return int(found)


WORKERS = (1, 2, 4)
POSTGRES_STEPS = 10
# agentflow's default durability on PostgreSQL (durability="normal"); DBOS's server default is on.
PG_KWARGS = {"connect_args": {"options": "-c synchronous_commit=off"}}


def postgres(args: Any) -> list[dict[str, Any]]:
    """N workflows of 10 steps, enqueued first, drained by 1, 2 and 4 worker processes.

    The workers start dequeuing together on a signal, each with its own executor id.
    """
    samples: dict[int, list[float]] = {}
    for workers in WORKERS:
        with pg.database() as database:
            samples[workers] = [pg_drain(args, database, workers)]
    setting = (
        f"PostgreSQL, synchronous_commit=off (set on DBOS's connections), {args.count} workflows "
        f"of {POSTGRES_STEPS} steps enqueued before the workers start (queue polled every "
        "0.05 s); throughput = workflows / (last completion - start signal), polled every 0.1 s"
    )
    return [common.row(f"{w} worker process(es), runs/s", setting, samples[w]) for w in WORKERS]


def pg_drain(args: Any, database: str, workers: int) -> float:
    directory = args.dir / f"pg-{workers}"
    directory.mkdir()
    worker_args = common.parse(["pg-worker", "--dir", str(directory)])
    setup = common.spawn(SCRIPT, "pg-worker", worker_args, "--db", database)
    common.wait_for_file(directory / "ready-")  # migrated; this one exits without dequeuing
    common.kill_group(setup)
    client = DBOSClient(system_database_url=database)
    options = {"queue_name": "bench", "workflow_name": "steps_wf"}
    for _ in range(args.count):
        client.enqueue(options, POSTGRES_STEPS)  # type: ignore[arg-type]
    processes = [
        common.spawn(SCRIPT, "pg-worker", worker_args, "--db", database, "--run-id", str(index))
        for index in range(workers)
    ]
    try:
        for index in range(workers):
            common.wait_for_file(directory / f"ready-{index}")
        started = time.time()
        common.touch(directory / "go")
        query = "SELECT count(*) FROM dbos.workflow_status WHERE status = 'SUCCESS'"
        admin = database.replace("postgresql+psycopg://", "postgresql://")
        with pg.connect(admin) as connection:
            while connection.execute(query).fetchone()[0] < args.count:  # type: ignore[index]
                time.sleep(0.1)
        elapsed = time.time() - started
    finally:
        for process in processes:
            common.kill_group(process)
        client.destroy()
    return args.count / elapsed


def pg_worker(args: Any) -> None:
    executor = f"worker-{args.run_id or 'setup'}"
    launch(args.db, executor_id=executor, db_engine_kwargs=PG_KWARGS)
    common.touch(args.dir / f"ready-{args.run_id}")
    if not args.run_id:
        time.sleep(3600)
    common.wait_for_file(args.dir / "go", timeout=600)
    DBOS.register_queue("bench", polling_interval_sec=0.05)
    time.sleep(3600)


def main() -> None:
    global SYNC, DIRECTORY
    args = common.parse()
    SYNC, DIRECTORY = args.sync, args.dir
    role = args.role
    if role in ("step-full", "step-normal", "one-step"):
        SYNC = common.synchronous_of(role)
        common.emit(in_process(args, role))
    elif role in ("crash", "recover", "worker", "sleeper", "pg-worker"):
        roles = {"crash": crash, "recover": recover, "worker": worker, "sleeper": sleeper}
        {**roles, "pg-worker": pg_worker}[role](args)
        return
    setting = common.sqlite_setting(SYNC)
    if role == "pg-takeover":
        why = (
            "not measured: DBOS.launch() recovers the workflows of its own executor id; another "
            "live executor does not take over a dead one's workflows by itself"
        )
        common.emit([common.row("n/a", why, [])])
    elif role == "recovery":
        samples = common.measure_recovery(SCRIPT, args, args.count)
        how = "a fresh process's DBOS.launch() recovers, then retrieve_workflow().get_result()"
        common.emit([common.row("default", f"{setting}, {how}", samples)])
    elif role == "event":
        how = (
            "worker process (queue polled every 0.05 s; notification polling 1 s default), "
            "DBOSClient.send from another process"
        )
        common.emit([common.row("default", f"{setting}, {how}", event(args))])
    elif role == "sleep":
        how = "live, in process (DBOS.start_workflow); wake = return of DBOS.sleep - its deadline"
        common.emit([common.row("default", f"{setting}, {how}", sleep(args))])
    elif role == "postgres":
        common.emit(postgres(args))
        return
    elif role == "many-sleeps":
        common.emit(many_sleeps(args))
    elif role == "sleep-crash":
        how = (
            f"process SIGKILLed {common.KILL_AFTER} s into a {common.CRASH_SLEEP_SECONDS:g} s "
            "sleep, a fresh process launched at once recovers it"
        )
        common.emit([common.row("default", f"{setting}, {how}", sleep_after_crash(args))])
    DBOS.destroy()


if __name__ == "__main__":
    main()
