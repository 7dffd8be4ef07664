"""The public surface is deliberate: changing it means changing this test."""

import agentflow

EXPECTED = {
    "Agent",
    "AgentChange",
    "AgentflowError",
    "AmbiguousRunId",
    "CompiledPlan",
    "ConfigurationError",
    "Diagnostic",
    "Engine",
    "Event",
    "HistoryEntry",
    "LimitExceeded",
    "ModelUnavailable",
    "NonDeterminismError",
    "NonRetryableError",
    "NotFound",
    "PlanAndRunResult",
    "PlanBudgetExceeded",
    "PlanLimits",
    "PlanNotApproved",
    "PlanSummary",
    "PlanValidationError",
    "PlanVersion",
    "PlanningFailed",
    "Run",
    "RunEvent",
    "RunFailed",
    "SandboxSettings",
    "RunStateError",
    "RunStatus",
    "RunTimeout",
    "RuntimeLimits",
    "StepFailed",
    "StepStatus",
    "StepTimeout",
    "ToolNotAllowed",
    "WaitTimeout",
    "InvalidRunId",
    "PlanAlreadyDecided",
    "DuplicateApproval",
    "PlanSignal",
    "RunError",
    "UsageError",
    "__version__",
    "compile_plan",
    "plan",
    "plan_and_run",
    "plan_and_run_async",
    "plan_async",
    "repair",
    "repair_async",
}


def test_public_names_are_frozen():
    assert set(agentflow.__all__) == EXPECTED
    for name in agentflow.__all__:
        assert getattr(agentflow, name) is not None


def test_errors_form_three_families():
    from agentflow import errors

    for name in (
        "PlanValidationError",
        "ToolNotAllowed",
        "RunFailed",
        "NonDeterminismError",
        "WaitTimeout",
        "StepTimeout",
        "NonRetryableError",
        "PlanBudgetExceeded",
    ):
        assert issubclass(getattr(errors, name), errors.AgentflowError)


def test_the_suspension_signal_is_not_an_exception():
    from agentflow.runtime.signals import Suspend
    from agentflow.store import LeaseLost

    assert not issubclass(Suspend, Exception)
    assert not issubclass(LeaseLost, Exception)


def test_plan_is_the_compiler_package_and_the_planner_function_lives_in_the_planner():
    import agentflow.plan
    import agentflow.planner

    assert not callable(agentflow.plan)
    assert agentflow.plan.compile_plan is agentflow.compile_plan
    assert callable(agentflow.planner.plan)
    assert agentflow.plan_and_run is agentflow.planner.plan_and_run


def test_step_records_mirror_the_steps_table():
    import dataclasses

    from agentflow.store.tables import StepRecord, StepRow

    columns = {column.name for column in StepRow.__table__.columns}
    assert columns == {field.name for field in dataclasses.fields(StepRecord)}
