"""The worker's side of a sandboxed activation: it keeps the store, the journal and the tools.

The worker sends the plan, the run's identity and its journal; then it answers the sandbox's
requests (save step records, take an event, call a tool) until the sandbox says how the
activation ended. Everything the sandbox sends is checked before it is used: a record can only
be one of this run's, a tool only one of this agent's, a tool call only come from a step attempt
that is running. A sandbox that overruns its CPU time, stops talking, or dies is killed and the
activation ends with a reason that names the limit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from agentflow.durations import MAX_DURATION_SECONDS, MAX_INSTANT
from agentflow.errors import (
    ChannelClosed,
    LeaseLost,
    PlainDataError,
    SandboxViolation,
    StepTimeout,
)
from agentflow.plain import error_message, plain, safe_text
from agentflow.plan import CompiledPlan, PlanLimits
from agentflow.runtime.activation import ActivationResult, ResultKind, RunIdentity
from agentflow.runtime.sandbox.channel import ATTEMPT_KINDS, journal_row
from agentflow.runtime.sandbox.pool import Sandbox, SandboxPool, SandboxSettings
from agentflow.runtime.scope import StepScope, inside_step
from agentflow.runtime.signals import Suspension
from agentflow.runtime.step_api import (
    FINAL_ERRORS,
    RuntimeLimits,
    checkpointable,
    sized_checkpointable,
)
from agentflow.states import HALTED_BY, SUSPENDED, RunControl, RunState, StepState
from agentflow.store import Store
from agentflow.store.tables import STEP_WRITE_FIELDS, StepRecord, StepWrite

_STEP_KINDS = frozenset(
    {"do", "sleep", "sleep_until", "wait_for_event", "map", "parallel", "now"}
    | {"map_child", "parallel_child"}
)
_STEP_STATES = frozenset(StepState)
_POLL = 0.05
_LATEST = MAX_INSTANT.timestamp()
_MAX_ERROR_BYTES = 64 * 1024


class SandboxRunner:
    """Runs plan code in sandbox processes (`isolation="process"`, the default)."""

    def __init__(self, settings: SandboxSettings | None = None, tool_threads: int = 32) -> None:
        self.pool = SandboxPool(settings)
        self._tools = ThreadPoolExecutor(
            max_workers=tool_threads, thread_name_prefix="agentflow-tool"
        )

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
        """One activation of `run` in a sandbox of its agent."""
        sandbox = self.pool.checkout(run.agent_id)
        session = _Session(self, sandbox, store, owner, run, tools, limits)
        reusable = False
        try:
            result, reusable = session.drive(plan, records)
        finally:
            self.pool.checkin(sandbox, reusable)
        return result

    def warm(self) -> None:
        """Start the zygote now, so the first activation need not wait for all of its start.

        The zygote's process is spawned here, in the caller's thread (a few ms): spawned from a
        thread of its own, it waited for the interpreter lock while the caller claimed the run.
        Its imports then run in that process while the caller goes on; the spare sandbox is
        forked in the background.
        """
        if self.pool.zygote_alive:
            return
        self.pool.warm()

    def close(self) -> None:
        """Stop every sandbox process; tool calls still running are left to finish."""
        self.pool.close()
        self._tools.shutdown(wait=False, cancel_futures=True)


class _Session:
    def __init__(
        self,
        runner: SandboxRunner,
        sandbox: Sandbox,
        store: Store,
        owner: str,
        run: RunIdentity,
        tools: Mapping[str, Callable[..., Any]],
        limits: RuntimeLimits,
    ) -> None:
        self.runner = runner
        self.settings = runner.pool.settings
        self.sandbox = sandbox
        self.channel = sandbox.channel
        self.store = store
        self.owner = owner
        self.run = run
        self.tools = tools
        self.limits = limits
        self.in_flight: dict[str, StepWrite] = {}  # running attempts, by step key
        self.store_lock = threading.Lock()
        self.pending: dict[int, tuple[float, StepScope, list[bool]]] = {}
        self.pending_lock = threading.Lock()
        self.stored_bytes = 0
        # A whole-step tool's checkpoint, left by its tool thread after the reply went out
        # (under `store_lock`): written with the next request's records, or when the sandbox
        # stays quiet for _POLL seconds, or with the run's settlement.
        self.deferred: StepWrite | None = None
        # A pause or terminate a deferred checkpoint's write read back: no new work starts.
        self.halt: str | None = None

    # --- the activation ------------------------------------------------------------------

    def drive(self, plan: CompiledPlan, records: list[StepRecord]) -> tuple[ActivationResult, bool]:
        self.stored_bytes = _outputs_size(records)
        run = self.run
        request: dict[str, Any] = {
            "op": "activate",
            "sha256": plan.sha256,
            "run": {
                "key": run.key,
                "run_id": run.run_id,
                "agent_id": run.agent_id,
                "params": run.params,
                "created_at": run.created_at,
                "rebase": run.rebase,
                "control": run.control,
            },
            # Not asdict, which copies every output deeply: the rows are only encoded.
            "records": [journal_row(r) for r in records],
            "tools": sorted(self.tools),
            "limits": _limits_json(self.limits),
        }
        # A process that compiled the plan before keeps it: the source goes only once.
        if self.sandbox.needs_source(plan.sha256):
            request.update(_plan_json(plan))
        try:
            self.channel.send(request)
            # Read after the send: the sandbox starts on the plan while the worker reads /proc.
            result, reusable = self._serve(self.sandbox.cpu_seconds(), request, plan)
        except ChannelClosed:
            result, reusable = self._died(), False
        except SandboxViolation as exc:
            self.sandbox.kill("protocol")
            error = {"type": "SandboxViolation", "message": f"the plan's sandbox misbehaved: {exc}"}
            result, reusable = ActivationResult(ResultKind.ERRORED, error=error), False
        except LeaseLost:
            self.sandbox.kill("lease lost")
            return ActivationResult(ResultKind.LOST), False
        return self._with_deferred(result), reusable

    def _with_deferred(self, result: ActivationResult) -> ActivationResult:
        """The result, carrying a checkpoint not written yet to the run's settlement.

        A sandbox that died is not settled (its run is queued again), so its checkpoint is
        written now: a step whose tool returned is never run again.
        """
        with self.store_lock:
            done, self.deferred = self.deferred, None
        if done is None or result.kind == ResultKind.LOST:
            return result
        if result.kind == ResultKind.CRASHED:
            try:
                self.store.save_step(self.owner, done)
            except LeaseLost:
                return ActivationResult(ResultKind.LOST)
            return result
        return dataclasses.replace(result, checkpoints=(done, *result.checkpoints))

    def _serve(
        self, cpu_start: float, request: dict[str, Any], plan: CompiledPlan
    ) -> tuple[ActivationResult, bool]:
        last_word = time.monotonic()
        while True:
            message = self.channel.receive(timeout=_POLL)
            if message is None:
                self._write_deferred()
                self._expire_tool_calls()
                used = self.sandbox.cpu_seconds() - cpu_start
                if used > self.settings.cpu_seconds:
                    return self._killed(
                        "cpu",
                        f"plan code used more than {self.settings.cpu_seconds:g} s of CPU time "
                        "in one activation (SandboxSettings.cpu_seconds); its sandbox was killed",
                    )
                with self.pending_lock:
                    waiting_on_tools = bool(self.pending)
                if waiting_on_tools:
                    last_word = time.monotonic()
                elif time.monotonic() - last_word > self.settings.stall_seconds:
                    return self._killed(
                        "stall",
                        f"plan code ran for more than {self.settings.stall_seconds:g} s without "
                        "finishing or asking for a step (SandboxSettings.stall_seconds); its "
                        "sandbox was killed",
                    )
                continue
            last_word = time.monotonic()
            op = message.get("op")
            if op == "done":
                return self._ended(message), message.get("reusable") is True
            if op == "need_source":
                self._send_source(request, plan)
                continue
            number = message.get("id")
            if type(number) is not int:
                raise SandboxViolation("a request without an id")
            reply = self._answer(op, message)
            if reply is not None:
                self.channel.send({"op": "reply", "id": number, **reply})

    def _send_source(self, request: dict[str, Any], plan: CompiledPlan) -> None:
        """The activation again, with the plan's source the sandbox did not have after all."""
        if "source" in request:
            raise SandboxViolation("a plan's source asked for twice")
        request.update(_plan_json(plan))
        self.channel.send(request)

    def _ended(self, message: dict[str, Any]) -> ActivationResult:
        """The activation's result, carrying the records the sandbox held back to its end.

        They are written with the settlement, in its transaction, after a whole-step tool's
        checkpoint still deferred (as inline). After a checkpoint read back a pause or
        terminate, they are not stored and the run stops there.
        """
        result = self._result(message)
        raw = _listed(message.get("records", []))
        if not raw or result.kind == ResultKind.LOST:
            return result
        if len(raw) > self.limits.max_steps:
            raise SandboxViolation("a result with more records than a run may have")
        with self.store_lock:
            if self.halt is not None:
                halted = Suspension(HALTED_BY[self.halt])
                return ActivationResult(ResultKind.SUSPENDED, suspension=halted)
            try:
                records = tuple(self._clean_record(item) for item in raw)
            except (PlainDataError, ValueError, TypeError) as exc:
                error = {"type": "LimitExceeded", "message": safe_text(str(exc), 2000)}
                return ActivationResult(ResultKind.ERRORED, error=error, printed=result.printed)
        return dataclasses.replace(result, checkpoints=(*result.checkpoints, *records))

    def _killed(self, reason: str, message: str) -> tuple[ActivationResult, bool]:
        self.sandbox.kill(reason)
        error = {"type": "SandboxLimitExceeded", "message": message}
        return ActivationResult(ResultKind.ERRORED, error=error), False

    def _died(self) -> ActivationResult:
        status = self.runner.pool.exit_status(self.sandbox, wait=1.0)
        reason = self.sandbox.killed_because
        if status is not None and os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            if number == signal.SIGXCPU:
                message = (
                    "plan code used up its sandbox's CPU time "
                    f"({self.settings.lifetime_cpu_seconds} s, RLIMIT_CPU); it was killed"
                )
                error = {"type": "SandboxLimitExceeded", "message": message}
                return ActivationResult(ResultKind.ERRORED, error=error)
            if number == signal.SIGKILL and reason is None:
                reason = "killed by SIGKILL"
        how = (
            f"signal {signal.Signals(os.WTERMSIG(status)).name}"
            if status is not None and os.WIFSIGNALED(status)
            else f"exit status {os.waitstatus_to_exitcode(status)}"
            if status is not None
            else "an unknown cause"
        )
        error = {
            "type": "SandboxDied",
            "message": f"the plan's sandbox process ended ({reason or how}) before the "
            "activation finished",
        }
        return ActivationResult(ResultKind.CRASHED, error=error)

    # --- requests ----------------------------------------------------------------------

    def _write_deferred(self) -> None:
        """Write a deferred checkpoint on its own.

        The sandbox computes on, or asks for something that carries no new step's records.
        """
        with self.store_lock:
            done, self.deferred = self.deferred, None
            if done is not None:
                self._note_control(self._store_records([done]))

    def _note_control(self, control: str | None) -> None:
        if control in (RunControl.PAUSE, RunControl.TERMINATE):
            self.halt = control

    def _answer(self, op: Any, message: dict[str, Any]) -> dict[str, Any] | None:
        try:
            if op not in ("tool", "save_steps"):
                self._write_deferred()
            if self.halt is not None and (op != "save_steps" or message.get("records")):
                # A checkpoint read back a pause or terminate: no new work starts, so the
                # records this request carries are not stored either.
                return {"halt": self.halt}
            return self._dispatch(op, message)
        except LeaseLost:
            return {"lost": True, "run_id": self.run.key}
        except (PlainDataError, ValueError, TypeError) as exc:
            return {"refused": safe_text(str(exc), 2000)}

    def _dispatch(self, op: Any, message: dict[str, Any]) -> dict[str, Any] | None:
        before = message.get("before")
        if op == "save_steps":
            earlier = _listed(before) if before is not None else []
            return self._save_steps([*earlier, *_listed(message.get("records"))])
        if before is not None:
            saved = self._save_steps(before)
            if "halt" in saved:
                return saved
        if op == "take_event":
            return self._take_event(message)
        if op == "truncate":
            return self._truncate(message.get("from_seq"))
        if op == "tool":
            self._write_deferred()  # a tool call that carried no records of its own
            if self.halt is not None:
                return {"halt": self.halt}
            self._call_tool(message)
            return None
        raise SandboxViolation(f"an unknown request {str(op)[:40]!r}")

    def _save_steps(self, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, list) or len(raw) > self.limits.max_steps:
            raise SandboxViolation("save_steps without a list of records")
        with self.store_lock:
            steps = [self._clean_record(item) for item in raw]
            done, self.deferred = self.deferred, None
            if done is None:
                return {"control": self._store_records(steps)} if steps else {}
            # One transaction for the last step's end and this request's records.
            control = self.store.checkpoint_then(self.owner, self.run.key, done, steps)
            self._track([done])
            self._note_control(control)
            if self.halt is not None:
                return {"halt": self.halt}
            self._track(steps)
            return {"control": control}

    def _store_records(self, steps: list[StepWrite]) -> str | None:
        if len(steps) == 1:
            control = self.store.save_step(self.owner, steps[0])
        else:
            control = self.store.save_steps(self.owner, self.run.key, steps)
        self._track(steps)
        return control

    def _track(self, steps: list[StepWrite]) -> None:
        for step in steps:
            if step.status == StepState.RUNNING and step.kind in ATTEMPT_KINDS:
                self.in_flight[step.key] = step
            else:
                self.in_flight.pop(step.key, None)

    def _reply_and_defer(self, number: int, key: str, reply: dict[str, Any], size: int) -> None:
        """Reply with a whole-step tool's result and leave its checkpoint to the next write.

        The sandbox goes on to its next step at once; the checkpoint is written in one
        transaction with that step's `running` record, before its tool may act (or alone,
        should the sandbox ask for nothing within _POLL seconds, or with the settlement).
        """
        with self.store_lock:
            step = self._complete_step(key, reply["value"], size)
            if step is not None:
                self.deferred = step
                reply["saved"] = True
            with contextlib.suppress(ChannelClosed):
                self.channel.send({"op": "reply", "id": number, **reply})

    def _complete_step(self, key: str, value: Any, size: int) -> StepWrite | None:
        # The running record was checked when it was stored; the output (of `size` bytes) by
        # the tool's thread.
        running = self.in_flight.get(key)
        if running is None:
            return None
        try:
            self._count_stored(size)
        except ValueError:
            return None  # the sandbox saves the record itself and is told what is wrong
        status = StepState.COMPLETE.value  # exact str, as _clean_record requires
        return running.amended(status=status, output=value, ended_at=time.time(), new=False)

    def _take_event(self, message: dict[str, Any]) -> dict[str, Any]:
        event_type = message.get("type")
        if not isinstance(event_type, str) or not 0 < len(event_type) <= 256:
            raise SandboxViolation("take_event without an event type")
        with self.store_lock:
            record = self._clean_record(message.get("record"))
            taken = self.store.take_event(self.owner, self.run.key, event_type, record)
        if taken is None:
            return {"event": None}
        event = {"type": taken.type, "payload": taken.payload, "created_at": taken.created_at}
        return {"event": event}

    def _truncate(self, from_seq: Any) -> dict[str, Any]:
        if type(from_seq) is not int or from_seq < 0:
            raise SandboxViolation("truncate without a step position")
        with self.store_lock:
            self.store.truncate_steps_in_activation(self.owner, self.run.key, from_seq)
        return {}

    def _clean_record(self, raw: Any) -> StepWrite:
        if not isinstance(raw, list) or len(raw) != len(STEP_WRITE_FIELDS):
            raise SandboxViolation("a step record of the wrong shape")
        # In STEP_WRITE_FIELDS order (test_sandbox_protocol holds it to that).
        (
            _run_id,  # the host's own run key replaces it
            seq,
            key,
            name,
            occurrence,
            kind,
            status,
            parent_key,
            output,
            error,
            attempts,
            input_hash,
            started_at,
            ended_at,
            wake_at,
            new,
        ) = raw
        positions = self.limits.max_steps * 2
        _require_count("seq", seq, positions)
        _require_count("occurrence", occurrence, positions)
        _require_count("attempts", attempts, 1_000_000)
        _require_text("key", key, 600)
        _require_text("name", name, 200)
        _require_one_of("kind", kind, _STEP_KINDS)
        _require_one_of("status", status, _STEP_STATES)
        _require_optional_text("parent_key", parent_key)
        _require_optional_text("input_hash", input_hash)
        _require_optional_time("started_at", started_at, name)
        _require_optional_time("ended_at", ended_at, name)
        _require_optional_time("wake_at", wake_at, name)
        output = self._checked_output(output, name, status)
        if error is not None:
            error, _ = plain(error, max_bytes=_MAX_ERROR_BYTES, what="a step's error")
        return StepWrite(
            self.run.key,
            seq,
            key,
            name,
            occurrence,
            kind,
            status,
            parent_key,
            output,
            error,
            attempts,
            input_hash,
            started_at,
            ended_at,
            wake_at,
            new is True,
        )

    def _checked_output(self, output: Any, name: str, status: str) -> Any:
        """A step's output as plain data, counted against the run's bytes once it is complete."""
        output, size = plain(
            output, max_bytes=self.limits.max_output_bytes, what=f"the output of step {name!r}"
        )
        if status == StepState.COMPLETE:
            self._count_stored(size)
        return output

    def _count_stored(self, size: int) -> None:
        """Count a complete step's output of `size` bytes against the run's."""
        self.stored_bytes += size
        if self.stored_bytes > self.limits.max_run_bytes:
            raise ValueError(
                f"run {self.run.run_id} would store more than {self.limits.max_run_bytes:,} "
                "bytes of step results (RuntimeLimits.max_run_bytes)"
            )

    # --- tools -------------------------------------------------------------------------

    def _call_tool(self, message: dict[str, Any]) -> None:
        number = message["id"]
        name, step = message.get("name"), message.get("step")
        if not isinstance(name, str) or not isinstance(step, str):
            raise SandboxViolation("a tool call without a tool or a step")
        handle = self.tools.get(name)
        if handle is None:
            self._reply_error(number, "ToolNotAllowed", f"tool {name!r} is not allowed", True)
            return
        if not self._running(step):
            refusal = f"tool {name!r} was called for step {step!r}, which is not running"
            self._reply_error(number, "ToolNotAllowed", refusal, True)
            return
        args, kwargs = message.get("args"), message.get("kwargs")
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise SandboxViolation("a tool call without arguments")
        timeout = self._tool_timeout(message.get("timeout"))
        whole_step = message.get("whole_step") is True
        scope = StepScope(step)
        answered = [False]
        with self.pending_lock:
            self.pending[number] = (time.monotonic() + float(timeout), scope, answered)
        call = functools.partial(handle, *args, **kwargs)
        self.runner._tools.submit(self._run_tool, number, step, scope, whole_step, call)

    def _running(self, step: str) -> bool:
        with self.store_lock:
            return step in self.in_flight

    def _tool_timeout(self, timeout: Any) -> float:
        if timeout is None:
            timeout = self.limits.default_step_timeout
        if type(timeout) not in (int, float) or not 0 < timeout <= MAX_DURATION_SECONDS:
            raise SandboxViolation("a tool call with an impossible timeout")
        return float(timeout)

    def _run_tool(
        self,
        number: int,
        step: str,
        scope: StepScope,
        whole_step: bool,
        call: Callable[[], Any],
    ) -> None:
        reply, size = self._tool_reply(step, scope, call)
        if not self._claim_reply(number):
            return  # the call timed out; its late result is dropped
        if whole_step and "value" in reply:
            self._reply_and_defer(number, step, reply, size)
            return
        with contextlib.suppress(ChannelClosed):
            self.channel.send({"op": "reply", "id": number, **reply})

    def _tool_reply(
        self, step: str, scope: StepScope, call: Callable[[], Any]
    ) -> tuple[dict[str, Any], int]:
        """The reply to a tool call, and the size of the output it carries (0 for an error)."""
        try:
            with inside_step(scope):
                value = call()
            value, size = sized_checkpointable(
                value, self.limits.max_output_bytes, f"the output of step {step!r}"
            )
            return {"value": value}, size
        except BaseException as caught:  # a tool's exit() fails its step, not the worker
            exc = caught
            if isinstance(caught, SystemExit):
                exc = RuntimeError(f"step {step!r} called exit({caught.code!r})")
            final = isinstance(exc, FINAL_ERRORS)
            error = {"type": type(exc).__name__, "message": error_message(exc), "final": final}
            return {"error": error}, 0

    def _claim_reply(self, number: int) -> bool:
        with self.pending_lock:
            entry = self.pending.pop(number, None)
            if entry is None or entry[2][0]:
                return False
            entry[2][0] = True
            return True

    def _finish_tool_call(self, number: int, reply: dict[str, Any]) -> None:
        if self._claim_reply(number):
            with contextlib.suppress(ChannelClosed):
                self.channel.send({"op": "reply", "id": number, **reply})

    def _reply_error(self, number: int, kind: str, message: str, final: bool) -> None:
        error = {"type": kind, "message": message, "final": final}
        self.channel.send({"op": "reply", "id": number, "error": error})

    def _expire_tool_calls(self) -> None:
        now = time.monotonic()
        with self.pending_lock:
            expired = [(n, e) for n, e in self.pending.items() if e[0] <= now]
        for number, (_deadline, scope, _answered) in expired:
            scope.expired = True
            timeout = StepTimeout(scope.key, 0)
            error = {"type": "StepTimeout", "message": error_message(timeout), "final": False}
            self._finish_tool_call(number, {"error": error})

    # --- the end -------------------------------------------------------------------------

    def _result(self, message: dict[str, Any]) -> ActivationResult:
        kind = message.get("kind")
        printed = message.get("printed") or ""
        if not isinstance(printed, str):
            raise SandboxViolation("printed output that is not text")
        printed = safe_text(printed, self.limits.max_log_chars)
        if kind == ResultKind.COMPLETE:
            try:
                output = checkpointable(
                    message.get("output"),
                    self.limits.max_output_bytes,
                    f"the output of run {self.run.run_id}",
                )
            except ValueError as exc:
                error = {"type": "LimitExceeded", "message": str(exc)}
                return ActivationResult(ResultKind.ERRORED, error=error, printed=printed)
            return ActivationResult(ResultKind.COMPLETE, output=output, printed=printed)
        if kind == ResultKind.SUSPENDED:
            return ActivationResult(
                ResultKind.SUSPENDED,
                suspension=_suspension(message.get("suspension")),
                printed=printed,
            )
        if kind == ResultKind.ERRORED:
            return ActivationResult(
                ResultKind.ERRORED, error=_error(message.get("error")), printed=printed
            )
        if kind == ResultKind.LOST:
            return ActivationResult(ResultKind.LOST)
        raise SandboxViolation("a result of no known kind")


