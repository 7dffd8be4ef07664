"""The error families, the executor's signals, and the review app's status for each error."""

from __future__ import annotations

import pytest

from agentflow import errors
from agentflow.errors import (
    AgentflowError,
    ExecutorSignal,
    InvalidRunId,
    LeaseLost,
    LimitExceeded,
    PlanAlreadyDecided,
    PlanSignal,
    RunError,
    RunStateError,
    UsageError,
)
from agentflow.review.statuses import http_status
from agentflow.runtime.signals import Suspend, Suspension

USAGE = (
    "PlanValidationError",
    "ToolNotAllowed",
    "ToolArgumentsError",
    "ConfigurationError",
    "NotFound",
    "AmbiguousRunId",
    "PlanNotApproved",
    "LimitExceeded",
    "InvalidRunId",
    "RunStateError",
    "PlanAlreadyDecided",
    "MissingReviewer",
    "DuplicateApproval",
)
RUN = (
    "RunFailed",
    "RunTimeout",
    "NonDeterminismError",
    "WaitTimeout",
    "StepTimeout",
    "StepFailed",
    "WorkerLost",
    "PlanBudgetExceeded",
    "PlanningFailed",
    "ModelUnavailable",
)
FAMILIES = (UsageError, RunError, PlanSignal)


def error_classes() -> list[type[BaseException]]:
    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == errors.__name__
    ]


@pytest.mark.parametrize(
    ("names", "family"),
    [(USAGE, UsageError), (RUN, RunError), (("NonRetryableError",), PlanSignal)],
)
def test_each_error_belongs_to_its_family(names, family):
    for name in names:
        assert issubclass(getattr(errors, name), family), name


def test_every_error_is_in_exactly_one_family_or_is_an_executor_signal():
    for cls in error_classes():
        if cls in (AgentflowError, *FAMILIES, ExecutorSignal):
            continue
        if issubclass(cls, ExecutorSignal):
            assert not issubclass(cls, Exception), cls
            continue
        assert sum(issubclass(cls, family) for family in FAMILIES) == 1, cls


def test_a_malformed_run_id_is_an_invalid_run_id_and_still_a_limit_exceeded():
    error = InvalidRunId("bad id!")
    assert isinstance(error, UsageError) and isinstance(error, LimitExceeded)
    assert error.run_id == "bad id!"
    assert "must be 1-128 letters" in str(error)


def test_a_decided_plan_is_plan_already_decided_and_still_a_run_state_error():
    error = PlanAlreadyDecided(7, "approved", "dana")
    assert isinstance(error, UsageError) and isinstance(error, RunStateError)
    assert (error.plan_id, error.status, error.decided_by) == (7, "approved", "dana")
    assert str(error).startswith("plan version 7 is already approved by dana; a decision is final")


def test_an_agent_refuses_a_malformed_run_id_with_invalid_run_id(engine):
    agent = engine.agent("acme", review="auto")
    agent.submit_plan("def run(event, step):\n    return 1\n")
    with pytest.raises(InvalidRunId, match="run id 'no spaces please'"):
        agent.start({}, run_id="no spaces please")


@pytest.mark.parametrize(
    "signal", [LeaseLost("run-1"), Suspend(Suspension("sleeping")), errors.BudgetSignal("x", 3)]
)
def test_an_executor_signal_says_what_it_means_if_someone_sees_it(signal):
    assert isinstance(signal, ExecutorSignal) and not isinstance(signal, Exception)
    text = str(signal)
    assert text.startswith(f"{type(signal).__name__}(")
    assert "a bare `except:` or `except BaseException:` swallowed it" in text


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.NotFound("no plan 9"), 404),
        (PlanAlreadyDecided(1, "rejected"), 409),
        (RunStateError("run r is complete"), 409),
        (errors.PlanNotApproved(1, "pending"), 409),
        (errors.MissingReviewer(), 400),
        (errors.DuplicateApproval(1, "dana", 1, 2), 409),
        (InvalidRunId("x y"), 400),
        (errors.ModelUnavailable("no key"), 422),
        (errors.RunFailed("r", "errored", None), 500),
        (ValueError("not ours"), 500),
    ],
)
def test_the_review_app_answers_each_error_with_the_status_of_its_nearest_class(error, status):
    assert http_status(error) == status
