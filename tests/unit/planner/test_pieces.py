"""The planner's parts that need no store: extraction, goals, catalogue, models, recordings."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Iterator

import pytest
from agentflow.cookbook import RECIPES

from agentflow.engine import Engine
from agentflow.planner import (
    LiteLLMModel,
    RecordedModel,
    build_catalogue,
    configured_model,
    extract_code,
    goal_key,
    normalise_goal,
)
from agentflow.planner.catalogue import CatalogueEntry, catalogue_hash, render_signature
from agentflow.planner.recorded import recorded_replies, recorded_reply
from agentflow.testing import ScriptedModel, ScriptExhausted, temporary_engine

PLAN = "def run(event, step):\n    return 1\n"


# --- extraction ------------------------------------------------------------------------------


def test_a_python_fence_is_extracted_from_prose():
    reply = f"Sure! Here it is:\n\n```python\n{PLAN}```\n\nIt returns one."
    assert extract_code(reply) == PLAN


def test_the_block_that_defines_run_wins_over_other_blocks():
    reply = f"Install:\n```bash\npip install agentflow\n```\n```py\nx = 1\n```\n```\n{PLAN}```"
    assert extract_code(reply) == PLAN


def test_a_bare_reply_is_taken_whole():
    assert extract_code(f"\n\n{PLAN}\n\n") == PLAN


def test_a_reply_cut_off_inside_its_fence_gives_what_follows_the_fence():
    assert extract_code(f"```python\n{PLAN}") == PLAN


# --- goals -------------------------------------------------------------------------------------


def test_goals_that_differ_in_case_spacing_and_final_punctuation_share_a_key():
    assert normalise_goal("  Email the\n report   to OPS!! ") == "email the report to ops"
    assert goal_key("Email the report to ops.") == goal_key("email the report  to ops")
    assert goal_key("Email the report to ops") != goal_key("Email the report to sales")
    assert len(goal_key("x")) == 64


# --- catalogue ---------------------------------------------------------------------------------


@pytest.fixture
def tooled_engine() -> Iterator[Engine]:
    with temporary_engine() as engine:

        @engine.tool(side_effects=True)
        def send_email(to: str, subject: str, body: str = "") -> dict:
            """Send an email."""
            return {}

        @engine.tool(side_effects=False)
        def lookup(topic: str) -> str:
            """Look a topic up."""
            return topic

        yield engine


def test_the_catalogue_describes_each_tool_and_its_hash_ignores_order(tooled_engine: Engine):
    catalogue = build_catalogue(tooled_engine, ["send_email", "lookup"])
    assert catalogue.names == ["lookup", "send_email"]
    email = catalogue.entries[1]
    assert email == CatalogueEntry(
        "send_email", "(to: str, subject: str, body: str = '') -> dict", "Send an email.", True
    )
    assert catalogue.hash == build_catalogue(tooled_engine, ["lookup", "send_email"]).hash
    assert catalogue.hash != build_catalogue(tooled_engine, ["lookup"]).hash


def test_the_catalogue_hash_changes_when_a_tool_changes():
    entry = CatalogueEntry("lookup", "(topic: str) -> str", "Look a topic up.", False)
    changed = CatalogueEntry("lookup", "(topic: str) -> str", "Look a topic up.", True)
    assert catalogue_hash([entry]) != catalogue_hash([changed])


def test_string_annotations_are_shown_unquoted():
    def tool(to: str, count: int = 1) -> dict:
        return {}

    assert isinstance(inspect.signature(tool).return_annotation, str)
    assert render_signature(inspect.signature(tool)) == "(to: str, count: int = 1) -> dict"


# --- models ------------------------------------------------------------------------------------


def test_the_model_argument_wins_then_the_agent_then_the_engine_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("AGENTFLOW_MODEL", "env-model")
    scripted = ScriptedModel([])
    assert configured_model(scripted, agent_model="a") is scripted
    chosen = configured_model("arg", agent_model="a", engine_model="e")
    assert isinstance(chosen, LiteLLMModel) and chosen.name == "arg"
    assert configured_model(None, agent_model="a", engine_model="e").name == "a"  # type: ignore[union-attr]
    assert configured_model(None, engine_model="e").name == "e"  # type: ignore[union-attr]
    assert configured_model(None).name == "env-model"  # type: ignore[union-attr]
    monkeypatch.delenv("AGENTFLOW_MODEL")
    assert configured_model(None) is None


def test_a_model_must_be_a_name_or_have_complete_and_acomplete():
    with pytest.raises(TypeError, match="complete/acomplete"):
        configured_model(object())  # type: ignore[arg-type]


def test_a_scripted_model_replies_in_order_records_prompts_and_says_when_it_runs_out():
    model = ScriptedModel(["first", "second"])
    reply = model.complete([{"role": "user", "content": "x" * 40}])
    assert (reply.text, reply.tokens_in, reply.tokens_out, reply.cost) == ("first", 10, 2, 0.0)
    assert asyncio.run(model.acomplete([{"role": "user", "content": "again"}])).text == "second"
    assert model.calls == 2
    assert model.prompts[1] == [{"role": "user", "content": "again"}]
    with pytest.raises(ScriptExhausted, match="asked 3 times but has only 2 replies"):
        model.complete([])


def test_a_recorded_model_replays_its_reply_whatever_it_is_asked():
    model = RecordedModel("```python\npass\n```", "goal")
    assert model.complete([{"role": "user", "content": "anything"}]).text.startswith("```python")


# --- recorded replies ----------------------------------------------------------------------------


def test_every_cookbook_recipe_has_a_recorded_reply_that_is_its_source():
    assert len(recorded_replies()) == len(RECIPES)
    for recipe in RECIPES.values():
        reply = recorded_reply(recipe.goal.upper() + ".")
        assert reply is not None, recipe.name
        assert extract_code(reply) == recipe.source.rstrip() + "\n", (
            f"cookbook/recorded/{recipe.name}.json is out of date: regenerate it from the recipe"
        )
    assert recorded_reply("something no recipe does") is None


def test_recorded_replies_are_found_by_goal_not_by_file_name():
    goals = {goal for goal, _reply in recorded_replies().values()}
    assert goals == {recipe.goal for recipe in RECIPES.values()}
    assert os.path.basename(__file__).startswith("test_")
