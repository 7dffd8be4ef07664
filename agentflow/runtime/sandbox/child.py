"""The plan side of a sandbox: a confined process that runs plan code.

It asks its host for everything else.

It holds only compiled plans (by SHA-256) and the journal its host sent for the activation at
hand. Replay is local; new work becomes a request over the channel: "save this step record",
"take an event", "call tool T with these arguments". The host owns the store and the tools.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from agentflow.checkpoints import StepRecord, StepWrite, write_row
from agentflow.errors import ChannelClosed, LeaseLost, RemoteToolError, ToolNotAllowed
from agentflow.plan.budget import Budget
from agentflow.plan.runnable import RunnablePlan, restricted_plan, source_sha256
from agentflow.runtime.activation import (
    ActivationResult,
    ResultKind,
    RunIdentity,
    execute_activation,
)
from agentflow.runtime.sandbox.channel import (
    ATTEMPT_KINDS,
    PLAN_CACHE_SIZE,
    SLEEP_KINDS,
    STEP_RECORD_FIELDS,
    Channel,
)
from agentflow.runtime.sandbox.confine import ConfinementReport
from agentflow.runtime.scope import current_scope
from agentflow.runtime.signals import Suspend, Suspension
from agentflow.runtime.step_api import RuntimeLimits, checkpointable
from agentflow.states import HALTED_BY, StepState


class ReceivedEvent:
    """An event the host handed to a wait."""

    __slots__ = ("created_at", "payload", "type")

    def __init__(self, type: str, payload: Any, created_at: float) -> None:
        self.type = type
        self.payload = payload
        self.created_at = created_at


class HostLink:
    """Requests to the host, each answered by a reply with the same id; safe from any thread.

    There is no reader thread: a thread waiting for a reply reads the channel itself and hands
    other threads' replies to them, so a lone request costs one round trip and no thread switch.
    """

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._ids = itertools.count(1)
        self._replies: dict[int, dict[str, Any]] = {}
        self._waiting: set[int] = set()
        self._turn = threading.Condition()
        self._reading = False
        self._sleepers = 0  # threads in `_turn.wait()`: with none, nobody needs a notify
        self._send_order = threading.Lock()

    def next_activation(self) -> dict[str, Any]:
        """Block until the host sends the next activation (no request is in flight)."""
        while True:
            message = self._receive()
            if message.get("op") != "reply":
                return message

    def _receive(self) -> dict[str, Any]:
        try:
            message = self._channel.receive()
        except ChannelClosed:
            # The host is gone: nothing this process could do would ever be recorded.
            os._exit(0)
        assert message is not None  # no timeout
        return message

    def _reply_for(self, number: int) -> dict[str, Any]:
        with self._turn:
            while True:
                if number in self._replies:
                    self._waiting.discard(number)
                    return self._replies.pop(number)
                if not self._reading:
                    self._reading = True
                    break
                self._sleepers += 1
                try:
                    self._turn.wait()
                finally:
                    self._sleepers -= 1
        try:
            while True:
                message = self._receive()
                if message.get("op") != "reply":
                    continue  # the host sends nothing else while requests are in flight
                got = message.get("id")
                if got == number:
                    return message
                with self._turn:
                    if got in self._waiting:
                        self._replies[got] = message
                        self._turn.notify_all()
        finally:
            with self._turn:
                self._waiting.discard(number)
                self._reading = False
                if self._sleepers:
                    self._turn.notify_all()

    def request(
        self,
        op: str,
        carry: Callable[[], list[tuple[Any, ...]]] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Send a request and wait for its reply; a reply that says the lease moved raises.

        `carry` gives step records to save before the request is answered; it is called in
        send order, so records held back by one thread reach the host before any later request.
        """
        number = next(self._ids)
        # Before the send, so that whichever thread reads the reply keeps it for this one (an
        # atomic set operation; readers look under `_turn`).
        self._waiting.add(number)
        with self._send_order:
            before = carry() if carry is not None else []
            message = {"op": op, "id": number, **fields}
            if before:
                message["before"] = before
            self._channel.send(message)
        reply = self._reply_for(number)
        if reply.get("lost"):
            raise LeaseLost(str(reply.get("run_id", "")))
        halt = reply.get("halt")
        if halt in HALTED_BY:
            raise Suspend(Suspension(HALTED_BY[halt]))
        if "refused" in reply:
            raise ValueError(str(reply["refused"]))
        return reply

    def send(self, message: dict[str, Any]) -> None:
        """Send a message that needs no reply."""
        self._channel.send(message)


