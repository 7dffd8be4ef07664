"""The sandbox channel's compact forms: step records as rows of values, sizes in one call."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import threading
from types import SimpleNamespace

import pytest

from agentflow.checkpoints import STEP_WRITE_FIELDS, StepRecord, StepWrite, write_row
from agentflow.errors import ChannelClosed, SandboxViolation
from agentflow.runtime.activation import RunIdentity
from agentflow.runtime.sandbox.channel import MAX_CHANNEL_BYTES, Channel, journal_row
from agentflow.runtime.sandbox.child import _record
from agentflow.runtime.sandbox.host import _outputs_size, _Session
from agentflow.runtime.sandbox.pool import SandboxSettings
from agentflow.runtime.step_api import RuntimeLimits

OUTPUTS = [None, 0, -1.5, "", "é\u2028\ud7ff", [1, [2, {"k": None}]], {"a": "b", "c": [True]}]


def _stored(seq: int, output: object) -> StepRecord:
    return StepRecord(
        id=seq + 1,
        run_id="run_1",
        seq=seq,
        key=f"s#{seq}",
        name="s",
        occurrence=seq,
        kind="do",
        parent_key=None,
        status="complete",
        output=output,
        error=None,
        attempts=1,
        input_hash="abc",
        started_at=1.5,
        ended_at=2.25,
        wake_at=None,
    )


def test_a_journal_row_crosses_the_channel_back_into_the_same_record():
    for seq, output in enumerate(OUTPUTS):
        record = _stored(seq, output)
        assert _record(json.loads(json.dumps(journal_row(record)))) == record


@pytest.mark.parametrize("row", [None, {"id": 1}, [1, 2, 3], list(range(17))])
def test_a_journal_row_of_another_shape_is_refused(row):
    with pytest.raises(ValueError, match="wrong shape"):
        _record(row)


def test_a_step_write_is_sent_as_its_values_in_field_order():
    step = StepWrite("run_1", 3, "s#3", "s", 0, "do", output={"x": 1}, started_at=1.0, new=True)
    row = json.loads(json.dumps(write_row(step)))
    assert dict(zip(STEP_WRITE_FIELDS, row, strict=True)) == dataclasses.asdict(step)


@pytest.mark.parametrize("count", [0, 1, 2, len(OUTPUTS)])
def test_the_journal_size_is_the_sum_of_each_output_encoded_alone(count):
    records = [_stored(seq, output) for seq, output in enumerate(OUTPUTS[:count])]
    assert _outputs_size(records) == sum(len(json.dumps(r.output)) for r in records)


@pytest.mark.parametrize("timeout", [None, 0.5])
def test_a_message_bigger_than_the_socket_buffer_arrives_whole(timeout):
    ours, theirs = socket.socketpair()
    ours.settimeout(timeout)
    sender, receiver = Channel(ours, MAX_CHANNEL_BYTES), Channel(theirs, MAX_CHANNEL_BYTES)
    message = {"op": "activate", "records": ["x" * 1000] * 4000}
    got: list[dict[str, object] | None] = []
    reader = threading.Thread(target=lambda: got.append(receiver.receive(timeout=10)))
    reader.start()
    sender.send(message)
    reader.join(10)
    assert got == [message]
    sender.close()
    receiver.close()


def test_sending_on_a_closed_channel_says_it_is_closed():
    ours, theirs = socket.socketpair()
    ours.settimeout(0.5)
    channel = Channel(ours, MAX_CHANNEL_BYTES)
    theirs.close()
    with pytest.raises(ChannelClosed):
        channel.send({"op": "reply", "id": 1})
    channel.close()
    with pytest.raises(ChannelClosed):
        channel.send({"op": "reply", "id": 2})


def _session() -> _Session:
    """A host session with only what checking a step record needs."""
    runner = SimpleNamespace(pool=SimpleNamespace(settings=SandboxSettings()))
    sandbox = SimpleNamespace(channel=None)
    run = RunIdentity(key="run_key", run_id="run_1", agent_id="a", params={}, created_at=1.0)
    return _Session(runner, sandbox, None, "owner", run, {}, RuntimeLimits())  # type: ignore[arg-type]


def _row(**changes: object) -> list[object]:
    """A record as it arrives: text where the sandbox's record has a StepState."""
    step = StepWrite("another_run", 3, "s#0", "s", 0, "do", attempts=1, started_at=1.5, new=True)
    return list(write_row(step.amended(**{"status": "running", **changes})))


def test_the_host_unpacks_a_step_record_in_field_order():
    unpacked = (
        *("run_id", "seq", "key", "name", "occurrence", "kind", "status", "parent_key"),
        *("output", "error", "attempts", "input_hash", "started_at", "ended_at", "wake_at"),
        "new",
    )
    assert unpacked == STEP_WRITE_FIELDS


def test_a_step_record_from_a_sandbox_is_checked_and_bound_to_its_run():
    session = _session()
    step = session._clean_record(_row(status="complete", output={"n": (1, 2)}, ended_at=2.0))
    assert step == StepWrite(
        "run_key",
        3,
        "s#0",
        "s",
        0,
        "do",
        status="complete",
        output={"n": [1, 2]},
        attempts=1,
        started_at=1.5,
        ended_at=2.0,
        new=True,
    )
    assert session.stored_bytes > 0
    assert session._clean_record(_row(new=1)).new is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seq", -1),
        ("seq", "3"),
        ("seq", 20_001),
        ("occurrence", True),
        ("attempts", 1_000_001),
        ("key", ""),
        ("key", "k" * 601),
        ("name", "n" * 201),
        ("name", None),
        ("kind", "shell"),
        ("status", "done"),
        ("parent_key", 5),
        ("input_hash", "h" * 601),
        ("started_at", "now"),
        ("ended_at", float("nan")),
        ("wake_at", True),
    ],
)
def test_a_step_record_with_an_impossible_field_is_a_violation(field, value):
    with pytest.raises(SandboxViolation, match=f"a step record's {field} is not"):
        _session()._clean_record(_row(**{field: value}))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"wake_at": -1.0}, "wake_at of step 's' is out of range"),
        ({"started_at": 1e12}, "started_at of step 's' is out of range"),
        ({"output": {"x": object()}}, "the output of step 's'"),
        ({"error": {"type": object()}}, "a step's error"),
    ],
)
def test_a_step_record_with_a_bad_value_is_refused(changes, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        _session()._clean_record(_row(**changes))


@pytest.mark.parametrize("row", [None, {"seq": 1}, list(range(15)), list(range(17))])
def test_a_step_record_of_another_shape_is_a_violation(row):
    with pytest.raises(SandboxViolation, match="wrong shape"):
        _session()._clean_record(row)
