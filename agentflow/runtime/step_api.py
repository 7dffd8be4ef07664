"""`step`: the object a plan's `run(event, step)` receives, and the whole of its durable API.

Every call has an identity `(name, occurrence)` and a position in the run. On replay a call whose
checkpoint exists returns the stored result without running anything; the first call without
one does the work, checkpoints it, and the plan goes on, until it must sleep or wait: then
`Suspend` (a BaseException) unwinds the plan and the run stops holding the worker.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from agentflow.checkpoints import WAKE_LEAD, StepRecord, StepWrite
from agentflow.durations import parse_duration, parse_instant
from agentflow.errors import (
    LimitExceeded,
    NonDeterminismError,
    NonRetryableError,
    PlainDataError,
    StepFailed,
    StepTimeout,
    ToolArgumentsError,
    ToolNotAllowed,
    WaitTimeout,
    WorkerLost,
)
from agentflow.plain import error_message, plain
from agentflow.plan.data import Event, RunInput
from agentflow.runtime.retry import RetryPolicy
from agentflow.runtime.scope import StepScope, inside_step
from agentflow.runtime.signals import Suspend, Suspension
from agentflow.runtime.step_threads import STEP_THREADS, StepCall
from agentflow.states import HALTED_BY, RunState, StepState

FINAL_ERRORS = (NonRetryableError, ToolArgumentsError, ToolNotAllowed, LimitExceeded)
# `json.dumps(..., default=repr, sort_keys=True)`, built once: step inputs hash as they did.
_INPUT_ENCODER = json.JSONEncoder(default=repr, sort_keys=True)


class TakenEvent(Protocol):
    """An event a wait consumed."""

    type: str
    payload: Any
    created_at: float


class CheckpointThen(Protocol):
    """`Store.checkpoint_then`: a step's checkpoint and the records that follow it, at once."""

    def __call__(
        self, owner: str, key: str, done: StepWrite, then: Sequence[StepWrite]
    ) -> str | None:
        """Write `done`, then `then` unless a pause or terminate is pending; the control."""


class Journal(Protocol):
    """Where a run's steps are recorded: the store in the worker, a channel in a sandbox."""

    def save_step(self, owner: str, step: StepWrite) -> str | None:
        """Record one step; returns the run's control request, if any."""

    def save_steps(self, owner: str, run_id: str, steps: Sequence[StepWrite]) -> str | None:
        """Record several steps at once; returns the run's control request, if any."""

    def take_event(
        self, owner: str, run_id: str, event_type: str, step: StepWrite
    ) -> TakenEvent | None:
        """Take the oldest event of `event_type` sent to the run, recording the wait's step."""

    def truncate_steps_in_activation(self, owner: str, run_id: str, from_seq: int) -> None:
        """Drop the steps recorded from `from_seq` on in this activation."""


@dataclass(frozen=True)
class RuntimeLimits:
    """Bounds a run cannot exceed; each breach is an error naming the step."""

    max_output_bytes: int = 1024 * 1024
    max_event_bytes: int = 1024 * 1024
    max_steps: int = 10_000
    max_log_chars: int = 65_536
    inline_retry_max: float = 1.0
    map_concurrency: int = 8
    missing_tools_retry: float = 5.0
    default_step_timeout: float = 300.0
    max_run_bytes: int = 64 * 1024 * 1024
    crashed_retry: float = 1.0
    max_unsettled_activations: int = 3


@dataclass
class _Task:
    key: str
    name: str
    call: Callable[[], Any]
    # `fn.call_with_timeout` of a sandbox's tool: the call with its deadline kept by the host,
    # which returns the output as `checkpointable` made it there.
    timed: Callable[[float], Any] | None = None


def _type_name(exc: BaseException) -> str:
    """The error's type as recorded: a tool's own exception type, even across a sandbox."""
    remote = getattr(exc, "remote_type", None)
    return remote if isinstance(remote, str) else type(exc).__name__


def _is_final(exc: BaseException) -> bool:
    return isinstance(exc, FINAL_ERRORS) or getattr(exc, "final", False) is True


