"""Dry runs: a plan version runs against fake tools, on a throw-away store, on a virtual clock.

A reviewer sees what a plan would do before it touches the world: which tools it calls, with
which arguments, in which order, how long it sleeps and waits, and what it returns. No real
tool is ever called: the simulation's engine registers only fakes, under the same names and
signatures, that return a fixture, else an example of the tool's return annotation, else None.
Sleeps, retry delays and wait timeouts are skipped by bringing the run's timers forward, so a
3-day sleep takes no real time and is reported as 3 days. Plan code runs where the reviewer's
engine runs it (in a sandbox process by default): a pending plan is untrusted code.
"""

from __future__ import annotations

import inspect
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agentflow.errors import ConfigurationError
from agentflow.examples import return_example
from agentflow.models import (
    RunState,
    RunStatus,
    Simulation,
    StepState,
    StepStatus,
    TraceEntry,
)
from agentflow.runtime.scope import current_scope

if TYPE_CHECKING:
    from agentflow.engine import Engine
    from agentflow.run import Run

WAIT_CHOICES = ("answer", "timeout")


class _Clock:
    """Virtual seconds since the run started: real time plus every skipped timer."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self.skipped = 0.0

    def now(self) -> float:
        return self.skipped + time.monotonic() - self._started


class _Recorder:
    """The trace, written by fake tools (from tool threads) and by the driving loop."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        self.entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, kind: str, **fields: Any) -> None:
        with self._lock:
            self.entries.append({"at_seconds": round(self.clock.now(), 6), "kind": kind, **fields})


def simulate(
    engine: Engine,
    plan_id: int,
    fixtures: Mapping[str, Any] | None = None,
    events: Mapping[str, Any] | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    waits: str = "answer",
    max_seconds: float = 60.0,
) -> Simulation:
    """Run plan version `plan_id` of `engine` as a dry run; see `Reviews.simulate`."""
    if waits not in WAIT_CHOICES:
        raise ConfigurationError(f"waits={waits!r} must be one of {', '.join(WAIT_CHOICES)}")
    plan = engine.get_plan(plan_id)
    agent = engine.get_agent(plan.agent_id)
    if params is None:
        queued = engine.store.get_plan(plan_id).start_on_approval or {}
        params = queued.get("params") or {}
    clock = _Clock()
    recorder = _Recorder(clock)
    with tempfile.TemporaryDirectory(prefix="agentflow-simulation-") as directory:
        # The engine's own class: `Reviews`, which the engine module imports, offers this.
        sim = type(engine)(
            f"sqlite:///{directory}/simulation.db",
            limits=engine.limits,
            isolation=engine.isolation,
            sandbox=engine.sandbox_settings,
            plan_limits=engine.plan_limits,
            poll_interval=0.01,
        )
        try:
            for name in agent.tools:
                _register_fake(sim, engine, name, (fixtures or {}).get(name, _NO_FIXTURE), recorder)
            sim_agent = sim.agent(plan.agent_id, tools=list(agent.tools), review="required")
            version = sim_agent.submit_plan(plan.source, goal=plan.goal)
            sim.reviews.approve(version.id, reviewer="simulation")
            run = sim_agent.start(params=dict(params))
            status, reason = _drive(sim, run, recorder, dict(events or {}), waits, max_seconds)
        finally:
            sim.close()
    return _result(plan.id, plan.agent_id, plan.version, dict(params), status, reason, recorder)


_NO_FIXTURE = object()


def _register_fake(
    sim: Engine, engine: Engine, name: str, fixture: Any, recorder: _Recorder
) -> None:
    real = engine.tools.get(name) if name in engine.tools else None
    signature = real.signature if real is not None else _ANY_ARGUMENTS
    side_effects = real.side_effects if real is not None else True
    if fixture is not _NO_FIXTURE:
        source = "fixture"
    elif real is not None and (example := return_example(real.fn)) is not None:
        fixture, source = example, "annotation"
    else:
        fixture, source = None, "none"

    def fake(*args: Any, **kwargs: Any) -> Any:
        step_key = current_scope(name).key
        value = fixture(*args, **kwargs) if callable(fixture) else fixture
        recorder.add(
            "tool",
            step=step_key,
            tool=name,
            args=list(args),
            kwargs=kwargs,
            value=value,
            value_from=source,
        )
        return value

    fake.__name__ = name
    fake.__signature__ = _without_annotations(signature)  # type: ignore[attr-defined]
    sim.tool(name=name, side_effects=side_effects)(fake)


