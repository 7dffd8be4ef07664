"""`agentflow mcp --agent ID` through the `mcp` package's own client, over stdio."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from agentflow import Engine
from tests.support.reach_app import engine as make_host
from tests.support.serve import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
APP = "tests.support.reach_app:engine"
BROKEN = "def run(event, step):\n    x = 1\n    return tools.sendmail(x)\n"
WAITING = 'def run(event, step):\n    return step.wait_for_event("w", type="go").payload\n'


def structured(result: Any) -> dict[str, Any]:
    assert isinstance(result, types.CallToolResult)
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    return data


async def session_run(db: str, agent: str, work: Any) -> Any:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "agentflow.cli", "mcp", "--db", db, "--app", APP, "--agent", agent, "--worker"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    with open(os.devnull, "w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await work(session)


def test_an_mcp_client_checks_plans_plans_and_runs_and_reads_a_run(tmp_path):
    db = f"sqlite:///{tmp_path / 'mcp.db'}"
    host: Engine = make_host(db)
    host.agent("initech", tools=["list_orders"], review="auto")
    host.agent("globex", tools=["list_orders"])
    foreign = host.get_agent("globex")
    foreign_plan = foreign.submit_plan("def run(event, step):\n    return 1\n")
    host.close()

    async def work(session: ClientSession) -> dict[str, Any]:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        checked = structured(await session.call_tool("check_plan", {"source": BROKEN}))
        planned = structured(
            await session.call_tool(
                "plan_and_run",
                {"goal": "count the open orders", "params": {"label": "mcp"}, "wait": True},
            )
        )
        run = structured(await session.call_tool("get_run", {"run_id": planned["run_id"]}))
        runs = structured(await session.call_tool("list_runs", {}))
        timeline = await session.read_resource(f"run://{planned['run_id']}/timeline")
        source = await session.read_resource(f"plan://{planned['plan_id']}/source")
        summary = await session.read_resource(f"plan://{planned['plan_id']}/summary")
        submitted = structured(await session.call_tool("submit_plan", {"source": WAITING}))
        refused = structured(await session.call_tool("submit_plan", {"source": BROKEN}))
        started = structured(
            await session.call_tool(
                "start_run", {"run_id": "mcp-wait", "plan_id": submitted["plan"]["id"]}
            )
        )
        event = {"run_id": "mcp-wait", "type": "go", "payload": 5, "id": "e1"}
        sent = [structured(await session.call_tool("send_event", event)) for _ in range(2)]
        for _ in range(300):
            waited = structured(await session.call_tool("get_run", {"run_id": "mcp-wait"}))
            if waited["status"] == "complete":
                break
            await anyio.sleep(0.05)
        hidden = await session.call_tool("get_run", {"run_id": "nope"})
        other = await session.call_tool("start_run", {"plan_id": foreign_plan.id})
        return {
            "tools": tools,
            "checked": checked,
            "planned": planned,
            "run": run,
            "runs": runs,
            "timeline": json.loads(timeline.contents[0].text),
            "source": source.contents[0].text,
            "summary": json.loads(summary.contents[0].text),
            "submitted": submitted,
            "refused": refused,
            "started": started,
            "sent": sent,
            "waited": waited,
            "hidden": hidden,
            "other": other,
        }

    seen = anyio.run(session_run, db, "initech", work)
    assert seen["tools"] == {
        "check_plan",
        "submit_plan",
        "plan_and_run",
        "start_run",
        "get_run",
        "list_runs",
        "send_event",
    }
    assert seen["checked"]["ok"] is False
    assert {d["line"] for d in seen["checked"]["diagnostics"]} == {3}
    assert seen["planned"]["status"] == "complete"
    assert seen["planned"]["output"] == {"orders": 2, "label": "mcp"}
    assert seen["run"]["status"] == "complete" and seen["run"]["steps"][0]["name"] == (
        "fetch open orders"
    )
    assert [r["id"] for r in seen["runs"]["runs"]] == [seen["planned"]["run_id"]]
    assert seen["timeline"]["steps"][0]["status"] == "complete"
    assert "tools.list_orders" in seen["source"]
    assert seen["summary"]["summary"]["tools_used"][0]["name"] == "list_orders"
    assert seen["submitted"]["stored"] and seen["submitted"]["plan"]["status"] == "approved"
    assert seen["refused"]["stored"] is False and seen["refused"]["diagnostics"][0]["line"] == 3
    assert seen["started"]["id"] == "mcp-wait"
    assert [s["delivered"] for s in seen["sent"]] == [True, False]
    assert seen["waited"]["status"] == "complete" and seen["waited"]["output"] == 5
    assert seen["hidden"].is_error and seen["other"].is_error
    reopened: Engine = make_host(db)
    try:
        history = reopened.get_agent("initech").get_run("mcp-wait").history()
        events = [(e.actor, e.detail["payload"]) for e in history if e.kind == "event"]
        assert events == [("mcp:initech", 5)]
    finally:
        reopened.close()


def test_the_mcp_server_over_streamable_http(tmp_path):
    db = f"sqlite:///{tmp_path / 'http.db'}"
    host: Engine = make_host(db)
    host.agent("initech", tools=["list_orders"], review="auto")
    host.close()
    port = free_port()
    command = [sys.executable, "-m", "agentflow.cli", "mcp", "--db", db, "--app", APP]
    command += ["--agent", "initech", "--transport", "streamable-http", "--port", str(port)]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    async def listed() -> set[str]:
        for _ in range(300):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                await anyio.sleep(0.1)
        async with (
            streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            checked = structured(await session.call_tool("check_plan", {"source": BROKEN}))
            assert checked["diagnostics"][0]["line"] == 3
            return {tool.name for tool in (await session.list_tools()).tools}

    try:
        assert "plan_and_run" in anyio.run(listed)
    finally:
        server.terminate()
        server.wait(timeout=30)
