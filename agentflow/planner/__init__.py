"""The planner: a model writes a plan for a goal, the compiler checks it, the store keeps it.

`plan_and_run(goal, agent=..., params=...)` is the entry point for agent frameworks; `plan` only
plans, and `repair` writes a new version of a failed run's plan and continues the run on it.
Models are reached through litellm (imported lazily, only here); with no model configured, the
recorded replies of the cookbook goals are replayed, and the result says so.
"""

from agentflow.planner.api import (
    PlanAndRunResult,
    default_engine,
    plan,
    plan_and_run,
    plan_and_run_async,
    plan_async,
    repair,
    repair_async,
    set_default_engine,
)
from agentflow.planner.catalogue import CatalogueEntry, ToolCatalogue, build_catalogue
from agentflow.planner.extraction import extract_code
from agentflow.planner.goals import goal_key, normalise_goal
from agentflow.planner.model import (
    MODEL_ENV,
    LiteLLMModel,
    ModelReply,
    PlannerModel,
    RecordedModel,
    configured_model,
)
from agentflow.planner.planner import GeneratedPlan
from agentflow.planner.prompts import PROMPTS_DIR_ENV, PromptTemplates, prompt_hash

__all__ = [
    "MODEL_ENV",
    "PROMPTS_DIR_ENV",
    "CatalogueEntry",
    "GeneratedPlan",
    "LiteLLMModel",
    "ModelReply",
    "PlanAndRunResult",
    "PlannerModel",
    "PromptTemplates",
    "RecordedModel",
    "ToolCatalogue",
    "build_catalogue",
    "configured_model",
    "default_engine",
    "extract_code",
    "goal_key",
    "normalise_goal",
    "plan",
    "plan_and_run",
    "plan_and_run_async",
    "plan_async",
    "prompt_hash",
    "repair",
    "repair_async",
    "set_default_engine",
]