_ANY_ARGUMENTS = inspect.Signature(
    [
        inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
        inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
    ]
)


def _without_annotations(signature: inspect.Signature) -> inspect.Signature:
    """The real tool's parameters, untyped: the fake accepts what the real tool would bind."""
    return signature.replace(
        parameters=[
            p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()
        ],
        return_annotation=inspect.Signature.empty,
    )


def _drive(
    sim: Engine,
    run: Run,
    recorder: _Recorder,
    events: dict[str, Any],
    waits: str,
    max_seconds: float,
) -> tuple[RunStatus, str | None]:
    """Work the run to its end, answering waits and skipping timers; (last status, why stuck)."""
    deadline = time.monotonic() + max_seconds
    while True:
        sim.work()
        status = run.status()
        if status.done:
            return status, None
        if time.monotonic() > deadline:
            return status, f"the simulation ran for more than {max_seconds:g} s of real time"
        waiting_for = status.waiting_for
        if status.status == RunState.WAITING and waiting_for and waits == "answer":
            payload = _example_event(events, waiting_for)
            recorder.add(
                "event",
                step=_step_in(status, StepState.WAITING),
                event_type=waiting_for,
                value=payload,
            )
            run.send_event(waiting_for, payload)
            continue
        due = sim.store.next_timer(run.key)
        if due is None:
            return (
                status,
                f"the run is {status.status} and nothing the simulation can do moves it on",
            )
        seconds = max(0.0, due - time.time())
        kind, fields = _timer_entry(status, seconds)
        recorder.add(kind, **fields)
        recorder.clock.skipped += seconds
        sim.store.shift_timers(seconds, run.key)
        sim.notify()


def _example_event(events: dict[str, Any], event_type: str) -> Any:
    """The next example payload for `event_type`: a list gives one payload per wait, in order."""
    examples = events.get(event_type, {})
    if isinstance(examples, list):
        return examples.pop(0) if examples else {}
    return examples


def _timer_entry(status: RunStatus, seconds: float) -> tuple[str, dict[str, Any]]:
    """The trace entry of a timer about to be skipped; `seconds` is what is left of it."""
    if status.status == RunState.WAITING:
        waiting = _suspended_step(status, StepState.WAITING)
        return "wait_timeout", {
            "step": waiting.name if waiting else None,
            "seconds": _nominal(waiting, seconds),
            "event_type": status.waiting_for,
        }
    retrying = _suspended_step(status, StepState.RETRYING)
    if retrying is not None:
        return "retry_delay", {"step": retrying.name, "seconds": round(seconds, 3)}
    sleeping = _suspended_step(status, StepState.SLEEPING)
    return "sleep", {
        "step": sleeping.name if sleeping else None,
        "seconds": _nominal(sleeping, seconds),
    }


def _nominal(step: StepStatus | None, left: float) -> float:
    """How long the sleep or wait was asked to last (what is left of it, if that is unknown)."""
    if step is not None and step.started_at is not None and step.wake_at is not None:
        return round((step.wake_at - step.started_at).total_seconds(), 3)
    return round(left, 3)


def _suspended_step(status: RunStatus, state: StepState) -> StepStatus | None:
    matching = [step for step in status.steps if step.status == state]
    return matching[-1] if matching else None


def _step_in(status: RunStatus, state: StepState) -> str | None:
    step = _suspended_step(status, state)
    return step.name if step is not None else None


def _result(
    plan_id: int,
    agent_id: str,
    version: int,
    params: dict[str, Any],
    status: RunStatus,
    reason: str | None,
    recorder: _Recorder,
) -> Simulation:
    names = {step.key: step.name for step in status.steps}
    entries = [
        {**entry, "step": names.get(entry["step"], entry["step"])}
        if entry["kind"] == "tool"
        else entry
        for entry in recorder.entries
    ]
    if status.status == RunState.COMPLETE:
        entries.append(
            {"at_seconds": round(recorder.clock.now(), 6), "kind": "output", "value": status.output}
        )
    elif status.error is not None:
        entries.append(
            {"at_seconds": round(recorder.clock.now(), 6), "kind": "error", "value": status.error}
        )
    return Simulation(
        plan_id=plan_id,
        agent_id=agent_id,
        version=version,
        params=params,
        status=str(status.status) if status.done else "stuck",
        output=status.output,
        error=status.error,
        reason=reason,
        trace=[TraceEntry(**entry) for entry in entries],
        virtual_seconds=round(recorder.clock.now(), 6),
        wall_seconds=round(recorder.clock.now() - recorder.clock.skipped, 6),
    )
