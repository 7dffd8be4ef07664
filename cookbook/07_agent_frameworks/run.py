"""Recipe 7: the same long-running task handed to `plan_and_run` from four agent frameworks.

A plain litellm function-calling loop, pydantic-ai, LangChain and the OpenAI Agents SDK each get
agentflow's tool from `agentflow.integrations` and call it with the same goal, each with that
framework's own offline model. The first hand-over plans (a reviewer approves), the next three
reuse the approved plan; all four runs then sleep and check daily until their order ships.

Run it with `python cookbook/07_agent_frameworks/run.py`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from frameworks import FRAMEWORKS
from host import AGENT_ID, GOAL, OUTBOX, TOOLS, build_engine

from agentflow.integrations import AgentflowToolset
from agentflow.testing import skip_time


def main(url: str) -> None:
    """Hand the task over from each framework, approve the plan once, run everything to the end."""
    engine = build_engine(url)
    engine.agent(AGENT_ID, tools=TOOLS, review="required")
    toolset = AgentflowToolset(AGENT_ID, engine=engine)
    run_ids = {}
    for number, (name, (hand_over, extra)) in enumerate(FRAMEWORKS.items(), start=1):
        params = {"order_id": 1000 + number, "email": f"customer{number}@example.com"}
        try:
            answer = hand_over(toolset, GOAL, params)
        except ImportError:
            print(f"{name}: skipped (pip install 'agentflow[{extra}]')")
            continue
        print(
            f"{name}: plan_and_run -> status {answer['status']}, plan v{answer['plan_version']}"
            f" ({answer['review']}{', reused' if answer['reused'] else ''})"
        )
        if answer["status"] == "awaiting_review":
            engine.reviews.approve(answer["plan_id"], reviewer="dana", comment="ok")
            print(f"  reviewer approves plan {answer['plan_id']}: run {name} starts")
        run_ids[name] = answer["run_id"]

    while True:
        engine.work(until_idle=True)
        states = {name: toolset.get_run(run_id)["status"] for name, run_id in run_ids.items()}
        if all(state in ("complete", "errored", "terminated") for state in states.values()):
            break
        skip_time(engine)
    for name, run_id in run_ids.items():
        seen = toolset.get_run(run_id)
        print(f"{name}: {seen['status']} -> {seen['output']}")
    for line in OUTBOX:
        print(f"  {line}")
    engine.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentflow-recipe-") as folder:
        main(args.db or f"sqlite:///{Path(folder) / 'recipe.db'}")