def _host_value(value: Any) -> Any:
    """Plain data for the host objects a tool may return (plan code never holds these)."""
    # A pydantic model exists only once pydantic is imported: a sandbox never imports it.
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Event):
        return {"type": value.type, "payload": value.payload, "timestamp": value.timestamp}
    if isinstance(value, RunInput):
        return {"params": value.params, "run_id": value.run_id, "agent_id": value.agent_id}
    return value


def checkpointable(value: Any, limit: int, what: str) -> Any:
    """The JSON form of `value`, as replays will see it; errors name `what`.

    The size is estimated while the value is walked, so a value too big to store is refused
    before anything renders it.
    """
    return sized_checkpointable(value, limit, what)[0]


def sized_checkpointable(value: Any, limit: int, what: str) -> tuple[Any, int]:
    """`checkpointable(value, limit, what)` and the estimate of its JSON size (`plain`'s)."""
    try:
        return plain(value, max_bytes=limit, what=what, convert=_host_value)
    except PlainDataError as exc:
        raise LimitExceeded(f"{exc}; a checkpoint must be JSON-serialisable data") from None


def _error_of(exc: BaseException) -> dict[str, Any]:
    return {"type": _type_name(exc), "message": error_message(exc)}


def _check_text(value: str, what: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} {value!r} is not valid UTF-8 text") from None


