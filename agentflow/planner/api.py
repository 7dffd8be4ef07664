"""`plan`, `plan_and_run` and `repair`: the planner's entry points, sync and async.

Each takes `engine=`; without it they use a default `Engine()` on `AGENTFLOW_DATABASE_URL`,
created on first use (a convenience over `Engine`, never required).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentflow.engine import Engine, database_url
from agentflow.errors import RunFailed, RunTimeout
from agentflow.planner.model import PlannerModel
from agentflow.planner.planner import (
    GeneratedPlan,
    PlanRequest,
    aconverse,
    converse,
    plan_conversation,
    prepare_plan,
    prepare_repair,
    repair_conversation,
    store_plan,
    store_repair,
)
from agentflow.planner.prompts import PromptTemplates
from agentflow.runtime import PlanVersion
from agentflow.states import RunState
from agentflow.store import StartOnApproval

if TYPE_CHECKING:
    from agentflow.agent import Agent
    from agentflow.run import Run

_default_engine: Engine | None = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    """The engine the planner uses when none is given: `Engine()`, created on first use.

    It follows `AGENTFLOW_DATABASE_URL`: a new engine is made when the variable changes. Tools
    registered on any other engine of this process on the same store are found through it.
    """
    global _default_engine
    with _default_lock:
        if _default_engine is None or _default_engine.url != database_url():
            _default_engine = Engine()
        return _default_engine


def set_default_engine(engine: Engine | None) -> None:
    """Make `engine` the planner's default (None: create `Engine()` again on next use)."""
    global _default_engine
    with _default_lock:
        _default_engine = engine


@dataclass(frozen=True)
class PlanAndRunResult:
    """What `plan_and_run` did.

    Attributes:
        plan: the plan version (new, or reused).
        run: the run's handle, or None while the plan awaits review.
        run_id: the run's id; under review, the id the run will get once a reviewer approves.
        status: "awaiting_review", "started" (queued for a worker), or with `wait=True` the
            run's final status ("complete", "errored", "terminated"), or its current status if
            `timeout` passed first.
        output: the run's output when it completed.
        reused: whether an approved plan for the same goal and tools was reused.
        message: a sentence for people: what happened and what to do next.
    """

    plan: PlanVersion
    run: Run | None
    run_id: str
    status: str
    output: Any = None
    reused: bool = False
    message: str = ""

    def model_dump(self) -> dict[str, Any]:
        """The result as JSON-ready data, for an agent framework's tool reply.

        Keys: `run_id`, `status`, `agent_id`, `plan_id`, `plan_version`, `review` (the plan's
        review state: "pending", "approved" or "rejected"), `reused`, `output`, `message`.
        """
        return {
            "run_id": self.run_id,
            "status": self.status,
            "agent_id": self.plan.agent_id,
            "plan_id": self.plan.id,
            "plan_version": self.plan.version,
            "review": self.plan.status,
            "reused": self.reused,
            "output": self.output,
            "message": self.message,
        }

    def model_dump_json(self) -> str:
        """`model_dump()` as a JSON string."""
        return json.dumps(self.model_dump(), default=str)


def _describe(request: PlanRequest, version: PlanVersion, generated: GeneratedPlan | None) -> str:
    if generated is None:
        return request.note
    count = len(generated.generation)
    said = (
        f"planned version {version.version} of agent {request.agent.id!r} (plan {version.id}) with "
        f"{generated.model} in {count} attempt{'s' * (count != 1)}"
    )
    return f"{request.note}; {said}" if request.note else said


def _produce(
    engine: Engine | None,
    goal: str,
    agent: Agent | str,
    *,
    tools: Sequence[str] | None,
    model: str | PlannerModel | None,
    completion_kwargs: Mapping[str, Any] | None,
    reuse: bool,
) -> PlanRequest:
    return prepare_plan(
        engine or default_engine(),
        goal,
        agent,
        tools=tools,
        model=model,
        completion_kwargs=completion_kwargs,
        reuse=reuse,
    )


