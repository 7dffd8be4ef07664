"""The restricted plan compiler: validate, summarise and run agent-written plans.

```python
from agentflow.plan import compile_plan

plan = compile_plan(source, tools={"send_email": send_email})
plan.summary.risk            # "low" / "medium" / "high", with plan.summary.risk_reasons
plan.execute(event, step, tools={"send_email": send_email})
```
"""

import sys
import types
from typing import Any

from agentflow.plan.budget import PlanLimits
from agentflow.plan.cache import PlanCache, load_plan
from agentflow.plan.catalogue import ToolSpec
from agentflow.plan.compiler import CompiledPlan, compile_plan
from agentflow.plan.policy import plan_rules
from agentflow.plan.summary import PlanSummary, StepSummary, ToolUse

__all__ = [
    "CompiledPlan",
    "PlanCache",
    "PlanLimits",
    "PlanSummary",
    "StepSummary",
    "ToolSpec",
    "ToolUse",
    "compile_plan",
    "load_plan",
    "plan_rules",
]


class _CallablePlanPackage(types.ModuleType):
    """`agentflow.plan` is this compiler package *and* the planner's `plan(goal, agent=...)`.

    Python binds the subpackage to the name `agentflow.plan` once it is imported, which would
    hide the planner function of the same name; calling the package forwards to it instead.
    """

    def __call__(self, goal: str, agent: Any, **options: Any) -> Any:
        from agentflow.planner import plan

        return plan(goal, agent, **options)


sys.modules[__name__].__class__ = _CallablePlanPackage
