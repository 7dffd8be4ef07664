"""Snapshots of the rendered prompts, and template overrides.

The snapshots change whenever a template, the compiler's rules (`plan_rules`) or the example
recipes change. After such a change, read the new prompts and accept them with
`AGENTFLOW_UPDATE_SNAPSHOTS=1 pytest tests/unit/planner/test_prompts.py`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentflow.cookbook.shop import register_shop_tools

from agentflow.errors import Diagnostic
from agentflow.plan import plan_rules
from agentflow.planner import PromptTemplates, ToolCatalogue, build_catalogue, prompt_hash
from agentflow.testing import temporary_engine

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("AGENTFLOW_UPDATE_SNAPSHOTS") == "1"


def matches_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {name}: create it with AGENTFLOW_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} changed: review it, then accept with AGENTFLOW_UPDATE_SNAPSHOTS=1"
    )


@pytest.fixture(scope="module")
def catalogue() -> Iterator[ToolCatalogue]:
    with temporary_engine() as engine:
        register_shop_tools(engine)
        yield build_catalogue(engine, ["list_orders", "send_email", "lookup"])


@pytest.fixture
def templates(monkeypatch: pytest.MonkeyPatch) -> PromptTemplates:
    monkeypatch.delenv("AGENTFLOW_PROMPTS_DIR", raising=False)
    return PromptTemplates()


def test_the_plan_request_prompt(templates: PromptTemplates, catalogue: ToolCatalogue):
    system, request = templates.plan_messages(
        catalogue, "Email the open-order report to ops", {"weeks": 2}
    )
    assert (system["role"], request["role"]) == ("system", "user")
    matches_snapshot("system.txt", system["content"])
    matches_snapshot("plan_request.txt", request["content"])


def test_the_system_prompt_shows_every_rule_the_compiler_enforces(
    templates: PromptTemplates, catalogue: ToolCatalogue
):
    system = templates.system(catalogue)
    for rule in plan_rules():
        assert f"- {rule}\n" in system
    for name in catalogue.names:
        assert f"### `tools.{name}(" in system
    assert "(read-only)" in system and "(side effects: changes the world)" in system


def test_the_diagnostics_feedback_prompt(templates: PromptTemplates):
    message = templates.fix_message(
        [
            Diagnostic(line=1, col=1, code="AF130", message="module 'os' cannot be imported"),
            Diagnostic(line=3, col=25, code="AF150", message="unknown tool 'list_ordrs'"),
        ]
    )
    assert message["role"] == "user"
    matches_snapshot("fix_diagnostics.txt", message["content"])


def test_the_repair_prompt(templates: PromptTemplates, catalogue: ToolCatalogue):
    _system, request = templates.repair_messages(
        catalogue,
        goal="Remind customers with open orders",
        version=3,
        source='def run(event, step):\n    orders = step.do("fetch", tools.list_orders)\n',
        error={"type": "StepFailed", "message": "boom", "step": "remind", "line": 4},
        steps=[
            {
                "name": "fetch",
                "occurrence": 0,
                "kind": "do",
                "status": "complete",
                "attempts": 1,
                "error": None,
            },
            {
                "name": "remind",
                "occurrence": 0,
                "kind": "do",
                "status": "errored",
                "attempts": 3,
                "error": {"type": "RuntimeError", "message": "smtp down"},
            },
        ],
        params={"grace": "1 day"},
    )
    matches_snapshot("repair.txt", request["content"])


def test_a_template_in_the_override_directory_replaces_the_shipped_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalogue: ToolCatalogue
):
    (tmp_path / "plan_request.j2").write_text("GOAL={{ goal }}\n")
    monkeypatch.setenv("AGENTFLOW_PROMPTS_DIR", str(tmp_path))
    system, request = PromptTemplates().plan_messages(catalogue, "do it")
    assert request["content"] == "GOAL=do it\n"
    assert system["content"].startswith("You write plans for agentflow")
    by_argument = PromptTemplates(tmp_path).plan_messages(catalogue, "again")
    assert by_argument[1]["content"] == "GOAL=again\n"


def test_the_prompt_hash_covers_roles_and_contents():
    one = [{"role": "user", "content": "a"}]
    assert prompt_hash(one) == prompt_hash([dict(m) for m in one])
    assert prompt_hash(one) != prompt_hash([{"role": "system", "content": "a"}])
