"""`Engine`: the one entry object that wires the store, the tools, the compiler and the runtime."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import uuid
import weakref
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar, overload

from agentflow import telemetry
from agentflow.agent import Agent
from agentflow.errors import AmbiguousRunId, ConfigurationError, ToolsUnavailable
from agentflow.plan import CompiledPlan, PlanLimits, load_plan
from agentflow.review.service import Reviews
from agentflow.run import Run
from agentflow.runtime import (
    LeaseKeeper,
    Outcome,
    PlanVersion,
    RuntimeLimits,
    ToolHandle,
    ToolRegistry,
    Wakeup,
    WorkLoop,
    run_activation,
)
from agentflow.runtime.executor import PlanRunner, run_inline
from agentflow.runtime.liveness import owner_id
from agentflow.runtime.observe import observe_activation
from agentflow.runtime.sandbox.host import SandboxRunner
from agentflow.runtime.sandbox.pool import SandboxPool, SandboxSettings
from agentflow.store import DEFAULT_DATABASE_URL, RunRow, Store
from agentflow.store.claims import Claimed, Handoff
from agentflow.store.mappers import plan_version_of

log = logging.getLogger("agentflow.engine")
ISOLATION_MODES = ("process", "inline")
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


def database_url(url: str | None = None) -> str:
    """The URL to use: the one given, else `AGENTFLOW_DATABASE_URL`, else `sqlite:///agentflow.db`."""
    return url or os.environ.get("AGENTFLOW_DATABASE_URL") or DEFAULT_DATABASE_URL


def importable_path(fn: Callable[..., Any]) -> str | None:
    """`module:qualname` of a function another process can import, else None."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        return None
    return f"{module}:{qualname}"