def plan(
    goal: str,
    agent: Agent | str,
    *,
    engine: Engine | None = None,
    model: str | PlannerModel | None = None,
    tools: Sequence[str] | None = None,
    max_attempts: int = 3,
    reuse: bool = True,
    params: Mapping[str, Any] | None = None,
    completion_kwargs: Mapping[str, Any] | None = None,
    prompts_dir: str | Path | None = None,
) -> PlanVersion:
    """Have a model write a plan for a goal, validate it and store it as the agent's next version.

    Args:
        goal: what the plan should do, in plain words.
        agent: an `Agent`, or an agent id; a new id is created with `tools` (default: all the
            engine's tools) and review "required".
        engine: default: the planner's default engine (`AGENTFLOW_DATABASE_URL`).
        model: a litellm model name or a model object (`agentflow.testing.ScriptedModel`);
            default: the agent's model, the engine's, `AGENTFLOW_MODEL`, else a recorded reply.
        tools: the tools of an agent this call creates.
        max_attempts: how many replies the model gets to write a plan that compiles.
        reuse: return the approved plan already stored for the same goal and tools, if any.
        params: the run's params, shown to the model as an example input.
        completion_kwargs: extra arguments for `litellm.completion`.
        prompts_dir: a directory of template overrides (default `AGENTFLOW_PROMPTS_DIR`).

    Returns:
        The stored version (`reused=True` when no model was asked); its review policy applied.

    Raises:
        PlanningFailed: no valid plan within `max_attempts`; nothing is stored.
        ModelUnavailable: the model cannot be reached, or none is configured and no recorded
            reply fits; nothing is stored.
    """
    request = _produce(
        engine,
        goal,
        agent,
        tools=tools,
        model=model,
        completion_kwargs=completion_kwargs,
        reuse=reuse,
    )
    if request.reused is not None:
        return request.reused
    assert request.model is not None
    templates = PromptTemplates(prompts_dir)
    generated = converse(
        request.model,
        plan_conversation(request, templates, max_attempts, params),
        agent_id=request.agent.id,
    )
    return store_plan(request, generated)


async def plan_async(
    goal: str,
    agent: Agent | str,
    *,
    engine: Engine | None = None,
    model: str | PlannerModel | None = None,
    tools: Sequence[str] | None = None,
    max_attempts: int = 3,
    reuse: bool = True,
    params: Mapping[str, Any] | None = None,
    completion_kwargs: Mapping[str, Any] | None = None,
    prompts_dir: str | Path | None = None,
) -> PlanVersion:
    """`plan` for async code: the model through `litellm.acompletion`, the store in a thread."""
    request = await asyncio.to_thread(
        _produce,
        engine,
        goal,
        agent,
        tools=tools,
        model=model,
        completion_kwargs=completion_kwargs,
        reuse=reuse,
    )
    if request.reused is not None:
        return request.reused
    assert request.model is not None
    templates = PromptTemplates(prompts_dir)
    generated = await aconverse(
        request.model,
        plan_conversation(request, templates, max_attempts, params),
        agent_id=request.agent.id,
    )
    return await asyncio.to_thread(store_plan, request, generated)


def _store_and_launch(
    request: PlanRequest,
    generated: GeneratedPlan | None,
    params: Mapping[str, Any] | None,
    run_id: str | None,
) -> PlanAndRunResult:
    chosen_id = run_id or f"run_{uuid.uuid4().hex}"
    queued = StartOnApproval(
        run_id=chosen_id, params=request.agent.checked_start(dict(params or {}), chosen_id)
    )
    pending = False
    if generated is None:
        assert request.reused is not None
        version = request.reused
    else:
        # Under "auto" the version is approved as it is stored: there is no approval to wait for,
        # unless the two-person rule asks reviewers for some risk level.
        strict = any(count > 1 for count in request.agent.approvals.values())
        pending = request.create_agent or request.agent.review != "auto" or strict
        version = store_plan(request, generated, start_on_approval=queued if pending else None)
    message = _describe(request, version, generated)
    if not version.approved:
        return PlanAndRunResult(
            plan=version,
            run=None,
            run_id=chosen_id,
            status="awaiting_review",
            reused=version.reused,
            message=f"{message}; it awaits review: run {chosen_id} starts when a reviewer "
            f"approves plan {version.id} (agentflow review approve {version.id})",
        )
    run = request.agent.start(dict(params or {}), plan=version, run_id=chosen_id)
    if generated is not None and pending:
        request.engine.store.clear_start_on_approval(version.id)
    return PlanAndRunResult(
        plan=version,
        run=run,
        run_id=run.id,
        status="started",
        reused=version.reused,
        message=f"{message}; run {run.id} started",
    )


def _await_run(result: PlanAndRunResult, timeout: float | None) -> PlanAndRunResult:
    if result.run is None:
        return result
    try:
        output = result.run.result(timeout=timeout)
    except RunFailed as exc:
        return replace(result, status=exc.status, message=f"{result.message}; it failed: {exc}")
    except RunTimeout as exc:
        return replace(result, status=exc.status, message=f"{result.message}; {exc}")
    return replace(
        result, output=output, status=RunState.COMPLETE, message=f"{result.message} and completed"
    )


