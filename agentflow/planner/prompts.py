"""Prompt templates: Jinja2 files shipped in `agentflow.prompts`, overridable from a directory."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from agentflow.cookbook import RECIPES
from agentflow.diagnostics import Diagnostic
from agentflow.plan import plan_rules
from agentflow.planner.catalogue import ToolCatalogue
from agentflow.planner.model import Message

#: The environment variable naming a directory whose templates replace the shipped ones.
PROMPTS_DIR_ENV = "AGENTFLOW_PROMPTS_DIR"

#: The cookbook recipes shown to the model as examples.
EXAMPLE_RECIPES: tuple[str, ...] = ("order_followup", "research_digest")

_PACKAGE = "agentflow.prompts"


def _packaged_template(name: str) -> str | None:
    resource = resources.files(_PACKAGE).joinpath(name)
    return resource.read_text(encoding="utf-8") if resource.is_file() else None


@lru_cache(maxsize=16)
def _environment(directory: str | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if directory:
        loaders.append(jinja2.FileSystemLoader(directory))
    loaders.append(jinja2.FunctionLoader(_packaged_template))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


@lru_cache(maxsize=1)
def _examples() -> tuple[dict[str, str], ...]:
    return tuple(
        {"name": name, "goal": RECIPES[name].goal, "source": RECIPES[name].source}
        for name in EXAMPLE_RECIPES
    )


def prompt_hash(messages: Sequence[Message]) -> str:
    """The SHA-256 (hex) of a conversation, as sent to the model."""
    data = json.dumps([[m["role"], m["content"]] for m in messages], separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


class PromptTemplates:
    """Renders the planner's prompts.

    Templates come from the `agentflow.prompts` package; a file of the same name in `directory`
    (default: `AGENTFLOW_PROMPTS_DIR`) replaces the shipped one.

    Args:
        directory: a folder of `*.j2` overrides.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        chosen = directory if directory is not None else os.environ.get(PROMPTS_DIR_ENV)
        self.directory = str(chosen) if chosen else None
        self.environment = _environment(self.directory)

    def render(self, name: str, **context: Any) -> str:
        """Render one template by file name, e.g. `system.j2`."""
        return self.environment.get_template(name).render(**context)

    def system(self, catalogue: ToolCatalogue) -> str:
        """The system prompt: the plan language, the step API, the rules, tools and examples."""
        return self.render(
            "system.j2",
            tools=catalogue.entries,
            rules=plan_rules(),
            examples=_examples(),
        )

    def plan_messages(
        self, catalogue: ToolCatalogue, goal: str, params: Mapping[str, Any] | None = None
    ) -> list[Message]:
        """The conversation that asks for a plan for a goal."""
        request = self.render("plan_request.j2", goal=goal.strip(), params=params or {})
        return [
            {"role": "system", "content": self.system(catalogue)},
            {"role": "user", "content": request},
        ]

    def fix_message(self, diagnostics: Sequence[Diagnostic]) -> Message:
        """The follow-up that sends a rejected plan's diagnostics back."""
        return {
            "role": "user",
            "content": self.render("fix_diagnostics.j2", diagnostics=list(diagnostics)),
        }

    def repair_messages(
        self,
        catalogue: ToolCatalogue,
        *,
        goal: str | None,
        version: int,
        source: str,
        error: Mapping[str, Any],
        steps: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any] | None = None,
    ) -> list[Message]:
        """The conversation that asks for a new version of a plan whose run failed."""
        request = self.render(
            "repair.j2",
            goal=goal,
            version=version,
            source=source,
            error=dict(error),
            steps=list(steps),
            params=params or {},
        )
        return [
            {"role": "system", "content": self.system(catalogue)},
            {"role": "user", "content": request},
        ]