class Engine:
    """Stores agents, plans and runs, and executes runs durably.

    Args:
        url: database URL; default `AGENTFLOW_DATABASE_URL`, else `sqlite:///agentflow.db`.
        limits: run limits (step output size, steps per run, ...).
        isolation: where plan code runs. `"process"` (the default): in sandbox processes,
            confined, one agent per process, never in the process that holds tools, secrets
            and database connections. `"inline"`: in this process, for trusted plans and tests.
        sandbox: limits of the sandbox processes (memory, CPU, how many).
        plan_limits: the compute budget of each execution of plan code.
        durability: what a committed checkpoint survives. `"normal"` (the default): a crash of
            any process (SQLite `synchronous=NORMAL` in WAL mode, PostgreSQL
            `synchronous_commit=off`); `"full"`: a power loss or an operating-system crash too,
            at the price of an fsync per commit (`synchronous=FULL`, `synchronous_commit=on`).
        lease_seconds: how long a worker's claim on a run lasts without a heartbeat.
        poll_interval: how often an idle worker looks for runs made due by other processes.

    Example:
        >>> engine = Engine("sqlite:///demo.db")
        >>> @engine.tool(side_effects=False)
        ... def add(a: int, b: int) -> int:
        ...     return a + b
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        limits: RuntimeLimits | None = None,
        isolation: str = "process",
        sandbox: SandboxSettings | None = None,
        plan_limits: PlanLimits | None = None,
        durability: str = "normal",
        lease_seconds: float = 5.0,
        poll_interval: float = 0.5,
    ) -> None:
        if isolation not in ISOLATION_MODES:
            raise ConfigurationError(
                f"isolation {isolation!r} is not one of {', '.join(ISOLATION_MODES)}"
            )
        self.url = database_url(url)
        self.store = Store(self.url, durability)
        self.tools = ToolRegistry()
        self.limits = limits or RuntimeLimits()
        self.isolation = isolation
        self.plan_limits = plan_limits
        self._sandbox_settings = sandbox
        self._sandboxes: SandboxRunner | None = None
        self._sandbox_lock = threading.Lock()
        self.lease_seconds = lease_seconds
        self.owner = owner_id(uuid.uuid4().hex[:8])
        self.wakeup = Wakeup()
        self.reviews = Reviews(self)
        self._leases = LeaseKeeper(self.store, self.owner, lease_seconds)
        self._loop = WorkLoop(
            self.store,
            self.owner,
            lease_seconds,
            self.activate,
            self.wakeup,
            poll_interval,
            leases=self._leases,
        )
        # The planner's default model: a litellm name, or a model object with complete and
        # acomplete (e.g. agentflow.testing.ScriptedModel), which `--app` hosts can set.
        self.model: Any = None
        self._handles: dict[str, ToolHandle] = {}
        _ENGINES.add(self)

    def close(self) -> None:
        """Stop the lease keeper and the sandboxes, and release database connections."""
        self._leases.stop()
        with self._sandbox_lock:
            sandboxes, self._sandboxes = self._sandboxes, None
        if sandboxes is not None:
            sandboxes.close()
        self.store.close()

    @property
    def sandboxes(self) -> SandboxPool | None:
        """This engine's sandbox processes (None until a sandboxed activation ran)."""
        return self._sandboxes.pool if self._sandboxes is not None else None

    @property
    def sandbox_settings(self) -> SandboxSettings | None:
        """The limits this engine's sandbox processes were given (None: the defaults)."""
        return self._sandbox_settings

    def _runner(self) -> PlanRunner:
        if self.isolation == "inline":
            return run_inline
        with self._sandbox_lock:
            if self._sandboxes is None:
                self._sandboxes = SandboxRunner(self._sandbox_settings)
                # An engine dropped without close() still stops its sandboxes.
                weakref.finalize(self, self._sandboxes.close)
            return self._sandboxes

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- tools -------------------------------------------------------------------------

    @overload
    def tool(self, fn: Callable[P, R], /) -> Callable[P, R]: ...

    @overload
    def tool(
        self, /, *, name: str | None = None, side_effects: bool = True
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        side_effects: bool = True,
    ) -> Any:
        """Register a host function as a tool that plans may call through `step.do`.

        Use as `@engine.tool` or `@engine.tool(side_effects=False)`. The function is returned
        unchanged. `side_effects=True` (the default) tells reviewers the tool changes the world.
        """

        def register(func: Callable[..., Any]) -> Callable[..., Any]:
            tool = self.tools.register(func, name=name, side_effects=side_effects)
            self.store.record_tool(tool.name, importable_path(func), side_effects)
            return func

        return register(fn) if fn is not None else register

    # --- agents, plans, runs -------------------------------------------------------------

    def agent(
        self,
        agent_id: str,
        tools: list[str] | None = None,
        review: str | None = None,
        model: str | None = None,
        approvals: Mapping[str, int] | None = None,
        max_concurrent_runs: int | None = None,
    ) -> Agent:
        """The handle (`Agent`) of an existing agent, unchanged; or of a new one.

        A new agent is created with `tools` (default: none at all), `review` (default
        "required"), `model` and `approvals`. For an existing agent, values that differ from
        the stored ones raise ConfigurationError; change an agent with `agent.update(...)`.

        Args:
            agent_id: the agent's name, unique in this store.
            tools: names of registered tools its plans may use.
            review: "required", "auto" or "auto-if-safe".
            model: the model its planner asks by default.
            approvals: the two-person rule: risk level ("low", "medium", "high") -> how many
                distinct reviewers must approve a plan version of that risk (default one),
                e.g. `{"high": 2}`.
            max_concurrent_runs: how many of its runs may run at once, across every worker
                (default: no limit); claims leave its other due runs queued.
        """
        return Agent.open(
            self,
            agent_id,
            tools=tools,
            review=review,
            model=model,
            approvals=approvals,
            max_concurrent_runs=max_concurrent_runs,
        )

    def get_agent(self, agent_id: str) -> Agent:
        """The handle of an existing agent; raises NotFound."""
        return Agent.existing(self, agent_id)

    def get_plan(self, plan_id: int) -> PlanVersion:
        """A stored plan version by id; raises NotFound."""
        return plan_version_of(self.store.get_plan(plan_id))

    def get_run(self, run_id: str, agent: Agent | str | None = None) -> Run:
        """The operator's handle of any agent's run; raises NotFound.

        Run ids are unique per agent: give `agent` (an `Agent` or its id) to pick one agent's
        run. Without it the id must name one run across agents (a run's store-wide `key` is
        accepted too).

        Raises:
            NotFound: no such run.
            AmbiguousRunId: several agents have a run with this id; pass `agent=`.
        """
        if agent is not None:
            agent_id = agent if isinstance(agent, str) else agent.id
            return Run.of(self, self.store.find_run(agent_id, run_id))
        rows = self.store.runs_with_id(run_id)
        if len(rows) > 1:
            raise AmbiguousRunId(run_id, [r.agent_id for r in rows])
        return Run.of(self, rows[0] if rows else self.store.get_run(run_id))

    def runs(self, status: str | None = None, agent_id: str | None = None) -> list[Run]:
        """Handles of runs, newest first."""
        return [Run.of(self, r) for r in self.store.list_runs(agent_id, status)]

    # --- execution -----------------------------------------------------------------------

    def work(
        self,
        until_idle: bool = True,
        *,
        stop: threading.Event | None = None,
        concurrency: int = 1,
    ) -> int:
        """Run every run that is due, in this process; returns the number of activations.

        With `until_idle=True` it returns once nothing is due now: sleeping and waiting runs
        stay suspended and hold nothing. With `until_idle=False` it works until `stop` is set,
        running up to `concurrency` runs at once.
        """
        if until_idle:
            return self._loop.drain()
        self.warm_sandboxes()
        return self._loop.run_forever(stop or threading.Event(), concurrency)

    def warm_sandboxes(self) -> None:
        """Start the sandbox zygote in the background, if plan code runs in sandboxes.

        Its interpreter starts and imports while this process claims a run and loads its plan
        and journal, instead of after: a process that recovers a run waits less.
        """
        runner = self._runner()
        if isinstance(runner, SandboxRunner):
            runner.warm()

    def notify(self) -> None:
        """Wake this process's idle work loops (a run may have become due)."""
        with self.wakeup:
            self.wakeup.notify_all()

    def activate(self, claimed: RunRow | Claimed, handoff: Handoff | None = None) -> Outcome:
        """Run one activation of a run this process has claimed.

        A `handoff` (the next run this process reserved) is claimed by the settlement.
        """
        row = claimed.row if isinstance(claimed, Claimed) else claimed
        self._leases.hold(row.id)
        try:
            with observe_activation(self.store, row, self.owner) as report:
                outcome = run_activation(
                    self.store,
                    claimed,
                    self.owner,
                    self._load_plan,
                    self.limits,
                    self._runner(),
                    handoff,
                )
                report.status = outcome.status
                return outcome
        finally:
            self._leases.release(row.id)
            self.notify()

    def compile_for_agent(self, source: str, tool_names: list[str]) -> CompiledPlan:
        """Compile a plan against the given tools of this engine (through the plan cache)."""
        self.import_missing_tools(tool_names)
        return self._compile(source, tool_names)

    def _compile(self, source: str, tool_names: list[str]) -> CompiledPlan:
        with telemetry.span("agentflow.compile", tools=",".join(tool_names)) as current:
            compiled = load_plan(
                source,
                tools={n: self.tools.get(n).fn for n in tool_names},
                limits=self.plan_limits,
            )
            if current is not None and current.is_recording():
                current.set_attribute("agentflow.plan_sha256", compiled.sha256)
            return compiled

    def import_missing_tools(self, names: list[str]) -> list[str]:
        """Import the named tools this process lacks from their recorded paths; still missing."""
        for name in names:
            if name not in self.tools:
                self._import_tool(name)
        return [name for name in names if name not in self.tools]

    def _load_plan(
        self, run: RunRow, allowed: list[str]
    ) -> tuple[CompiledPlan, Mapping[str, ToolHandle]]:
        source = self.store.plan_source(run.plan_id)
        missing = self.import_missing_tools(allowed)
        if missing:
            raise ToolsUnavailable(
                f"this worker has no tool{'s' * (len(missing) > 1)} {', '.join(missing)} "
                f"registered, which agent {run.agent_id!r} uses, and could not import "
                f"{'them' if len(missing) > 1 else 'it'}: start workers with the host module "
                f"that registers them (agentflow worker --app module:engine)"
            )
        compiled = self._compile(source, allowed)
        return compiled, {name: self._handle(name) for name in allowed}

    def _import_tool(self, name: str) -> None:
        """Find a tool this engine lacks.

        It is looked for on another engine of this process on the same store (e.g. the
        planner's default engine beside the host's), else at its recorded path.
        """
        for other in list(_ENGINES):
            if other is not self and other.url == self.url and name in other.tools:
                tool = other.tools.get(name)
                self.tools.register(tool.fn, name=name, side_effects=tool.side_effects)
                return
        row = self.store.get_tool(name)
        if row is None or row.import_path is None:
            return
        module_name, _, qualname = row.import_path.partition(":")
        if os.getcwd() not in sys.path:
            sys.path.append(os.getcwd())
        try:
            target: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                target = getattr(target, part)
        except Exception:
            log.warning("could not import tool %r from %s", name, row.import_path, exc_info=True)
            return
        if callable(target) and name not in self.tools:
            self.tools.register(target, name=name, side_effects=row.side_effects)

    def _handle(self, name: str) -> ToolHandle:
        tool = self.tools.get(name)
        handle = self._handles.get(name)
        if handle is None or handle.tool is not tool:
            handle = self._handles[name] = ToolHandle(tool)
        return handle
