"""The restricted plan compiler: validate, summarise and run agent-written plans.

```python
from agentflow.plan import compile_plan

plan = compile_plan(source, tools={"send_email": send_email})
plan.summary.risk            # "low" / "medium" / "high", with plan.summary.risk_reasons
plan.execute(event, step, tools={"send_email": send_email})
```

Public names resolve on first use: a sandbox process imports the modules that run plans
(`agentflow.plan.runnable` and what it needs), never the checker or the pydantic models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentflow.lazy import exports

if TYPE_CHECKING:
    from agentflow.models import PlanSummary, StepSummary, ToolUse
    from agentflow.plan.cache import PlanCache, load_plan
    from agentflow.plan.catalogue import ToolSpec
    from agentflow.plan.compiler import CompiledPlan, compile_plan
    from agentflow.plan.limits import PlanLimits
    from agentflow.plan.policy import DEFAULT_POLICY, PlanPolicy, plan_rules

_EXPORTS: dict[str, str] = {
    "DEFAULT_POLICY": "agentflow.plan.policy",
    "CompiledPlan": "agentflow.plan.compiler",
    "PlanCache": "agentflow.plan.cache",
    "PlanLimits": "agentflow.plan.limits",
    "PlanPolicy": "agentflow.plan.policy",
    "PlanSummary": "agentflow.models",
    "StepSummary": "agentflow.models",
    "ToolSpec": "agentflow.plan.catalogue",
    "ToolUse": "agentflow.models",
    "compile_plan": "agentflow.plan.compiler",
    "load_plan": "agentflow.plan.cache",
    "plan_rules": "agentflow.plan.policy",
}


__getattr__ = exports(globals(), __name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "DEFAULT_POLICY",
    "CompiledPlan",
    "PlanCache",
    "PlanLimits",
    "PlanPolicy",
    "PlanSummary",
    "StepSummary",
    "ToolSpec",
    "ToolUse",
    "compile_plan",
    "load_plan",
    "plan_rules",
]