class ChannelJournal:
    """The `Journal` of a sandboxed activation: every write is a request to the host.

    Two writes of a step share one round trip with its tool call: the `running` record of an
    attempt travels with the next request (the tool call), and when a tool is the whole step
    the host checkpoints its result itself before it replies, so the step's `complete` record
    needs no request of its own. Nothing a tool does happens before its attempt is recorded.
    """

    def __init__(self, link: HostLink) -> None:
        self._link = link
        self._held: list[tuple[Any, ...]] = []
        self._held_lock = threading.Lock()
        self._saved_by_host: dict[str, str | None] = {}
        self._control: str | None = None

    def save_step(self, owner: str, step: StepWrite) -> str | None:
        """Record one step (unless the host already checkpointed it); returns the run's control."""
        if step.status == StepState.COMPLETE and step.key in self._saved_by_host:
            self._control = self._saved_by_host.pop(step.key)
            return self._control
        if (step.status == StepState.RUNNING and step.kind in ATTEMPT_KINDS) or (
            step.status == StepState.COMPLETE and step.kind in SLEEP_KINDS
        ):
            with self._held_lock:
                self._held.append(write_row(step))
            return self._control
        return self.save_steps(owner, step.run_id, [step])

    def save_steps(self, owner: str, run_id: str, steps: Sequence[StepWrite]) -> str | None:
        """Have the host record these steps; returns the run's control."""
        records = [write_row(step) for step in steps]
        reply = self._link.request("save_steps", carry=self.take_held, records=records)
        self._control = _control(reply)
        return self._control

    def take_held(self) -> list[tuple[Any, ...]]:
        """The records held back for the next request (called in send order)."""
        with self._held_lock:
            held, self._held = self._held, []
        return held

    def saved_by_host(self, key: str, reply: dict[str, Any]) -> None:
        """The host checkpointed step `key` when its tool returned."""
        self._saved_by_host[key] = _control(reply)

    def take_event(
        self, owner: str, run_id: str, event_type: str, step: StepWrite
    ) -> ReceivedEvent | None:
        """Have the host take the oldest event of `event_type` for the wait, if one came."""
        reply = self._link.request(
            "take_event", carry=self.take_held, type=event_type, record=write_row(step)
        )
        event = reply.get("event")
        if event is None:
            return None
        return ReceivedEvent(str(event["type"]), event.get("payload"), float(event["created_at"]))

    def truncate_steps_in_activation(self, owner: str, run_id: str, from_seq: int) -> None:
        """Have the host drop the steps recorded from `from_seq` on in this activation."""
        self._link.request("truncate", carry=self.take_held, from_seq=from_seq)


def _control(reply: dict[str, Any]) -> str | None:
    control = reply.get("control")
    return control if isinstance(control, str) else None


class RemoteTool:
    """`tools.NAME` in a sandbox: the call runs in the host, inside the current step attempt."""

    __slots__ = ("_journal", "_limit", "_link", "tool_name")

    def __init__(
        self, name: str, link: HostLink, journal: ChannelJournal, argument_limit: int
    ) -> None:
        self.tool_name = name
        self._link = link
        self._journal = journal
        self._limit = argument_limit

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the tool in the host, within the step attempt's own timeout."""
        return self._call(None, False, args, kwargs)

    def call_with_timeout(self, timeout: float | None, *args: Any, **kwargs: Any) -> Any:
        """Call the tool as a whole step.

        The host gives up on it after `timeout` seconds and checkpoints its result before it
        replies. The result is plain JSON data: the host made it `checkpointable` under this
        activation's limits, and it crossed the channel as JSON.
        """
        return self._call(timeout, True, args, kwargs)

    def _call(
        self, timeout: float | None, whole_step: bool, args: tuple[Any, ...], kwargs: Any
    ) -> Any:
        scope = current_scope(self.tool_name)
        arguments = checkpointable(
            [list(args), kwargs], self._limit, f"the arguments of tool {self.tool_name!r}"
        )
        reply = self._link.request(
            "tool",
            carry=self._journal.take_held,
            name=self.tool_name,
            args=arguments[0],
            kwargs=arguments[1],
            step=scope.key,
            timeout=timeout,
            whole_step=whole_step,
        )
        if reply.get("saved") is True:
            self._journal.saved_by_host(scope.key, reply)
        error = reply.get("error")
        if isinstance(error, dict):
            if error.get("type") == "ToolNotAllowed":
                raise ToolNotAllowed(self.tool_name, message=str(error.get("message", "")))
            raise RemoteToolError(
                str(error.get("type", "Error")),
                str(error.get("message", "")),
                error.get("final") is True,
            )
        return reply.get("value")

    def __repr__(self) -> str:
        return f"<tool {self.tool_name}>"


def _record(row: list[Any]) -> StepRecord:
    if not isinstance(row, list) or len(row) != len(STEP_RECORD_FIELDS):
        raise ValueError("a journal row of the wrong shape")
    return StepRecord(*row)


