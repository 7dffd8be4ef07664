"""`Agent`: one tenant's handle, which sees and controls only its own plans and runs."""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agentflow.errors import (
    ConfigurationError,
    InvalidRunId,
    NotFound,
    PlanNotApproved,
    ToolNotAllowed,
)
from agentflow.models import AgentChange, PlanState, PlanVersion
from agentflow.plan import CompiledPlan, PlanSummary
from agentflow.run import Run, no_such_run
from agentflow.runtime.step_api import checkpointable
from agentflow.store import AgentRow, NewPlanVersion
from agentflow.store.mappers import agent_change_of, plan_version_of

if TYPE_CHECKING:
    from agentflow.engine import Engine

REVIEW_POLICIES = ("required", "auto", "auto-if-safe")
RISK_LEVELS = ("low", "medium", "high")
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
AGENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


class _Keep(enum.Enum):
    """The default of `Agent.update(model=...)`: keep the stored model."""

    KEEP = "keep"


KEEP = _Keep.KEEP


def _check_limit(max_concurrent_runs: Any) -> None:
    if max_concurrent_runs is None:
        return
    if type(max_concurrent_runs) is not int or max_concurrent_runs < 1:
        raise ConfigurationError(
            f"max_concurrent_runs must be a whole number of at least 1 (or None: no limit), "
            f"not {max_concurrent_runs!r}"
        )


def _check_policy(review: str | None) -> None:
    if review is not None and review not in REVIEW_POLICIES:
        raise ConfigurationError(
            f"review policy {review!r} is not one of {', '.join(REVIEW_POLICIES)}"
        )


