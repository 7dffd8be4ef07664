"""The plan side of a sandbox: a confined process that runs plan code and asks its host for
everything else.

It holds only compiled plans (by SHA-256) and the journal its host sent for the activation at
hand. Replay is local; new work becomes a request over the channel: "save this step record",
"take an event", "call tool T with these arguments". The host owns the store and the tools.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import asdict
from typing import Any

from agentflow.errors import AgentflowError, LeaseLost, ToolNotAllowed
from agentflow.plan import CompiledPlan, PlanLimits, compile_plan
from agentflow.runtime.activation import ActivationResult, RunIdentity, execute_activation
from agentflow.runtime.sandbox.channel import Channel, ChannelClosed
from agentflow.runtime.sandbox.confine import ConfinementReport
from agentflow.runtime.step_api import RuntimeLimits, checkpointable
from agentflow.runtime.tools import current_scope
from agentflow.store.tables import StepRecord

_PLAN_CACHE_SIZE = 64


class RemoteToolError(AgentflowError):
    """A tool failed in the host; keeps the tool's own error type and whether it is final."""

    def __init__(self, remote_type: str, message: str, final: bool) -> None:
        self.remote_type = remote_type
        self.final = final
        super().__init__(message)


class ReceivedEvent:
    """An event the host handed to a wait."""

    __slots__ = ("created_at", "payload", "type")

    def __init__(self, type: str, payload: Any, created_at: float) -> None:
        self.type = type
        self.payload = payload
        self.created_at = created_at


class HostLink:
    """Requests to the host, each answered by a reply with the same id; safe from any thread."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._ids = itertools.count(1)
        self._waiting: dict[int, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.activations: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="sandbox-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while True:
                message = self._channel.receive()
                if message is None:
                    continue
                if message.get("op") == "reply":
                    with self._lock:
                        future = self._waiting.pop(message.get("id", -1), None)
                    if future is not None:
                        future.set_result(message)
                else:
                    self.activations.put(message)
        except ChannelClosed:
            pass
        # The host is gone: nothing this process could do would ever be recorded.
        os._exit(0)

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send a request and wait for its reply; a reply that says the lease moved raises."""
        number = next(self._ids)
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            self._waiting[number] = future
        self._channel.send({"op": op, "id": number, **fields})
        reply = future.result()
        if reply.get("lost"):
            raise LeaseLost(str(reply.get("run_id", "")))
        if "refused" in reply:
            raise ValueError(str(reply["refused"]))
        return reply

    def send(self, message: dict[str, Any]) -> None:
        """Send a message that needs no reply."""
        self._channel.send(message)


class ChannelJournal:
    """The `Journal` of a sandboxed activation: every write is a request to the host."""

    def __init__(self, link: HostLink) -> None:
        self._link = link

    def save_step(self, owner: str, record: dict[str, Any]) -> str | None:
        return _control(self._link.request("save_steps", records=[record]))

    def save_steps(self, owner: str, run_id: str, records: Sequence[dict[str, Any]]) -> str | None:
        return _control(self._link.request("save_steps", records=list(records)))

    def take_event(
        self, owner: str, run_id: str, event_type: str, step_record: dict[str, Any]
    ) -> ReceivedEvent | None:
        reply = self._link.request("take_event", type=event_type, record=step_record)
        event = reply.get("event")
        if event is None:
            return None
        return ReceivedEvent(str(event["type"]), event.get("payload"), float(event["created_at"]))

    def truncate_steps_in_activation(self, owner: str, run_id: str, from_seq: int) -> None:
        self._link.request("truncate", from_seq=from_seq)


def _control(reply: dict[str, Any]) -> str | None:
    control = reply.get("control")
    return control if isinstance(control, str) else None


class RemoteTool:
    """`tools.NAME` in a sandbox: the call runs in the host, inside the current step attempt."""

    __slots__ = ("_limit", "_link", "tool_name")

    def __init__(self, name: str, link: HostLink, argument_limit: int) -> None:
        self.tool_name = name
        self._link = link
        self._limit = argument_limit

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.call_with_timeout(None, *args, **kwargs)

    def call_with_timeout(self, timeout: float | None, *args: Any, **kwargs: Any) -> Any:
        """Call the tool in the host, which gives up on it after `timeout` seconds."""
        scope = current_scope(self.tool_name)
        arguments = checkpointable(
            [list(args), kwargs], self._limit, f"the arguments of tool {self.tool_name!r}"
        )
        reply = self._link.request(
            "tool",
            name=self.tool_name,
            args=arguments[0],
            kwargs=arguments[1],
            step=scope.key,
            timeout=timeout,
        )
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


class PlanSide:
    """Serves activations, one at a time, for the one agent this process belongs to."""

    def __init__(self, link: HostLink, report: ConfinementReport, memory_bytes: int) -> None:
        self._link = link
        self._report = report
        self._memory_bytes = memory_bytes
        self._plans: dict[str, CompiledPlan] = {}
        self._agent: str | None = None

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
            request = self._link.activations.get()
            if request is None or request.get("op") != "activate":
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
                    "errored", error={"type": "SandboxMisuse", "message": "wrong agent"}
                ),
                reusable=False,
            )
            return False
        limits = RuntimeLimits(**request["limits"])
        journal = ChannelJournal(self._link)
        tools = {
            name: RemoteTool(name, self._link, limits.max_output_bytes) for name in request["tools"]
        }
        try:
            plan = self._plan(request["source"], request["sha256"], request["plan_limits"])
            records = [StepRecord(**record) for record in request["records"]]
        except Exception as exc:
            error = {"type": type(exc).__name__, "message": f"the sandbox could not load: {exc}"}
            self._finish(ActivationResult("errored", error=error), reusable=False)
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
        # A timed-out attempt may still run in a thread: no later activation may share it.
        reusable = not memory[0] and threading.active_count() <= 2
        self._finish(result, reusable)
        return reusable

    def _plan(self, source: str, sha256: str, plan_limits: dict[str, Any]) -> CompiledPlan:
        plan = self._plans.get(sha256)
        if plan is None:
            if hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest() != sha256:
                raise ValueError("the plan's source does not match its SHA-256")
            plan = compile_plan(source, None, limits=PlanLimits(**plan_limits))
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans.pop(next(iter(self._plans)))
            self._plans[sha256] = plan
        return plan

    def _finish(self, result: ActivationResult, reusable: bool) -> None:
        message = {
            "op": "done",
            "kind": result.kind,
            "output": result.output,
            "suspension": asdict(result.suspension) if result.suspension else None,
            "error": result.error,
            "printed": result.printed,
            "reusable": reusable,
        }
        try:
            self._link.send(message)
        except (TypeError, ValueError) as exc:
            error = {"type": "SandboxError", "message": f"the result could not be sent: {exc}"}
            self._link.send({"op": "done", "kind": "errored", "error": error, "reusable": False})
