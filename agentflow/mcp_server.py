"""`agentflow mcp --agent ID`: an MCP server through which one agent plans and runs its work.

Tools (each scoped to the agent; none approves a plan, so review stays with people unless the
agent's review policy is `auto`): `check_plan`, `submit_plan`, `plan_and_run`, `start_run`,
`get_run`, `list_runs`, `send_event`. Resources: `plan://{plan_id}/summary`,
`plan://{plan_id}/source` and `run://{run_id}/timeline`.

Needs the `mcp` package (`pip install 'agentflow[mcp]'`).
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer

from agentflow.engine import Engine
from agentflow.errors import PlanValidationError
from agentflow.planner import PlannerModel, plan_and_run
from agentflow.run import run_status_of
from agentflow.states import RunState

INSTRUCTIONS = (
    "agentflow runs durable workflows that you write as plans: a Python module with "
    "`def run(event, step)` whose steps call this agent's tools through `step.do`. Check a plan "
    "with check_plan, store it with submit_plan (a reviewer approves it unless the agent's policy "
    "is auto), or let agentflow write one with plan_and_run; then start_run, get_run, "
    "send_event."
)


def _dump(value: Any) -> dict[str, Any]:
    data: dict[str, Any] = value.model_dump(mode="json")
    return data


def create_mcp_server(
    engine: Engine, agent_id: str, *, model: str | PlannerModel | None = None
) -> MCPServer:
    """The MCP server of one agent of an engine.

    Args:
        engine: the engine whose store and tools serve the agent; never closed here.
        agent_id: the agent every tool and resource acts for (it must exist).
        model: the model plan_and_run asks (default: as `plan_and_run`'s).

    Raises:
        NotFound: the agent does not exist.
    """
    agent = engine.get_agent(agent_id)
    server: MCPServer = MCPServer(
        name=f"agentflow {agent_id}", instructions=INSTRUCTIONS, version="1"
    )

    @server.tool()
    async def check_plan(source: str) -> dict[str, Any]:
        """Compile a plan against this agent's tools without storing it.

        `ok`, and either its `diagnostics` (line, col, code, message) or its review
        `summary` and `warnings`.
        """

        def check() -> dict[str, Any]:
            try:
                compiled = agent.compile(source)
            except PlanValidationError as exc:
                return {"ok": False, "diagnostics": [d.model_dump() for d in exc.diagnostics]}
            return {
                "ok": True,
                "diagnostics": [],
                "warnings": [w.model_dump() for w in compiled.warnings],
                "summary": compiled.summary.model_dump(mode="json"),
            }

        return await anyio.to_thread.run_sync(check)

    @server.tool()
    async def submit_plan(source: str, goal: str | None = None) -> dict[str, Any]:
        """Store a plan as this agent's next version.

        It runs once approved: by a reviewer, or at once under the agent's `auto` policy. A
        plan that breaks the rules is not stored: `stored` is false and `diagnostics` say
        why.
        """

        def submit() -> dict[str, Any]:
            try:
                plan = agent.submit_plan(source, goal=goal)
            except PlanValidationError as exc:
                return {"stored": False, "diagnostics": [d.model_dump() for d in exc.diagnostics]}
            return {"stored": True, "plan": _dump(plan)}

        return await anyio.to_thread.run_sync(submit)

    @server.tool(name="plan_and_run")
    async def plan_and_run_tool(
        goal: str,
        params: dict[str, Any] | None = None,
        wait: bool = False,
        timeout: float = 60.0,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Have agentflow write a plan for a goal, apply the review policy and start the run.

        The approved plan for the same goal is reused; with `wait`, return once the run has
        ended.
        """

        def run() -> dict[str, Any]:
            result = plan_and_run(
                goal,
                agent,
                params or {},
                engine=engine,
                model=model,
                wait=wait,
                timeout=max(0.1, min(timeout, 600.0)),
                run_id=run_id,
            )
            return result.model_dump()

        return await anyio.to_thread.run_sync(run)

    @server.tool()
    async def start_run(
        params: dict[str, Any] | None = None, run_id: str | None = None, plan_id: int | None = None
    ) -> dict[str, Any]:
        """Start a run of an approved plan (the latest by default).

        The same `run_id` never starts two runs.
        """

        def start() -> dict[str, Any]:
            return _dump(agent.start(params or {}, plan=plan_id, run_id=run_id).status())

        return await anyio.to_thread.run_sync(start)

    @server.tool()
    async def get_run(run_id: str) -> dict[str, Any]:
        """A run of this agent: status, output or error, and its step timeline."""
        return await anyio.to_thread.run_sync(lambda: _dump(agent.get_run(run_id).status()))

    @server.tool()
    async def list_runs(status: RunState | None = None, limit: int = 20) -> dict[str, Any]:
        """This agent's runs, newest first (without their steps: see get_run)."""

        def listed() -> dict[str, Any]:
            rows = engine.store.list_runs(agent.id, status, limit=max(1, min(limit, 200)))
            return {"runs": [_dump(run_status_of(r, [])) for r in rows]}

        return await anyio.to_thread.run_sync(listed)

    @server.tool()
    async def send_event(
        run_id: str, type: str, payload: Any = None, id: str | None = None
    ) -> dict[str, Any]:
        """Send an event to a run of this agent.

        An `id` the run already received is not delivered again (`delivered` is false then).
        The run's history records it as sent by `mcp:AGENT`.
        """

        def send() -> dict[str, Any]:
            run = agent.get_run(run_id)
            delivered = run.send_event(type, payload, id=id, actor=f"mcp:{agent_id}")
            return {"run_id": run_id, "type": type, "id": id, "delivered": delivered}

        return await anyio.to_thread.run_sync(send)

    @server.resource("plan://{plan_id}/summary", mime_type="application/json")
    def plan_summary(plan_id: str) -> str:
        """A plan version's review summary: steps, waits, tools, risk."""
        plan = agent.get_plan(int(plan_id))
        data = {"plan_id": plan.id, "version": plan.version, "status": plan.status}
        return json.dumps({**data, "summary": plan.summary.model_dump(mode="json")}, indent=2)

    @server.resource("plan://{plan_id}/source", mime_type="text/x-python")
    def plan_source(plan_id: str) -> str:
        """A plan version's source."""
        return agent.get_plan(int(plan_id)).source

    @server.resource("run://{run_id}/timeline", mime_type="application/json")
    def run_timeline(run_id: str) -> str:
        """A run's status and its step timeline."""
        return agent.get_run(run_id).status().model_dump_json(indent=2)

    return server
