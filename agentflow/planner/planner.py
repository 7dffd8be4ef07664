"""The planning loop: ask a model, compile its plan, send diagnostics back, store the result.

Each public operation is split into store work (`prepare_*`, `store_*`, plain functions) and the
model conversation (`attempts`, a generator), so the sync and async entry points share every
line except how they wait for the model and the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentflow import telemetry
from agentflow.agent import AGENT_ID_PATTERN, Agent
from agentflow.errors import (
    ConfigurationError,
    ModelUnavailable,
    NotFound,
    PlanningFailed,
    PlanValidationError,
    RunStateError,
)
from agentflow.planner.catalogue import ToolCatalogue, build_catalogue
from agentflow.planner.extraction import extract_code
from agentflow.planner.goals import goal_key
from agentflow.planner.model import (
    MODEL_ENV,
    Message,
    ModelReply,
    PlannerModel,
    RecordedModel,
    configured_model,
)
from agentflow.planner.prompts import PromptTemplates, prompt_hash
from agentflow.planner.recorded import recorded_reply
from agentflow.runtime import PlanVersion
from agentflow.states import RunState
from agentflow.store import StartOnApproval
from agentflow.store.mappers import plan_version_of

if TYPE_CHECKING:
    from agentflow.engine import Engine

logger = logging.getLogger("agentflow.planner")

#: A conversation with the model: yields the messages to send, receives the reply.
Conversation = Generator[list[Message], ModelReply, "GeneratedPlan"]


@dataclass(frozen=True)
class GeneratedPlan:
    """A plan the model wrote and the compiler accepted, with how it was obtained.

    Attributes:
        source: the plan's code.
        model: the model's name.
        prompt_hash: the hash of the first prompt (what was asked, before any feedback).
        tokens: tokens used over every attempt.
        cost: USD over every attempt (None when no price was known).
        generation: one entry per attempt: prompt hash, model, raw reply, diagnostics, tokens,
            cost and latency.
    """

    source: str
    model: str
    prompt_hash: str
    tokens: int
    cost: float | None
    generation: list[dict[str, Any]]

    def provenance(self) -> dict[str, Any]:
        """The plan version columns that record this generation."""
        return {
            "model": self.model,
            "prompt_hash": self.prompt_hash,
            "tokens": self.tokens,
            "cost": self.cost,
            "generation": self.generation,
        }


def attempts(
    messages: Sequence[Message],
    compile_source: Callable[[str], object],
    templates: PromptTemplates,
    model_name: str,
    max_attempts: int,
) -> Conversation:
    """Converse with a model until it writes a plan that compiles, at most `max_attempts` times.

    Raises:
        PlanningFailed: no attempt compiled; carries every diagnostic of the last attempt.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    history = list(messages)
    first_hash = prompt_hash(history)
    generation: list[dict[str, Any]] = []
    diagnostics: list[Any] = []
    for number in range(1, max_attempts + 1):
        sent_hash = prompt_hash(history)
        reply = yield list(history)
        source = extract_code(reply.text)
        try:
            compile_source(source)
            diagnostics = []
        except PlanValidationError as exc:
            diagnostics = exc.diagnostics
        generation.append(
            {
                "attempt": number,
                "prompt_hash": sent_hash,
                "model": reply.model,
                "reply": reply.text,
                "diagnostics": [d.model_dump() for d in diagnostics],
                "tokens_in": reply.tokens_in,
                "tokens_out": reply.tokens_out,
                "cost": reply.cost,
                "latency_ms": reply.latency_ms,
            }
        )
        if not diagnostics:
            costs = [a["cost"] for a in generation if a["cost"] is not None]
            return GeneratedPlan(
                source=source,
                model=model_name,
                prompt_hash=first_hash,
                tokens=sum(a["tokens_in"] + a["tokens_out"] for a in generation),
                cost=sum(costs) if costs else None,
                generation=generation,
            )
        history += [
            {"role": "assistant", "content": reply.text},
            templates.fix_message(diagnostics),
        ]
    listed = "\n".join(f"  {d}" for d in diagnostics)
    raise PlanningFailed(
        f"model {model_name!r} wrote no valid plan in {max_attempts} attempt"
        f"{'s' * (max_attempts != 1)}; the last one had {len(diagnostics)} problem"
        f"{'s' * (len(diagnostics) != 1)}:\n{listed}",
        diagnostics,
    )


