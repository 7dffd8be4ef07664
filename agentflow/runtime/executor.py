"""One activation of a run: load the agent's plan, replay it, checkpoint, and settle the run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from agentflow.errors import AgentflowError, LeaseLost, ToolsUnavailable
from agentflow.plain import error_message, safe_text
from agentflow.plan import CompiledPlan
from agentflow.runtime.activation import (
    ActivationResult,
    ResultKind,
    RunIdentity,
    describe_error,
    execute_activation,
)
from agentflow.runtime.step_api import RuntimeLimits
from agentflow.states import RunState
from agentflow.store import RunRow, Settlement, Store, Transition
from agentflow.store.claims import Claimed, Handoff
from agentflow.store.tables import StepRecord, StepWrite

log = logging.getLogger("agentflow.executor")

_TERMINATED = {"type": "Terminated", "message": "terminated on request"}


# The run's plan, compiled against its agent's tools (named), and those tools' handles.
PlanLoader = Callable[[RunRow, list[str]], tuple[CompiledPlan, Mapping[str, Callable[..., Any]]]]


class PlanRunner(Protocol):
    """Runs plan code for one activation: in this process, or in a sandbox process."""

    def __call__(
        self,
        plan: CompiledPlan,
        run: RunIdentity,
        store: Store,
        owner: str,
        records: list[StepRecord],
        tools: Mapping[str, Callable[..., Any]],
        limits: RuntimeLimits,
    ) -> ActivationResult:
        """Run one activation of `run` on `plan`, replaying `records` first."""


def run_inline(
    plan: CompiledPlan,
    run: RunIdentity,
    store: Store,
    owner: str,
    records: list[StepRecord],
    tools: Mapping[str, Callable[..., Any]],
    limits: RuntimeLimits,
) -> ActivationResult:
    """Run plan code in this process (`isolation="inline"`: trusted plans and tests only).

    A step's checkpoint shares its transaction with the next attempt's `running` record.
    """
    return execute_activation(
        plan, run, store, owner, records, tools, limits, checkpoint_then=store.checkpoint_then
    )


@dataclass(frozen=True)
class Outcome:
    """How an activation left its run."""

    run_id: str
    status: RunState | ResultKind  # the run's new state, or LOST when this worker lost it
    wake_at: float | None = None


def run_activation(
    store: Store,
    claimed: RunRow | Claimed,
    owner: str,
    load: PlanLoader,
    limits: RuntimeLimits,
    runner: PlanRunner = run_inline,
    handoff: Handoff | None = None,
) -> Outcome:
    """Drive a claimed run as far as it goes now, then release it in its new state.

    A `Claimed` run brings its agent's tools and its steps, read in the claim's transaction;
    a bare row has them read here. A `handoff` is claimed by the settlement (see `Handoff`).
    """
    run = claimed.row if isinstance(claimed, Claimed) else claimed
    if run.unsettled >= limits.max_unsettled_activations:
        return _give_up(store, run, owner, limits)
    try:
        if isinstance(claimed, Claimed):
            plan, tools = load(run, claimed.tools)
            records = claimed.steps
        else:
            plan, tools = load(run, store.agent_tools(run.agent_id))
            records = store.load_steps(run.id)
    except ToolsUnavailable as exc:
        retry_at = time.time() + limits.missing_tools_retry
        queued = Settlement(RunState.QUEUED, wake_at=retry_at, error=describe_error(exc))
        return _settle(store, run, owner, "", limits, queued, handoff)
    except LeaseLost:
        return Outcome(run.id, ResultKind.LOST)
    except (AgentflowError, Exception) as exc:
        return _settle(store, run, owner, "", limits, _errored(describe_error(exc)), handoff)
    identity = RunIdentity(
        key=run.id,
        run_id=run.run_id,
        agent_id=run.agent_id,
        params=dict(run.params or {}),
        created_at=run.created_at,
        rebase=run.rebase,
        control=run.control,
    )
    result = runner(plan, identity, store, owner, records, tools, limits)
    return settle_result(store, run, owner, limits, result, handoff)


def settle_result(
    store: Store,
    run: RunRow,
    owner: str,
    limits: RuntimeLimits,
    result: ActivationResult,
    handoff: Handoff | None = None,
) -> Outcome:
    """Store how an activation ended (the caller has checked the result is well formed).

    A `handoff` rides with a settlement that writes the run's new state (see `Handoff`).
    """
    if result.kind == ResultKind.LOST:
        return Outcome(run.id, ResultKind.LOST)
    if result.kind == ResultKind.CRASHED:
        error = result.error or {"type": "SandboxDied", "message": "the sandbox died"}
        retry_at = time.time() + limits.crashed_retry
        try:
            requeued = store.requeue_unsettled(run.id, owner, retry_at, error)
        except (LeaseLost, Exception):
            log.exception("could not requeue run %s", run.id)
            return Outcome(run.id, ResultKind.LOST)
        if requeued is Transition.LOST:
            return Outcome(run.id, ResultKind.LOST)
        return Outcome(run.id, RunState.QUEUED, retry_at)
    if result.kind == ResultKind.SUSPENDED and result.suspension is not None:
        suspension = result.suspension
        suspended = Settlement(
            suspension.status,
            wake_at=suspension.wake_at,
            waiting_for=suspension.waiting_for,
            error=_TERMINATED if suspension.status == RunState.TERMINATED else None,
            checkpoints=result.checkpoints,
        )
        return _settle(store, run, owner, result.printed, limits, suspended, handoff)
    if result.kind == ResultKind.COMPLETE:
        complete = Settlement(
            RunState.COMPLETE, output=result.output, checkpoints=result.checkpoints
        )
        return _settle(store, run, owner, result.printed, limits, complete, handoff)
    error = result.error or {"type": "Error", "message": "the activation failed"}
    errored = _errored(error, result.checkpoints)
    return _settle(store, run, owner, result.printed, limits, errored, handoff)


def _errored(error: dict[str, Any], checkpoints: tuple[StepWrite, ...] = ()) -> Settlement:
    return Settlement(RunState.ERRORED, error=error, checkpoints=checkpoints)


def _settle(
    store: Store,
    run: RunRow,
    owner: str,
    printed: str,
    limits: RuntimeLimits,
    settlement: Settlement,
    handoff: Handoff | None = None,
) -> Outcome:
    """Store the log and the run's new state; whatever the plan produced, the worker goes on."""
    try:
        if printed:
            store.append_log(run.id, safe_text(printed), limits.max_log_chars)
        settled = store.settle(run.id, owner, settlement, handoff)
    except LeaseLost:
        return Outcome(run.id, ResultKind.LOST)
    except Exception as exc:
        log.exception("could not store the end of an activation of run %s", run.id)
        error = {
            "type": "SettleFailed",
            "message": "the run's new state could not be stored: "
            f"{type(exc).__name__}: {error_message(exc, 500)}",
        }
        return _settle_errored(store, run, owner, error)
    if settled is Transition.LOST:
        return Outcome(run.id, ResultKind.LOST)
    return Outcome(run.id, settlement.status, settlement.wake_at)


def _settle_errored(store: Store, run: RunRow, owner: str, error: dict[str, Any]) -> Outcome:
    try:
        settled = store.settle(run.id, owner, _errored(error))
    except (LeaseLost, Exception):
        # Left `running`: the lease lapses and the next claim counts the lost activation.
        log.exception("could not settle run %s as errored", run.id)
        return Outcome(run.id, ResultKind.LOST)
    if settled is Transition.LOST:
        return Outcome(run.id, ResultKind.LOST)
    return Outcome(run.id, RunState.ERRORED)


def _give_up(store: Store, run: RunRow, owner: str, limits: RuntimeLimits) -> Outcome:
    last = (run.error or {}).get("message") if isinstance(run.error, dict) else None
    error = {
        "type": "ActivationsLost",
        "message": f"{run.unsettled} activations of this run in a row ended without settling "
        "it (the worker or its sandbox died, or its state could not be stored); the limit is "
        f"{limits.max_unsettled_activations}" + (f". Last error: {last}" if last else ""),
    }
    return _settle_errored(store, run, owner, error)
