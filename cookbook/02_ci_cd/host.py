"""The CI host: build and deploy tools shared by every repository, and each repository's agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentflow import Engine

#: What the tools did, in order.
LEDGER: list[str] = []


@dataclass(frozen=True)
class Repository:
    """A repository with its own agent, tool allow-list and pipeline goal."""

    agent_id: str
    tools: list[str]
    goal: str
    params: dict[str, Any] = field(default_factory=dict)


REPOSITORIES = [
    Repository(
        agent_id="web-frontend",
        tools=["start_build", "deploy", "notify"],
        goal="Build every pushed commit, wait up to 30 minutes for the build, "
        "deploy a preview if it passed, and tell the team",
        params={"repo": "web-frontend", "commit": "a1b2c3d"},
    ),
    Repository(
        agent_id="payments-api",
        tools=["start_build", "deploy", "cancel_build", "notify"],
        goal="Build the release commit, wait up to an hour for the build, deploy to staging "
        "if it passed, and cancel the build and page on-call if it never finishes",
        params={"repo": "payments-api", "commit": "9f8e7d6"},
    ),
]


def build_engine(url: str | None = None) -> Engine:
    """An engine with the CI tools registered."""
    engine = Engine(url)

    @engine.tool(side_effects=True)
    def start_build(repo: str, commit: str) -> dict[str, Any]:
        """Queue a CI build of one commit; the CI system sends `build-finished` when it ends."""
        build_id = f"{repo}-{commit[:7]}"
        LEDGER.append(f"build {build_id} queued")
        return {"build_id": build_id}

    @engine.tool(side_effects=True)
    def deploy(repo: str, build_id: str, environment: str) -> dict[str, Any]:
        """Deploy a build's artefacts to an environment ("preview", "staging", ...)."""
        LEDGER.append(f"deployed {build_id} to {environment}")
        return {"url": f"https://{environment}.{repo}.example.com"}

    @engine.tool(side_effects=True)
    def cancel_build(build_id: str) -> dict[str, Any]:
        """Cancel a build that is still running."""
        LEDGER.append(f"cancelled {build_id}")
        return {"cancelled": build_id}

    @engine.tool(side_effects=True)
    def notify(channel: str, text: str) -> dict[str, Any]:
        """Post a message to a chat channel or a pager ("#team", "pager:on-call")."""
        LEDGER.append(f"{channel}: {text}")
        return {"posted": True}

    return engine