def converse(
    model: PlannerModel, conversation: Conversation, agent_id: str | None = None
) -> GeneratedPlan:
    """Drive a conversation with blocking model calls (one `agentflow.plan` span)."""
    with telemetry.span("agentflow.plan", agent_id=agent_id, model=model.name) as current:
        messages = next(conversation)
        while True:
            reply = model.complete(messages)
            try:
                messages = conversation.send(reply)
            except StopIteration as done:
                generated: GeneratedPlan = done.value
                _planned(current, generated)
                return generated


async def aconverse(
    model: PlannerModel, conversation: Conversation, agent_id: str | None = None
) -> GeneratedPlan:
    """Drive a conversation with async model calls (one `agentflow.plan` span)."""
    with telemetry.span("agentflow.plan", agent_id=agent_id, model=model.name) as current:
        messages = next(conversation)
        while True:
            reply = await model.acomplete(messages)
            try:
                messages = conversation.send(reply)
            except StopIteration as done:
                generated: GeneratedPlan = done.value
                _planned(current, generated)
                return generated


def _planned(current: Any, generated: GeneratedPlan) -> None:
    if current is not None and current.is_recording():
        current.set_attribute("agentflow.attempts", len(generated.generation))


# --- planning a goal ---------------------------------------------------------------------------


@dataclass
class PlanRequest:
    """Everything `plan` works out before asking the model (or instead of asking it)."""

    engine: Engine
    agent: Agent
    create_agent: bool
    goal: str
    goal_key: str
    catalogue: ToolCatalogue
    reused: PlanVersion | None = None
    model: PlannerModel | None = None
    note: str = ""

    def open_agent(self) -> Agent:
        """The agent, created in the store first if this request introduced it."""
        if self.create_agent:
            self.agent = self.engine.agent(self.agent.id, tools=self.agent.tools, review="required")
            self.create_agent = False
        return self.agent


def resolve_agent(
    engine: Engine, agent: Agent | str, tools: Sequence[str] | None
) -> tuple[Agent, bool]:
    """The agent to plan for, and whether it must still be created (nothing is stored yet).

    Raises:
        ConfigurationError: the id is malformed, or `tools` differ from an existing agent's.
    """
    if isinstance(agent, Agent):
        found: Agent | None = agent
    else:
        if not isinstance(agent, str) or not AGENT_ID_PATTERN.match(agent):
            raise ConfigurationError(
                f"agent {agent!r} must be an Agent or an id of 1-128 letters, digits or ._:@-"
            )
        try:
            found = engine.get_agent(agent)
        except NotFound:
            found = None
    if found is None:
        names = list(tools) if tools is not None else engine.tools.names()
        return Agent(engine, str(agent), names, "required", None), True
    if tools is not None and set(tools) != set(found.tools):
        raise ConfigurationError(
            f"agent {found.id!r} already exists with tools {sorted(found.tools)}; change its tools "
            f"with engine.get_agent({found.id!r}).update(tools=[...], changed_by=...) rather "
            "than through the planner"
        )
    return found, False


def prepare_plan(
    engine: Engine,
    goal: str,
    agent: Agent | str,
    *,
    tools: Sequence[str] | None,
    model: str | PlannerModel | None,
    completion_kwargs: Mapping[str, Any] | None,
    reuse: bool,
) -> PlanRequest:
    """Resolve the agent, its catalogue and the model; find a reusable plan when allowed.

    Raises:
        ModelUnavailable: no plan to reuse, no model configured and no recorded reply.
    """
    if not isinstance(goal, str) or not goal.strip():
        raise ValueError("the goal must be a non-empty text")
    resolved, create = resolve_agent(engine, agent, tools)
    catalogue = build_catalogue(engine, resolved.tools)
    request = PlanRequest(engine, resolved, create, goal, goal_key(goal), catalogue)
    if reuse and not create:
        row = engine.store.find_reusable_plan(resolved.id, request.goal_key, catalogue.hash)
        if row is not None:
            request.reused = plan_version_of(row, reused=True)
            request.note = (
                f"reused approved plan version {row.version} of agent {resolved.id!r} "
                "(same goal, same tools): no model call"
            )
            return request
    request.model = configured_model(
        model,
        agent_model=resolved.model,
        engine_model=getattr(engine, "model", None),
        completion_kwargs=completion_kwargs,
    )
    if request.model is None:
        reply = recorded_reply(goal)
        if reply is None:
            raise ModelUnavailable(
                f"no model configured: set {MODEL_ENV} (e.g. {MODEL_ENV}=gpt-4o-mini) or pass "
                f"model=...; there is no recorded reply to replay for the goal {goal!r}"
            )
        request.model = RecordedModel(reply, goal)
        request.note = (
            f"no model configured (set {MODEL_ENV}); replayed the recorded reply for {goal!r}"
        )
        logger.warning(request.note)
    return request