def _require_count(field: str, value: Any, most: int) -> None:
    if type(value) is not int or not 0 <= value <= most:
        raise SandboxViolation(f"a step record's {field} is not valid")


def _require_text(field: str, value: Any, longest: int) -> None:
    if type(value) is not str or not 0 < len(value) <= longest:
        raise SandboxViolation(f"a step record's {field} is not valid")


def _require_one_of(field: str, value: Any, allowed: frozenset[str]) -> None:
    if type(value) is not str or value not in allowed:
        raise SandboxViolation(f"a step record's {field} is not valid")


def _require_optional_text(field: str, value: Any) -> None:
    if value is not None and (type(value) is not str or len(value) > 600):
        raise SandboxViolation(f"a step record's {field} is not valid")


def _require_optional_time(field: str, value: Any, step: str) -> None:
    if value is None:
        return
    if type(value) not in (int, float) or not math.isfinite(value):
        raise SandboxViolation(f"a step record's {field} is not a time")
    if not 0 <= value <= _LATEST:
        raise ValueError(f"{field} of step {step!r} is out of range")


def _suspension(raw: Any) -> Suspension:
    if not isinstance(raw, dict) or raw.get("status") not in SUSPENDED:
        raise SandboxViolation("a suspension of no known kind")
    wake_at = raw.get("wake_at")
    if wake_at is not None and (
        type(wake_at) not in (int, float)
        or not math.isfinite(wake_at)
        or not 0 <= wake_at <= _LATEST
    ):
        raise SandboxViolation("a suspension until an impossible time")
    waiting_for = raw.get("waiting_for")
    if waiting_for is not None and (not isinstance(waiting_for, str) or len(waiting_for) > 256):
        raise SandboxViolation("a suspension waiting for an impossible event type")
    return Suspension(RunState(raw["status"]), wake_at, waiting_for)


