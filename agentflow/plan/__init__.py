"""The restricted plan compiler: validate, summarise and run agent-written plans.

```python
from agentflow.plan import compile_plan

plan = compile_plan(source, tools={"send_email": send_email})
plan.summary.risk            # "low" / "medium" / "high", with plan.summary.risk_reasons
plan.execute(event, step, tools={"send_email": send_email})
```
"""

from agentflow.models import PlanSummary, StepSummary, ToolUse
from agentflow.plan.budget import PlanLimits
from agentflow.plan.cache import PlanCache, load_plan
from agentflow.plan.catalogue import ToolSpec
from agentflow.plan.compiler import CompiledPlan, compile_plan
from agentflow.plan.policy import DEFAULT_POLICY, PlanPolicy, plan_rules

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