class PlanSide:
    """Serves activations, one at a time, for the one agent this process belongs to."""

    def __init__(self, link: HostLink, report: ConfinementReport, memory_bytes: int) -> None:
        self._link = link
        self._report = report
        self._memory_bytes = memory_bytes
        self._plans: dict[str, RunnablePlan] = {}
        self._agent: str | None = None
        self._limits: tuple[dict[str, Any], RuntimeLimits] | None = None

    def serve(self) -> None:
        """Answer activations until the host goes away or this process must not be reused."""
        self._link.send(
            {
                "op": "hello",
                "pid": os.getpid(),
                "uid": os.getuid(),
                "applied": self._report.applied,
                "missing": self._report.missing,
            }
        )
        while True:
            request = self._link.next_activation()
            if request.get("op") != "activate":
                os._exit(0)
            reusable = self._activate(request)
            if not reusable:
                os._exit(0)

    def _activate(self, request: dict[str, Any]) -> bool:
        run = RunIdentity(**request["run"])
        if self._agent is None:
            self._agent = run.agent_id
        if run.agent_id != self._agent:
            # Never: the host dedicates a sandbox to one agent. Refuse rather than mix tenants.
            self._finish(
                ActivationResult(
                    ResultKind.ERRORED, error={"type": "SandboxMisuse", "message": "wrong agent"}
                ),
                reusable=False,
            )
            return False
        limits = self._runtime_limits(request["limits"])
        journal = ChannelJournal(self._link)
        tools = {
            name: RemoteTool(name, self._link, journal, limits.max_output_bytes)
            for name in request["tools"]
        }
        try:
            plan = self._plan(request)
            if plan is None:
                # The host thought this process had the plan: it sends the activation again,
                # with the source.
                self._link.send({"op": "need_source"})
                return True
            records = [_record(row) for row in request["records"]]
        except Exception as exc:
            error = {"type": type(exc).__name__, "message": f"the sandbox could not load: {exc}"}
            self._finish(ActivationResult(ResultKind.ERRORED, error=error), reusable=False)
            return False
        memory = [False]

        def out_of_memory() -> str:
            memory[0] = True
            return (
                "the plan ran out of memory: its sandbox may use at most "
                f"{self._memory_bytes // 2**20:,} MiB of address space (RLIMIT_AS)"
            )

        result = execute_activation(
            plan,
            run,
            journal,
            "sandbox",
            records,
            tools,
            limits,
            describe_memory_error=out_of_memory,
        )
        # What is held back rides with the result: the host writes it with the settlement.
        held = journal.take_held() if result.kind != ResultKind.LOST else []
        # A timed-out attempt may still run in a thread: no later activation may share it.
        reusable = not memory[0] and threading.active_count() <= 1
        self._finish(result, reusable, held)
        return reusable

    def _runtime_limits(self, raw: dict[str, Any]) -> RuntimeLimits:
        """The activation's limits: frozen, so the last activation's serve when they are equal."""
        if self._limits is None or self._limits[0] != raw:
            self._limits = (raw, RuntimeLimits(**raw))
        return self._limits[1]

    def _plan(self, request: dict[str, Any]) -> RunnablePlan | None:
        """The activation's plan: compiled before, or from the source sent with it (or None)."""
        sha256 = request["sha256"]
        plan = self._plans.get(sha256)
        if plan is not None:
            return plan
        source = request.get("source")
        if source is None:
            return None
        if source_sha256(source) != sha256:
            raise ValueError("the plan's source does not match its SHA-256")
        # The worker compiled and checked this source; the sandbox rewrites it again.
        plan = restricted_plan(source, Budget(**request["plan_limits"]))
        if len(self._plans) >= PLAN_CACHE_SIZE:
            self._plans.pop(next(iter(self._plans)))
        self._plans[sha256] = plan
        return plan

    def _finish(
        self, result: ActivationResult, reusable: bool, held: list[tuple[Any, ...]] | None = None
    ) -> None:
        message = {
            "op": "done",
            "kind": result.kind,
            "output": result.output,
            "suspension": _suspension_json(result.suspension),
            "error": result.error,
            "printed": result.printed,
            "reusable": reusable,
            "records": held or [],
        }
        try:
            self._link.send(message)
        except (TypeError, ValueError) as exc:
            error = {"type": "SandboxError", "message": f"the result could not be sent: {exc}"}
            self._link.send(
                {"op": "done", "kind": ResultKind.ERRORED, "error": error, "reusable": False}
            )


def _suspension_json(suspension: Suspension | None) -> dict[str, Any] | None:
    if suspension is None:
        return None
    return {
        "status": suspension.status,
        "wake_at": suspension.wake_at,
        "waiting_for": suspension.waiting_for,
    }