class StepContext:
    """The durable step API of one activation of one run (`step` inside plans)."""

    def __init__(
        self,
        *,
        store: Journal,
        run_id: str,
        owner: str,
        records: list[StepRecord],
        limits: RuntimeLimits,
        rebase: bool = False,
        control: str | None = None,
        checkpoint_then: CheckpointThen | None = None,
    ) -> None:
        self._store = store
        # With `checkpoint_then` (the store itself, inline), a step's `complete` record waits
        # for the next attempt's `running` record and both are written in one transaction,
        # before that attempt's tool acts; or with the run's settlement (`take_deferred`).
        self._checkpoint_then = checkpoint_then
        self._deferred: StepWrite | None = None
        self._run_id = run_id
        self._owner = owner
        self._limits = limits
        self._rebase = rebase
        self._control = control
        self._top: dict[int, StepRecord] = {}
        self._children: dict[str, dict[str, StepRecord]] = {}
        for record in records:
            if record.parent_key is None:
                self._top[record.seq] = record
            else:
                self._children.setdefault(record.parent_key, {})[record.key] = record
        self._recorded = len(self._top)
        self._stored = {record.key for record in records}
        self._seq = 0
        self._occurrences: dict[str, int] = {}
        self._scopes: set[StepScope] = set()
        self._overran: list[StepCall] = []
        self._closed = False

    def close(self) -> None:
        """End the activation: attempts still running (timed out) may call no more tools."""
        self._closed = True
        for scope in list(self._scopes):
            scope.expired = True

    @property
    def stray_threads(self) -> bool:
        """Whether an attempt that timed out is still running in a thread of this process."""
        return any(not call.ended.is_set() for call in self._overran)

    def __repr__(self) -> str:
        return f"<step of run {self._run_id}>"

    @property
    def replaying(self) -> bool:
        """True while the plan is still re-asking for steps that were recorded before."""
        return self._seq < self._recorded

    # --- identity and bookkeeping --------------------------------------------------

    def _identify(self, name: Any, kind: str) -> tuple[int, str, int, StepRecord | None]:
        if not isinstance(name, str) or not name or len(name) > 200:
            raise ValueError(
                f"step {kind}: a step's name must be a non-empty text of at most 200 characters, "
                f"not {name!r:.200}"
            )
        _check_text(name, f"step {kind}: the step name")
        occurrence = self._occurrences.get(name, 0)
        self._occurrences[name] = occurrence + 1
        key = f"{name}#{occurrence}"
        seq = self._seq
        self._seq += 1
        if seq >= self._limits.max_steps:
            raise LimitExceeded(
                f"step {name!r} would be step {seq + 1:,} of run {self._run_id}; "
                f"a run may take at most {self._limits.max_steps:,} steps",
                step=name,
                run_id=self._run_id,
            )
        record = self._top.get(seq)
        if record is not None and (record.key != key or record.kind != kind):
            if self._rebase:
                self._truncate(seq)
                return seq, key, occurrence, None
            raise NonDeterminismError(
                f"step {seq + 1} of run {self._run_id}: the plan asked for {kind} {name!r} "
                f"(occurrence {occurrence}) where the run recorded {record.kind} "
                f"{record.name!r} (occurrence {record.occurrence}). On replay a plan must ask for "
                f"the same steps in the same order: base names and branches only on `event`, "
                f"step results and step.now()",
                run_id=self._run_id,
                step=name,
            )
        return seq, key, occurrence, record

    def _truncate(self, seq: int) -> None:
        self._flush()
        self._store.truncate_steps_in_activation(self._owner, self._run_id, seq)
        for dropped in [s for s in self._top if s >= seq]:
            record = self._top.pop(dropped)
            self._stored.discard(record.key)
            self._stored.difference_update(self._children.pop(record.key, {}))
        self._recorded = len(self._top)

    def _before_new_work(self) -> None:
        # Every checkpoint write reads the run's control request back, so this costs no query.
        halted = HALTED_BY.get(self._control) if self._control is not None else None
        if halted is not None:
            raise Suspend(Suspension(halted))

    def _record(
        self, seq: int, key: str, name: str, occurrence: int, kind: str, **fields: Any
    ) -> StepWrite:
        return StepWrite(
            run_id=self._run_id,
            seq=seq,
            key=key,
            name=name,
            occurrence=occurrence,
            kind=kind,
            **fields,
        )

    def _mark_new(self, step: StepWrite, **changes: Any) -> StepWrite:
        """`step` with `changes`, marked with whether the store has its record yet."""
        new = step.key not in self._stored
        self._stored.add(step.key)
        return step.amended(new=new, **changes)

    def _save(self, step: StepWrite, **changes: Any) -> None:
        if self._closed:
            raise RuntimeError("the activation has ended; a stray attempt cannot record steps")
        row = self._mark_new(step, **changes)
        done, self._deferred = self._deferred, None
        if done is None or self._checkpoint_then is None:
            self._flush(done)
            self._control = self._store.save_step(self._owner, row)
            return
        if row.status != StepState.RUNNING:
            self._flush(done)
            self._control = self._store.save_step(self._owner, row)
            return
        # One transaction for the last step's end and this attempt's start; a pending pause or
        # terminate keeps the attempt from being recorded, and from starting.
        self._control = self._checkpoint_then(self._owner, self._run_id, done, [row])
        self._before_new_work()

    def _complete(self, step: StepWrite, **changes: Any) -> None:
        """Record a finished step: at once, or with the next write when the journal can."""
        if self._checkpoint_then is None or self._closed:
            self._save(step, **changes)
            return
        self._flush()
        self._deferred = self._mark_new(step, **changes)

    def _flush(self, done: StepWrite | None = None) -> None:
        """Write a deferred checkpoint on its own (the next write cannot carry it)."""
        if done is None:
            done, self._deferred = self._deferred, None
        if done is not None:
            self._control = self._store.save_step(self._owner, done)

    def take_deferred(self) -> tuple[StepWrite, ...]:
        """The checkpoint not written yet, for the run's settlement to write."""
        done, self._deferred = self._deferred, None
        return (done,) if done is not None else ()

    # --- step.do -----------------------------------------------------------------------

    def do(
        self,
        name: str,
        fn: Callable[..., Any],
        *args: Any,
        retries: Mapping[str, Any] | None = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Run `fn(*args, **kwargs)` once and checkpoint its JSON result; replays return it."""
        seq, key, occurrence, record = self._identify(name, "do")
        if not callable(fn):
            raise TypeError(f"step {name!r}: the second argument must be a tool or a function")
        input_hash = _input_hash(fn, args, kwargs)
        if record is not None and self._rebase and record.input_hash != input_hash:
            self._truncate(seq)
            record = None
        if record is not None and record.status == StepState.COMPLETE:
            return record.output
        if record is not None and record.status == StepState.FAILED:
            raise _step_failed(name, record)
        _hold_until_retry(record)
        policy = RetryPolicy.parse(retries, name)
        limit = self._timeout(timeout, name)
        self._before_new_work()
        attempts = record.attempts if record is not None else 0
        started = record.started_at if record is not None and record.started_at else time.time()
        base = self._record(
            seq, key, name, occurrence, "do", input_hash=input_hash, started_at=started
        )
        if record is not None and record.status == StepState.RUNNING and attempts > policy.limit:
            # Every attempt so far took its worker down (killed, out of memory, ...): stop
            # retrying a step that would crash workers forever.
            lost = WorkerLost(
                f"the worker running step {name!r} stopped during each of its {attempts} attempts"
            )
            self._save(
                base,
                status=StepState.FAILED,
                error=_error_of(lost),
                attempts=attempts,
                ended_at=time.time(),
            )
            raise StepFailed(name, "WorkerLost", str(lost), attempts)
        timed = getattr(fn, "call_with_timeout", None)
        task = _Task(
            key,
            name,
            lambda: fn(*args, **kwargs),
            (lambda seconds: timed(seconds, *args, **kwargs)) if callable(timed) else None,
        )
        while True:
            attempts += 1
            # Recorded before the call, so the timeline shows the step in flight and an attempt
            # cut short by a crash still counts.
            self._save(base, status=StepState.RUNNING, attempts=attempts)
            ok, value = self._attempt(task, limit)
            now = time.time()
            if ok:
                self._complete(
                    base, status=StepState.COMPLETE, output=value, attempts=attempts, ended_at=now
                )
                return value
            final = _is_final(value) or attempts > policy.limit
            if final:
                failed = base.amended(
                    status=StepState.FAILED,
                    error=_error_of(value),
                    attempts=attempts,
                    ended_at=now,
                )
                self._save(failed)
                raise StepFailed(name, _type_name(value), error_message(value), attempts)
            delay = policy.delay_before(attempts)
            wake = now + delay
            self._save(
                base,
                status=StepState.RETRYING,
                error=_error_of(value),
                attempts=attempts,
                wake_at=wake,
            )
            if delay > self._limits.inline_retry_max:
                raise Suspend(Suspension(RunState.SLEEPING, wake_at=wake))
            time.sleep(delay)

    def _timeout(self, timeout: Any, name: str) -> float:
        if timeout is None:
            return self._limits.default_step_timeout
        return float(_read(parse_duration, timeout, name))

    def _attempt(self, task: _Task, timeout: float | None) -> tuple[bool, Any]:
        """Run one attempt; (True, JSON output) or (False, the exception)."""
        scope = StepScope(task.key)
        self._scopes.add(scope)

        def invoke() -> Any:
            with inside_step(scope):
                return task.call()

        try:
            if timeout is None:
                value = invoke()
            elif task.timed is not None:
                # A sandbox's tool: the host keeps its deadline, and checked its output as below
                # (same limits) before it crossed the channel as JSON: plain data already.
                with inside_step(scope):
                    return True, task.timed(timeout)
            else:
                value = _call_with_timeout(invoke, timeout, task.name, scope, self._overran)
            return True, checkpointable(
                value, self._limits.max_output_bytes, f"the output of step {task.name!r}"
            )
        except Exception as exc:
            return False, exc
        except SystemExit as exc:
            # A tool that calls exit() fails its step; it must not take the worker down.
            return False, RuntimeError(f"step {task.name!r} called exit({exc.code!r})")
        finally:
            self._scopes.discard(scope)

    # --- sleeping and waiting ----------------------------------------------------------

    def sleep(self, name: str, duration: Any) -> None:
        """Sleep durably for a duration: seconds, `"30 seconds"`, `"1 day"`, a timedelta."""
        seconds = _read(parse_duration, duration, name)
        self._sleep(name, "sleep", lambda now: now + seconds)

    def sleep_until(self, name: str, when: Any) -> None:
        """Sleep durably until an ISO-8601 time, a datetime or epoch seconds."""
        moment = _read(parse_instant, when, name).timestamp()
        self._sleep(name, "sleep_until", lambda _now: moment)

    def _sleep(self, name: str, kind: str, wake_time: Callable[[float], float]) -> None:
        seq, key, occurrence, record = self._identify(name, kind)
        if record is not None and record.status == StepState.COMPLETE:
            return
        now = time.time()
        if record is None:
            self._before_new_work()
            wake = wake_time(now)
            record_fields = self._record(
                seq, key, name, occurrence, kind, started_at=now, attempts=1, wake_at=wake
            )
        else:
            wake = record.wake_at or now
            record_fields = self._record(
                seq,
                key,
                name,
                occurrence,
                kind,
                started_at=record.started_at,
                attempts=1,
                wake_at=wake,
            )
        if _waited_out(wake):
            # Ending a sleep twice ends it the same way: it may ride with the next write.
            self._complete(record_fields, status=StepState.COMPLETE, ended_at=time.time())
            return
        if record is None:
            self._save(record_fields, status=StepState.SLEEPING)
        raise Suspend(Suspension(RunState.SLEEPING, wake_at=wake))

    def wait_for_event(self, name: str, type: str, timeout: Any = "24 hours") -> Event:
        """Suspend until an event of `type` arrives; raise WaitTimeout after `timeout`."""
        if not isinstance(type, str) or not type or len(type) > 256:
            raise ValueError(
                f"step {name!r}: the event type must be a non-empty text of at most 256 characters"
            )
        _check_text(type, f"step {name!r}: the event type")
        seconds = _read(parse_duration, timeout, name)
        seq, key, occurrence, record = self._identify(name, "wait_for_event")
        if record is not None and record.status == StepState.COMPLETE:
            return _event_of(record.output)
        if record is not None and record.status == StepState.TIMED_OUT:
            raise WaitTimeout(name, type, seconds)
        now = time.time()
        if record is None:
            self._before_new_work()
            deadline = now + seconds
            started = now
        else:
            deadline = record.wake_at or now
            started = record.started_at or now
        fields = self._record(
            seq,
            key,
            name,
            occurrence,
            "wait_for_event",
            started_at=started,
            attempts=1,
            wake_at=deadline,
        )
        done = replace(fields, status=StepState.COMPLETE, ended_at=now)
        self._flush()
        taken = self._store.take_event(
            self._owner, self._run_id, type, replace(done, new=record is None)
        )
        if taken is not None:
            return Event(
                type=taken.type,
                payload=taken.payload,
                timestamp=datetime.fromtimestamp(taken.created_at, tz=UTC),
            )
        if now >= deadline:
            self._save(
                fields,
                status=StepState.TIMED_OUT,
                ended_at=now,
                error={"type": "WaitTimeout", "message": f"no {type!r} event came"},
            )
            raise WaitTimeout(name, type, seconds)
        if record is None:
            self._save(fields, status=StepState.WAITING)
        raise Suspend(Suspension(RunState.WAITING, wake_at=deadline, waiting_for=type))

    # --- now ---------------------------------------------------------------------------

    def now(self) -> datetime:
        """The current time, recorded so that replays see the same value."""
        seq, key, occurrence, record = self._identify("now", "now")
        if record is not None and record.status == StepState.COMPLETE:
            return datetime.fromtimestamp(record.output, tz=UTC)
        moment = time.time()
        self._save(
            self._record(
                seq,
                key,
                "now",
                occurrence,
                "now",
                status=StepState.COMPLETE,
                output=moment,
                attempts=1,
                started_at=moment,
                ended_at=moment,
            )
        )
        return datetime.fromtimestamp(moment, tz=UTC)

    # --- fan-out -----------------------------------------------------------------------

    def map(
        self,
        name: str,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        retries: Mapping[str, Any] | None = None,
        timeout: Any = None,
    ) -> list[Any]:
        """Call `fn(item)` for every item concurrently, each child checkpointed on its own."""
        seq, key, occurrence, record = self._identify(name, "map")
        values = list(items)
        tasks = [
            _Task(f"{key}[{i}]", f"{name}[{i}]", functools.partial(fn, item))
            for i, item in enumerate(values)
        ]
        outputs = self._fan_out(seq, key, name, occurrence, "map", record, tasks, retries, timeout)
        return [outputs[task.key] for task in tasks]

    def parallel(
        self,
        name: str,
        branches: Mapping[str, Callable[[], Any]],
        *,
        retries: Mapping[str, Any] | None = None,
        timeout: Any = None,
    ) -> dict[str, Any]:
        """Run each branch function concurrently; returns `{branch: result}`."""
        seq, key, occurrence, record = self._identify(name, "parallel")
        tasks = [
            _Task(f"{key}[{branch}]", f"{name}[{branch}]", branch_fn)
            for branch, branch_fn in dict(branches).items()
        ]
        outputs = self._fan_out(
            seq, key, name, occurrence, "parallel", record, tasks, retries, timeout
        )
        return {branch: outputs[task.key] for branch, task in zip(branches, tasks, strict=True)}

    def _fan_out(  # noqa: C901 - one fan-out's replay, recording and retries, read as one
        self,
        seq: int,
        key: str,
        name: str,
        occurrence: int,
        kind: str,
        record: StepRecord | None,
        tasks: list[_Task],
        retries: Any,
        timeout: Any,
    ) -> dict[str, Any]:
        if record is not None and record.status == StepState.COMPLETE:
            return dict(zip([t.key for t in tasks], _outputs_in_order(record.output), strict=False))
        if record is not None and record.status == StepState.FAILED:
            raise _step_failed(name, record)
        _hold_until_retry(record)
        if seq + len(tasks) > self._limits.max_steps:
            raise LimitExceeded(
                f"step {name!r} fans out to {len(tasks):,} children; a run may take at most "
                f"{self._limits.max_steps:,} steps",
                step=name,
                run_id=self._run_id,
            )
        policy = RetryPolicy.parse(retries, name)
        limit = self._timeout(timeout, name)
        children = self._children.get(key, {})
        if record is None or any(c.status != StepState.COMPLETE for c in children.values()):
            self._before_new_work()
        started = record.started_at if record is not None and record.started_at else time.time()
        group = self._record(seq, key, name, occurrence, kind, started_at=started)
        if record is None:
            self._save(group, status=StepState.RUNNING, attempts=1)
        outputs: dict[str, Any] = {}
        attempts: dict[str, int] = {}
        pending: list[_Task] = []
        for task in tasks:
            child = children.get(task.key)
            attempts[task.key] = child.attempts if child is not None else 0
            if child is not None and child.status == StepState.COMPLETE:
                outputs[task.key] = child.output
            elif child is not None and child.status == StepState.FAILED:
                self._save(
                    group,
                    status=StepState.FAILED,
                    error=child.error,
                    attempts=1,
                    ended_at=time.time(),
                )
                raise _step_failed(task.name, child)
            else:
                pending.append(task)

        def child_record(task: _Task) -> StepWrite:
            return self._record(
                seq,
                task.key,
                task.name,
                occurrence,
                f"{kind}_child",
                parent_key=key,
                attempts=attempts[task.key],
                started_at=started,
            )

        while pending:
            for task in pending:
                attempts[task.key] += 1
            running = [child_record(task) for task in pending]
            self._flush()
            self._control = self._store.save_steps(
                self._owner, self._run_id, [self._mark_new(row) for row in running]
            )
            results = self._run_concurrently(pending, limit)
            now = time.time()
            rows, retry_at, failure = [], [], None
            for task, (ok, value) in zip(pending, results, strict=True):
                child_row = child_record(task)
                if ok:
                    outputs[task.key] = value
                    rows.append(
                        replace(child_row, status=StepState.COMPLETE, output=value, ended_at=now)
                    )
                elif _is_final(value) or attempts[task.key] > policy.limit:
                    rows.append(
                        replace(
                            child_row, status=StepState.FAILED, error=_error_of(value), ended_at=now
                        )
                    )
                    failure = failure or (task, value)
                else:
                    wake = now + policy.delay_before(attempts[task.key])
                    retry_at.append(wake)
                    rows.append(
                        replace(
                            child_row,
                            status=StepState.RETRYING,
                            error=_error_of(value),
                            wake_at=wake,
                        )
                    )
            self._flush()
            self._control = self._store.save_steps(
                self._owner, self._run_id, [self._mark_new(row) for row in rows]
            )
            if failure is not None:
                task, exc = failure
                self._save(
                    group, status=StepState.FAILED, error=_error_of(exc), attempts=1, ended_at=now
                )
                raise StepFailed(task.name, _type_name(exc), error_message(exc), attempts[task.key])
            pending = [t for t, (ok, _v) in zip(pending, results, strict=True) if not ok]
            if pending:
                wake = min(retry_at)
                if wake - now > self._limits.inline_retry_max:
                    self._save(group, status=StepState.RETRYING, wake_at=wake, attempts=1)
                    raise Suspend(Suspension(RunState.SLEEPING, wake_at=wake))
                time.sleep(max(0.0, wake - now))
        ordered = [outputs[t.key] for t in tasks]
        self._save(
            group, status=StepState.COMPLETE, output=ordered, attempts=1, ended_at=time.time()
        )
        return outputs

    def _run_concurrently(
        self, tasks: list[_Task], timeout: float | None
    ) -> list[tuple[bool, Any]]:
        if len(tasks) == 1:
            return [self._attempt(tasks[0], timeout)]
        workers = min(self._limits.map_concurrency, len(tasks))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agentflow-map") as pool:
            futures = [pool.submit(self._attempt, task, timeout) for task in tasks]
            return [future.result() for future in futures]


def _outputs_in_order(output: Any) -> list[Any]:
    return list(output) if isinstance(output, list) else []


def _hold_until_retry(record: StepRecord | None) -> None:
    """A run woken before its retry delay is over (an event, a resume) goes back to sleep."""
    if (
        record is not None
        and record.status == StepState.RETRYING
        and record.wake_at is not None
        and not _waited_out(record.wake_at)
    ):
        raise Suspend(Suspension(RunState.SLEEPING, wake_at=record.wake_at))


def _waited_out(wake: float) -> bool:
    """Whether `wake` has come, after waiting for it here if it is at most WAKE_LEAD away."""
    left = wake - time.time()
    if left > WAKE_LEAD:
        return False
    if left > 0:
        time.sleep(left)
    return True


def _step_failed(name: str, record: StepRecord) -> StepFailed:
    error = record.error or {}
    return StepFailed(
        name, error.get("type", "Error"), error.get("message", ""), max(record.attempts, 1)
    )


def _event_of(output: dict[str, Any]) -> Event:
    return Event(
        type=output["type"],
        payload=output.get("payload"),
        timestamp=datetime.fromtimestamp(output["timestamp"], tz=UTC),
    )


def _read(parse: Callable[[Any], Any], value: Any, step: str) -> Any:
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(f"step {step!r}: {exc}") from None


def _input_hash(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    tool_name = getattr(fn, "tool_name", None)
    target = tool_name if isinstance(tool_name, str) else getattr(fn, "__qualname__", repr(fn))
    text = _INPUT_ENCODER.encode([target, args, kwargs])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _call_with_timeout(
    invoke: Callable[[], Any],
    timeout: float,
    name: str,
    scope: StepScope,
    overran: list[StepCall],
) -> Any:
    call = STEP_THREADS.start(invoke)
    if not call.ended.wait(timeout):
        # The thread cannot be stopped; it can be kept from calling any more tools.
        scope.expired = True
        overran.append(call)
        raise StepTimeout(name, timeout)
    if call.error is not None:
        raise call.error
    return call.value