def checked_approvals(approvals: Mapping[str, int] | None) -> dict[str, int] | None:
    """The two-person rule's `approvals` map, checked: risk level -> distinct approvals (>= 1).

    Raises:
        ConfigurationError: not a mapping, a key that is not a risk level, or a count that is
            not an integer of at least 1.
    """
    if approvals is None:
        return None
    if not isinstance(approvals, Mapping):
        raise ConfigurationError(
            f"approvals must map risk levels to counts, e.g. {{'high': 2}}; got {approvals!r}"
        )
    checked: dict[str, int] = {}
    for risk, count in approvals.items():
        if risk not in RISK_LEVELS:
            raise ConfigurationError(
                f"approvals has the key {risk!r}, which is not a risk level: "
                f"use {', '.join(map(repr, RISK_LEVELS))}"
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigurationError(
                f"approvals[{risk!r}] is {count!r}: it must be an integer of at least 1 "
                "(the number of distinct reviewers who must approve)"
            )
        checked[risk] = count
    return checked


def _tool_list(engine: Engine, agent_id: str, tools: list[str] | None) -> list[str] | None:
    """The tools given, each checked to be registered with the engine."""
    if tools is None:
        return None
    names = list(tools)
    for name in names:
        if name not in engine.tools:
            raise ToolNotAllowed(
                name,
                agent_id,
                f"agent {agent_id!r} lists tool {name!r}, which is not registered: "
                f"register it with @engine.tool first (registered: "
                f"{', '.join(engine.tools.names()) or 'none'})",
            )
    return names


class Agent:
    """An agent: its allowed tools, its review policy, its versioned plans and its runs.

    Get one with `engine.agent(...)`.
    """

    def __init__(
        self,
        engine: Engine,
        agent_id: str,
        tools: list[str],
        review: str,
        model: str | None,
        approvals: dict[str, int] | None = None,
        max_concurrent_runs: int | None = None,
    ) -> None:
        self.engine = engine
        self.id = agent_id
        self.tools = tools
        self.review = review
        self.model = model
        #: risk level -> distinct approvals a plan version of that risk needs (else one)
        self.approvals: dict[str, int] = dict(approvals or {})
        self.max_concurrent_runs = max_concurrent_runs
        """How many of its runs may run at once, across every worker (None: no limit)."""

    @classmethod
    def open(
        cls,
        engine: Engine,
        agent_id: str,
        *,
        tools: list[str] | None = None,
        review: str | None = None,
        model: str | None = None,
        approvals: Mapping[str, int] | None = None,
        max_concurrent_runs: int | None = None,
    ) -> Agent:
        """The existing agent, unchanged; or a new one created with what was given.

        A new agent gets `tools` (default: none), `review` (default "required"), `model` and
        `approvals` (default: one approval for every risk level).
        For an existing agent, each value given must equal the stored one: host start-up code
        may repeat its `engine.agent(...)` call, but changing an agent is `Agent.update`.

        Raises:
            ConfigurationError: the id, policy or approvals are malformed, or a value given
                differs from the existing agent's.
            ToolNotAllowed: a tool given is not registered with the engine.
        """
        if not AGENT_ID_PATTERN.match(agent_id or ""):
            raise ConfigurationError(
                f"agent id {agent_id!r} must be 1-128 letters, digits or ._:@- "
                "and start with a letter or digit"
            )
        _check_policy(review)
        wanted = checked_approvals(approvals)
        _check_limit(max_concurrent_runs)
        names = _tool_list(engine, agent_id, tools)
        row = engine.store.get_agent(agent_id)
        if row is None:
            row, _created = engine.store.create_agent(
                agent_id,
                names or [],
                review or "required",
                model,
                approvals=wanted,
                max_concurrent_runs=max_concurrent_runs,
            )
        agent = cls.of(engine, row)
        differences = agent._differences(names, review, model, wanted)
        if max_concurrent_runs is not None and max_concurrent_runs != agent.max_concurrent_runs:
            differences.append(
                f"max_concurrent_runs (stored: {agent.max_concurrent_runs!r}, "
                f"given: {max_concurrent_runs!r})"
            )
        if differences:
            raise ConfigurationError(
                f"agent {agent_id!r} already exists with a different {' and '.join(differences)}; "
                f"engine.agent() never changes an existing agent: to change it, call "
                f"engine.get_agent({agent_id!r}).update(..., changed_by='YOUR NAME')"
            )
        return agent

    @classmethod
    def existing(cls, engine: Engine, agent_id: str) -> Agent:
        """The handle of an agent already in the store."""
        row = engine.store.get_agent(agent_id)
        if row is None:
            raise NotFound(f"no agent named {agent_id!r}")
        return cls.of(engine, row)

    @classmethod
    def of(cls, engine: Engine, row: AgentRow) -> Agent:
        """The handle of a stored agent row."""
        return cls(
            engine,
            row.id,
            list(row.tools),
            row.review_policy,
            row.model,
            dict(row.approvals),
            row.max_concurrent_runs,
        )

    def __repr__(self) -> str:
        return f"Agent({self.id!r}, tools={self.tools!r}, review={self.review!r})"

    def _differences(
        self,
        tools: list[str] | None,
        review: str | None,
        model: str | None,
        approvals: dict[str, int] | None = None,
    ) -> list[str]:
        """What differs between the values given and this agent's, in words."""
        found = []
        if tools is not None and set(tools) != set(self.tools):
            found.append(f"tool list (stored: {sorted(self.tools)}, given: {sorted(tools)})")
        if review is not None and review != self.review:
            found.append(f"review policy (stored: {self.review!r}, given: {review!r})")
        if model is not None and model != self.model:
            found.append(f"model (stored: {self.model!r}, given: {model!r})")
        if approvals is not None and approvals != self.approvals:
            found.append(f"approvals (stored: {self.approvals!r}, given: {approvals!r})")
        return found

    # --- changes -------------------------------------------------------------------------

    def update(
        self,
        *,
        changed_by: str,
        tools: list[str] | None = None,
        review: str | None = None,
        model: str | _Keep | None = KEEP,
        approvals: Mapping[str, int] | None = None,
        max_concurrent_runs: int | _Keep | None = KEEP,
    ) -> AgentChange | None:
        """Change this agent's tools, review policy, approvals or model, recording who and when.

        Only the values given are changed (`model=None` clears the model). The store keeps
        `updated_by`/`updated_at` on the agent and appends the change, with the values before
        and after, to the agent's history (`agent.changes()`). Plan versions already approved
        keep running with the tools the agent now allows.

        Args:
            changed_by: who made the change (a person or a service), required.
            tools: the new allow-list of registered tools.
            review: the new review policy: "required", "auto" or "auto-if-safe".
            model: the new default model of its planner.
            approvals: the new two-person rule, risk level -> distinct approvals a plan version
                of that risk needs (`{}`: one for every level); pending versions follow it.
            max_concurrent_runs: how many of its runs may run at once across every worker
                (None: no limit); workers honour it at their next claim.

        Returns:
            The recorded change, or None when nothing differed from what was stored.

        Raises:
            ValueError: `changed_by` is empty.
            ConfigurationError: the review policy is not one of the three, `approvals` is
                malformed, or max_concurrent_runs is not a whole number of at least 1.
            ToolNotAllowed: a tool is not registered with the engine.
            NotFound: the agent no longer exists.
        """
        if not isinstance(changed_by, str) or not changed_by.strip():
            raise ValueError("an agent change needs changed_by: the name of who makes it")
        _check_policy(review)
        wanted = checked_approvals(approvals)
        fields: dict[str, Any] = {}
        if not isinstance(max_concurrent_runs, _Keep):
            _check_limit(max_concurrent_runs)
            fields["max_concurrent_runs"] = max_concurrent_runs
        names = _tool_list(self.engine, self.id, tools)
        if names is not None:
            fields["tools"] = list(dict.fromkeys(names))
        if review is not None:
            fields["review_policy"] = review
        if wanted is not None:
            fields["approvals"] = wanted
        if not isinstance(model, _Keep):
            fields["model"] = model
        change = self.engine.store.update_agent(self.id, changed_by.strip(), **fields)
        row = self.engine.store.get_agent(self.id)
        if row is not None:
            self.tools, self.review, self.model = list(row.tools), row.review_policy, row.model
            self.approvals = dict(row.approvals)
            self.max_concurrent_runs = row.max_concurrent_runs
        if change is None:
            return None
        return agent_change_of(change)

    def changes(self) -> list[AgentChange]:
        """Every explicit change made to this agent with `update`, oldest first."""
        return [agent_change_of(row) for row in self.engine.store.list_agent_changes(self.id)]

    # --- plans ---------------------------------------------------------------------------

    def compile(self, source: str) -> CompiledPlan:
        """Compile a plan against this agent's tools, without storing it."""
        return self.engine.compile_for_agent(source, self.tools)

    def submit_plan(self, source: str, goal: str | None = None, **provenance: Any) -> PlanVersion:
        """Validate a plan and store it as this agent's next version.

        The agent's review policy then decides: `required` leaves it pending for a reviewer,
        `auto` approves it, `auto-if-safe` approves it when it uses no side-effecting tool and
        its risk is not high. A version whose risk `approvals` asks several reviewers for is
        left pending under every policy.

        Raises:
            PlanValidationError: the plan breaks the rules; nothing is stored.
        """
        compiled = self.compile(source)
        row = self.engine.store.add_plan_version(
            NewPlanVersion(
                agent_id=self.id,
                sha256=compiled.sha256,
                source=source,
                summary=compiled.summary.model_dump(mode="json"),
                warnings=[w.model_dump() for w in compiled.warnings],
                goal=goal,
                **provenance,
            )
        )
        decision = self._policy_decision(compiled.summary)
        if decision is not None:
            row = self.engine.store.decide_plan(
                row.id or 0, PlanState.APPROVED, "policy:" + self.review, decision, final=True
            )
        return plan_version_of(row)

    def _policy_decision(self, summary: PlanSummary) -> str | None:
        if self.approvals.get(summary.risk, 1) > 1:
            return None  # the two-person rule asks reviewers, whatever the policy would approve
        if self.review == "auto":
            return "approved by the agent's review policy 'auto'"
        if self.review == "auto-if-safe":
            risky = [t.name for t in summary.tools_used if t.side_effects]
            if not risky and summary.risk != "high":
                return "approved by 'auto-if-safe': the plan uses no side-effecting tool"
        return None

    def plans(self, status: str | None = None) -> list[PlanVersion]:
        """This agent's plan versions, newest first."""
        return [plan_version_of(r) for r in self.engine.store.list_plans(self.id, status)]

    def get_plan(self, plan_id: int) -> PlanVersion:
        """One of this agent's plan versions; another agent's is NotFound."""
        row = self.engine.store.get_plan(plan_id)
        if row.agent_id != self.id:
            raise NotFound(f"agent {self.id!r} has no plan version {plan_id}")
        return plan_version_of(row)

    def latest_plan(self) -> PlanVersion | None:
        """The newest approved plan version, or None."""
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

        The same `run_id` never starts two runs of this agent: a second call returns the first
        run. Run ids are unique per agent: another agent may use the same id for its own run.

        Raises:
            PlanNotApproved: the plan version is pending or rejected.
            NotFound: the agent has no approved plan, or the plan is another agent's.
        """
        params = self.checked_start(params, run_id)
        plan_id = self._approved_plan_id(plan)
        # A generated id is unique in the whole store, so it serves as the run's key too; an
        # id the caller chose is unique only within this agent and gets a key of its own.
        key = f"run_{uuid.uuid4().hex}"
        row, _created = self.engine.store.create_run(
            run_id or key, self.id, plan_id, params, key=key
        )
        self.engine.notify()
        return Run.of(self.engine, row, bound=True)

    def _approved_plan_id(self, plan: PlanVersion | int | None) -> int:
        """The id of the plan version a run starts on: `plan`, or the latest approved one."""
        if plan is None:
            latest = self.engine.store.latest_plan_id(self.id)
            if latest is None:
                raise NotFound(
                    f"agent {self.id!r} has no approved plan: submit one and approve it first"
                )
            return latest
        chosen = self.get_plan(plan if isinstance(plan, int) else plan.id)
        if chosen.status != PlanState.APPROVED:
            raise PlanNotApproved(chosen.id, chosen.status)
        return chosen.id

    def checked_start(self, params: dict[str, Any] | None, run_id: str | None) -> dict[str, Any]:
        """The params of a run to start, as checkpointable plain data.

        Raises `InvalidRunId` on a malformed run id, and refuses params that are not a JSON
        object within the event size limit.
        """
        if run_id is not None and not RUN_ID_PATTERN.match(run_id):
            raise InvalidRunId(run_id)
        checked = checkpointable(
            params or {}, self.engine.limits.max_event_bytes, "the run's params"
        )
        if not isinstance(checked, dict):
            raise TypeError("params must be a dict")
        return checked

    def runs(self, status: str | None = None) -> list[Run]:
        """This agent's runs, newest first, as handles bound to this agent."""
        return [
            Run.of(self.engine, r, bound=True) for r in self.engine.store.list_runs(self.id, status)
        ]

    def get_run(self, run_id: str) -> Run:
        """One of this agent's runs, as a handle bound to this agent.

        Raises:
            NotFound: the agent has no such run; another agent's run gets the very same
                answer, so a handle never learns which run ids other agents use.
        """
        try:
            row = self.engine.store.find_run(self.id, run_id)
        except NotFound:
            raise NotFound(no_such_run(self.id, run_id)) from None
        return Run.of(self.engine, row, bound=True)

    async def start_async(
        self,
        params: dict[str, Any] | None = None,
        *,
        plan: PlanVersion | int | None = None,
        run_id: str | None = None,
    ) -> Run:
        """`start` for async code: the store is written in a worker thread."""
        import asyncio  # only async hosts need it: not at import

        return await asyncio.to_thread(self.start, params, plan=plan, run_id=run_id)
