"""`agentflow.plan_and_run` with no engine: the default engine finds the host's tools."""

from __future__ import annotations

from agentflow.cookbook import RECIPES

import agentflow
from agentflow import Engine
from agentflow.planner import set_default_engine


def test_module_level_plan_and_run_uses_the_hosts_tools(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'host.db'}"
    monkeypatch.setenv("AGENTFLOW_DATABASE_URL", url)
    monkeypatch.delenv("AGENTFLOW_MODEL", raising=False)
    host = Engine()

    @host.tool(side_effects=False)
    def lookup(topic: str) -> str:
        """Look a topic up."""
        return "all about " + topic

    host.agent("librarian", tools=["lookup"], review="auto-if-safe")
    set_default_engine(None)
    try:
        result = agentflow.plan_and_run(
            RECIPES["research_digest"].goal,
            agent="librarian",
            params={"topics": ["tea"]},
            wait=True,
            timeout=30,
        )
        assert result.status == "complete"
        assert "all about tea" in result.output["digest"]
        assert host.get_run(result.run_id).status().status == "complete"
    finally:
        default = agentflow.planner.default_engine()
        set_default_engine(None)
        default.close()
        host.close()