def plan_and_run(
    goal: str,
    agent: Agent | str,
    params: Mapping[str, Any] | None = None,
    *,
    engine: Engine | None = None,
    model: str | PlannerModel | None = None,
    tools: Sequence[str] | None = None,
    wait: bool = False,
    timeout: float | None = None,
    run_id: str | None = None,
    max_attempts: int = 3,
    reuse: bool = True,
    completion_kwargs: Mapping[str, Any] | None = None,
    prompts_dir: str | Path | None = None,
) -> PlanAndRunResult:
    """Plan a goal (or reuse its approved plan), apply the review policy, and start the run.

    Under review policy "required" the call returns at once with status "awaiting_review" and
    the run id to come: approving the plan (`engine.reviews.approve`) starts that run. Under
    "auto", or "auto-if-safe" with no side-effecting tool, the run starts now; a worker (or
    `engine.work()`) executes it, or this call does with `wait=True`.

    Args:
        goal: what the plan should do, in plain words.
        agent: an `Agent`, or an agent id (created with `tools` and review "required").
        params: the run's input, `event.params` in the plan.
        engine: default: the planner's default engine (`AGENTFLOW_DATABASE_URL`).
        model: a litellm model name or a model object; see `plan`.
        tools: the tools of an agent this call creates.
        wait: drive the run in this process until it ends (or `timeout` passes).
        timeout: seconds to wait with `wait=True`.
        run_id: the run's id (idempotent: the same id never starts two runs).
        max_attempts: how many replies the model gets to write a plan that compiles.
        reuse: reuse the approved plan for the same goal and tools, without a model call.
        completion_kwargs: extra arguments for `litellm.completion`.
        prompts_dir: a directory of template overrides.

    Raises:
        PlanningFailed: no valid plan within `max_attempts`; nothing is stored.
        ModelUnavailable: the model cannot be reached, or none is configured and no recorded
            reply fits; nothing is stored.
    """
    request = _produce(
        engine,
        goal,
        agent,
        tools=tools,
        model=model,
        completion_kwargs=completion_kwargs,
        reuse=reuse,
    )
    generated = None
    if request.reused is None:
        assert request.model is not None
        templates = PromptTemplates(prompts_dir)
        conversation = plan_conversation(request, templates, max_attempts, params)
        generated = converse(request.model, conversation, agent_id=request.agent.id)
    result = _store_and_launch(request, generated, params, run_id)
    return _await_run(result, timeout) if wait else result


async def plan_and_run_async(
    goal: str,
    agent: Agent | str,
    params: Mapping[str, Any] | None = None,
    *,
    engine: Engine | None = None,
    model: str | PlannerModel | None = None,
    tools: Sequence[str] | None = None,
    wait: bool = False,
    timeout: float | None = None,
    run_id: str | None = None,
    max_attempts: int = 3,
    reuse: bool = True,
    completion_kwargs: Mapping[str, Any] | None = None,
    prompts_dir: str | Path | None = None,
) -> PlanAndRunResult:
    """`plan_and_run` for async code.

    The model is asked through `litellm.acompletion`; the store and the wait for the run happen
    in a worker thread, so the event loop never blocks.
    """
    request = await asyncio.to_thread(
        _produce,
        engine,
        goal,
        agent,
        tools=tools,
        model=model,
        completion_kwargs=completion_kwargs,
        reuse=reuse,
    )
    generated = None
    if request.reused is None:
        assert request.model is not None
        templates = PromptTemplates(prompts_dir)
        conversation = plan_conversation(request, templates, max_attempts, params)
        generated = await aconverse(request.model, conversation, agent_id=request.agent.id)
    result = await asyncio.to_thread(_store_and_launch, request, generated, params, run_id)
    if wait:
        return await asyncio.to_thread(_await_run, result, timeout)
    return result


def repair(
    run_id: str,
    *,
    engine: Engine | None = None,
    model: str | PlannerModel | None = None,
    max_attempts: int = 3,
    completion_kwargs: Mapping[str, Any] | None = None,
    prompts_dir: str | Path | None = None,
) -> PlanVersion:
    """Have the model write a new version of a failed run's plan, and continue the run on it.

    The model sees the plan's source, the run's error and its step trace. The new version is
    stored with origin "repair" and the failed version as its parent. Once it is approved (by
    the agent's policy now, or later by a reviewer), the run restarts on it and keeps every
    checkpoint whose step and inputs still match.

    Raises:
        RunStateError: the run has not failed.
        PlanningFailed: no valid plan within `max_attempts`; nothing is stored.
        ModelUnavailable: the model cannot be reached or none is configured.
    """
    templates = PromptTemplates(prompts_dir)
    request = prepare_repair(
        engine or default_engine(),
        run_id,
        model=model,
        completion_kwargs=completion_kwargs,
        templates=templates,
    )
    generated = converse(
        request.model,
        repair_conversation(request, templates, max_attempts),
        agent_id=request.agent.id,
    )
    return store_repair(request, generated)


async def repair_async(
    run_id: str,
    *,
    engine: Engine | None = None,
    model: str | PlannerModel | None = None,
    max_attempts: int = 3,
    completion_kwargs: Mapping[str, Any] | None = None,
    prompts_dir: str | Path | None = None,
) -> PlanVersion:
    """`repair` for async code."""
    templates = PromptTemplates(prompts_dir)
    request = await asyncio.to_thread(
        prepare_repair,
        engine or default_engine(),
        run_id,
        model=model,
        completion_kwargs=completion_kwargs,
        templates=templates,
    )
    generated = await aconverse(
        request.model,
        repair_conversation(request, templates, max_attempts),
        agent_id=request.agent.id,
    )
    return await asyncio.to_thread(store_repair, request, generated)