def _error(raw: Any) -> dict[str, Any]:
    try:
        error, _ = plain(raw, max_bytes=_MAX_ERROR_BYTES, what="the run's error")
    except PlainDataError as exc:
        return {"type": "SandboxViolation", "message": str(exc)}
    if not isinstance(error, dict) or not isinstance(error.get("type"), str):
        return {"type": "Error", "message": "the plan failed with an unreadable error"}
    error["type"] = error["type"][:100]
    error["message"] = safe_text(str(error.get("message", "")), 4000)
    return error


@functools.lru_cache(maxsize=8)
def _limits_json(limits: RuntimeLimits) -> dict[str, Any]:
    return asdict(limits)


def _plan_json(plan: CompiledPlan) -> dict[str, Any]:
    """What a sandbox compiles a plan from (only encoded: `plan_limits` may be shared)."""
    return {"source": plan.source, "plan_limits": _plan_limits_json(plan.limits)}


@functools.lru_cache(maxsize=8)
def _plan_limits_json(limits: PlanLimits) -> dict[str, Any]:
    return limits.model_dump()


def _outputs_size(records: list[StepRecord]) -> int:
    """The sum of `len(json.dumps(output))` over the records, in one call of the encoder."""
    if not records:
        return 0
    # "[" + the outputs joined by ", " + "]"
    return len(json.dumps([record.output for record in records])) - 2 * len(records)


def _listed(raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise SandboxViolation("save_steps without a list of records")
    return raw