def plan_conversation(
    request: PlanRequest,
    templates: PromptTemplates,
    max_attempts: int,
    params: Mapping[str, Any] | None = None,
) -> Conversation:
    """The conversation that asks the request's model for a plan."""
    assert request.model is not None
    messages = templates.plan_messages(request.catalogue, request.goal, params)
    names = request.agent.tools
    return attempts(
        messages,
        lambda source: request.engine.compile_for_agent(source, names),
        templates,
        request.model.name,
        max_attempts,
    )


def store_plan(
    request: PlanRequest,
    generated: GeneratedPlan,
    start_on_approval: StartOnApproval | None = None,
) -> PlanVersion:
    """Store a generated plan as the agent's next version; its review policy then applies."""
    agent = request.open_agent()
    return agent.submit_plan(
        generated.source,
        goal=request.goal,
        origin="planner",
        goal_key=request.goal_key,
        catalogue_hash=request.catalogue.hash,
        start_on_approval=start_on_approval,
        **generated.provenance(),
    )


# --- repairing a failed run ------------------------------------------------------------------


@dataclass
class RepairRequest:
    """A failed run, its plan and agent, and the conversation that asks for a new version."""

    engine: Engine
    run_id: str
    agent: Agent
    parent: PlanVersion
    goal_key: str | None
    catalogue: ToolCatalogue
    model: PlannerModel
    messages: list[Message]


def prepare_repair(
    engine: Engine,
    run_id: str,
    *,
    model: str | PlannerModel | None,
    completion_kwargs: Mapping[str, Any] | None,
    templates: PromptTemplates,
) -> RepairRequest:
    """Read a failed run, its plan and its step trace, and build the repair prompt.

    Raises:
        RunStateError: the run has not failed.
        ModelUnavailable: no model is configured (recorded replies cover only cookbook goals).
    """
    status = engine.get_run(run_id).status()
    if status.status != RunState.ERRORED:
        raise RunStateError(f"run {run_id} is {status.status}; only an errored run can be repaired")
    row = engine.store.get_plan(status.plan_id)
    agent = engine.get_agent(status.agent_id)
    chosen = configured_model(
        model,
        agent_model=agent.model,
        engine_model=getattr(engine, "model", None),
        completion_kwargs=completion_kwargs,
    )
    if chosen is None:
        raise ModelUnavailable(
            f"no model configured to repair run {run_id}: set {MODEL_ENV} or pass model=..."
        )
    catalogue = build_catalogue(engine, agent.tools)
    messages = templates.repair_messages(
        catalogue,
        goal=row.goal,
        version=row.version,
        source=row.source,
        error=status.error or {},
        steps=[s.model_dump(mode="json") for s in status.steps if s.parent is None],
        params=status.params,
    )
    return RepairRequest(
        engine, run_id, agent, plan_version_of(row), row.goal_key, catalogue, chosen, messages
    )


def repair_conversation(
    request: RepairRequest, templates: PromptTemplates, max_attempts: int
) -> Conversation:
    """The conversation that asks the request's model for a repaired plan."""
    names = request.agent.tools
    return attempts(
        request.messages,
        lambda source: request.engine.compile_for_agent(source, names),
        templates,
        request.model.name,
        max_attempts,
    )


def store_repair(request: RepairRequest, generated: GeneratedPlan) -> PlanVersion:
    """Store the repaired version; when its policy approves it, the run continues on it now.

    Under review, the version carries a `StartOnApproval` that restarts the run, so a
    reviewer's approval moves the run onto it.
    """
    version = request.agent.submit_plan(
        generated.source,
        goal=request.parent.goal,
        origin="repair",
        parent_id=request.parent.id,
        goal_key=request.goal_key,
        catalogue_hash=request.catalogue.hash,
        start_on_approval=StartOnApproval(restart_run_id=request.run_id),
        **generated.provenance(),
    )
    if version.approved:
        request.agent.get_run(request.run_id).restart(
            plan=version, actor="planner", reason=f"repair auto-approved by {version.decided_by}"
        )
        request.engine.store.clear_start_on_approval(version.id)
    return version
