"""`StepWrite.amended`: the step API's copy of a write with some fields changed."""

from __future__ import annotations

import dataclasses

import pytest

from agentflow.checkpoints import StepWrite
from agentflow.models import StepState

RUNNING = StepWrite(
    run_id="r1",
    seq=3,
    key="fetch#0",
    name="fetch",
    occurrence=0,
    kind="do",
    attempts=1,
    input_hash="abc",
    started_at=10.0,
    new=True,
)


def test_amended_equals_dataclasses_replace():
    changes = {"status": StepState.COMPLETE, "output": {"rows": [1, 2]}, "ended_at": 11.5}
    assert RUNNING.amended(new=False, **changes) == dataclasses.replace(
        RUNNING, new=False, **changes
    )


def test_amended_leaves_the_original_as_it_was():
    RUNNING.amended(status=StepState.FAILED, error={"type": "X", "message": "m"})
    assert RUNNING.status == StepState.RUNNING
    assert RUNNING.error is None


def test_amended_refuses_a_field_a_step_write_does_not_have():
    with pytest.raises(TypeError, match="no field 'outcome'"):
        RUNNING.amended(outcome=1)
