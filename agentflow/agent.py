"""`Agent`: one tenant's handle, which sees and controls only its own plans and runs."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from agentflow.errors import (
    ConfigurationError,
    LimitExceeded,
    NotFound,
    PlanNotApproved,
    ToolNotAllowed,
)
from agentflow.runtime import PlanVersion
from agentflow.runtime.step_api import checkpointable

if TYPE_CHECKING:
    from agentflow.engine import Engine
    from agentflow.run import Run

REVIEW_POLICIES = ("required", "auto", "auto-if-safe")
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
AGENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


class Agent:
    """An agent: its allowed tools, its review policy, its versioned plans and its runs.

    Get one with `engine.agent(...)`.
    """

    def __init__(
        self, engine: Engine, agent_id: str, tools: list[str], review: str, model: str | None
    ) -> None:
        self.engine = engine
        self.id = agent_id
        self.tools = tools
        self.review = review
        self.model = model

    @classmethod
    def open(
        cls,
        engine: Engine,
        agent_id: str,
        *,
        tools: list[str] | None,
        review: str,
        model: str | None,
    ) -> Agent:
        """Create or update the agent in the store."""
        if not AGENT_ID_PATTERN.match(agent_id or ""):
            raise ConfigurationError(
                f"agent id {agent_id!r} must be 1-128 letters, digits or ._:@- "
                "and start with a letter or digit"
            )
        if review not in REVIEW_POLICIES:
            raise ConfigurationError(
                f"review policy {review!r} is not one of {', '.join(REVIEW_POLICIES)}"
            )
        names = list(tools) if tools is not None else engine.tools.names()
        for name in names:
            if name not in engine.tools:
                raise ToolNotAllowed(
                    name,
                    agent_id,
                    f"agent {agent_id!r} lists tool {name!r}, which is not registered: "
                    f"register it with @engine.tool first (registered: "
                    f"{', '.join(engine.tools.names()) or 'none'})",
                )
        engine.store.upsert_agent(agent_id, names, review, model)
        return cls(engine, agent_id, names, review, model)

    @classmethod
    def existing(cls, engine: Engine, agent_id: str) -> Agent:
        """The handle of an agent already in the store."""
        row = engine.store.get_agent(agent_id)
        if row is None:
            raise NotFound(f"no agent named {agent_id!r}")
        return cls(engine, row.id, list(row.tools), row.review_policy, row.model)

    def __repr__(self) -> str:
        return f"Agent({self.id!r}, tools={self.tools!r}, review={self.review!r})"

    # --- plans ---------------------------------------------------------------------------

    def compile(self, source: str) -> Any:
        """Compile a plan against this agent's tools, without storing it."""
        return self.engine.compile_for_agent(source, self.tools)

    def submit_plan(self, source: str, goal: str | None = None, **provenance: Any) -> PlanVersion:
        """Validate a plan and store it as this agent's next version.

        The agent's review policy then decides: `required` leaves it pending for a reviewer,
        `auto` approves it, `auto-if-safe` approves it when it uses no side-effecting tool and
        its risk is not high.

        Raises:
            PlanValidationError: the plan breaks the rules; nothing is stored.
        """
        compiled = self.compile(source)
        from agentflow.engine import plan_version_of

        row = self.engine.store.add_plan_version(
            agent_id=self.id,
            sha256=compiled.sha256,
            source=source,
            summary=compiled.summary.model_dump(mode="json"),
            warnings=[w.model_dump() for w in compiled.warnings],
            goal=goal,
            status="pending",
            **provenance,
        )
        decision = self._policy_decision(compiled.summary)
        if decision is not None:
            row = self.engine.store.decide_plan(
                row.id or 0, "approved", "policy:" + self.review, decision
            )
        return plan_version_of(row)

    def _policy_decision(self, summary: Any) -> str | None:
        if self.review == "auto":
            return "approved by the agent's review policy 'auto'"
        if self.review == "auto-if-safe":
            risky = [t.name for t in summary.tools_used if t.side_effects]
            if not risky and summary.risk != "high":
                return "approved by 'auto-if-safe': the plan uses no side-effecting tool"
        return None

    def plans(self, status: str | None = None) -> list[PlanVersion]:
        """This agent's plan versions, newest first."""
        from agentflow.engine import plan_version_of

        return [plan_version_of(r) for r in self.engine.store.list_plans(self.id, status)]

    def get_plan(self, plan_id: int) -> PlanVersion:
        """One of this agent's plan versions; another agent's is NotFound."""
        from agentflow.engine import plan_version_of

        row = self.engine.store.get_plan(plan_id)
        if row.agent_id != self.id:
            raise NotFound(f"agent {self.id!r} has no plan version {plan_id}")
        return plan_version_of(row)

    def latest_plan(self) -> PlanVersion | None:
        """The newest approved plan version, or None."""
        from agentflow.engine import plan_version_of

        row = self.engine.store.latest_plan(self.id)
        return plan_version_of(row) if row else None

    # --- runs ----------------------------------------------------------------------------

    def start(
        self,
        params: dict[str, Any] | None = None,
        *,
        plan: PlanVersion | int | None = None,
        run_id: str | None = None,
    ) -> Run:
        """Start a run of an approved plan (default: the latest approved one).

        The same `run_id` never starts two runs: a second call returns the first run.

        Raises:
            PlanNotApproved: the plan version is pending or rejected.
            NotFound: the agent has no approved plan, or the plan is another agent's.
        """
        from agentflow.run import Run

        if run_id is not None and not RUN_ID_PATTERN.match(run_id):
            raise LimitExceeded(
                f"run id {run_id!r} must be 1-128 letters, digits or ._:@- "
                "and start with a letter or digit"
            )
        if plan is None:
            chosen = self.latest_plan()
            if chosen is None:
                raise NotFound(
                    f"agent {self.id!r} has no approved plan: submit one and approve it first"
                )
        else:
            chosen = self.get_plan(plan if isinstance(plan, int) else plan.id)
        if chosen.status != "approved":
            raise PlanNotApproved(chosen.id, chosen.status)
        params = checkpointable(
            params or {}, self.engine.limits.max_event_bytes, "the run's params"
        )
        if not isinstance(params, dict):
            raise TypeError("params must be a dict")
        run_id = run_id or f"run_{uuid.uuid4().hex}"
        row, _created = self.engine.store.create_run(run_id, self.id, chosen.id, params)
        if row.agent_id != self.id:
            raise NotFound(f"run id {run_id!r} is taken by another agent")
        self.engine.notify()
        return Run(self.engine, row.id, row.agent_id)

    def runs(self, status: str | None = None) -> list[Run]:
        """This agent's runs, newest first."""
        from agentflow.run import Run

        return [
            Run(self.engine, r.id, r.agent_id) for r in self.engine.store.list_runs(self.id, status)
        ]

    def get_run(self, run_id: str) -> Run:
        """One of this agent's runs; another agent's is NotFound."""
        from agentflow.run import Run

        row = self.engine.store.get_run(run_id)
        if row.agent_id != self.id:
            raise NotFound(f"agent {self.id!r} has no run {run_id!r}")
        return Run(self.engine, row.id, row.agent_id)

    async def start_async(
        self,
        params: dict[str, Any] | None = None,
        *,
        plan: PlanVersion | int | None = None,
        run_id: str | None = None,
    ) -> Run:
        """`start` for async code: the store is written in a worker thread."""
        import asyncio

        return await asyncio.to_thread(self.start, params, plan=plan, run_id=run_id)
