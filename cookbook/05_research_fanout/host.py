"""The research host: a flaky fetcher and a summariser that asks a model through litellm."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from agentflow import Engine

AGENT_ID = "researcher"
TOOLS = ["fetch_source", "summarise"]
GOAL = (
    "Fetch every source at once, retrying the flaky ones, "
    "then have a model summarise what they say about the topic"
)

PAGES = {
    "https://example.com/temporal": "Temporal replays workflow history to rebuild state.",
    "https://example.com/dbos": "DBOS checkpoints each step in Postgres or SQLite.",
    "https://example.com/cloudflare": "Cloudflare loads each tenant's workflow code at run time.",
}
#: The source whose server fails on the first two requests.
FLAKY = "https://example.com/dbos"
#: Requests made per source (so the recipe can show the retries).
REQUESTS: Counter[str] = Counter()
#: The summary a model would write, replayed by litellm's `mock_response` when offline.
OFFLINE_SUMMARY = (
    "All three engines make long-running work durable: Temporal by replaying history, DBOS by "
    "checkpointing steps in a database, Cloudflare by loading each tenant's code at run time."
)


def build_engine(url: str | None = None) -> Engine:
    """An engine with the research tools registered."""
    engine = Engine(url)

    @engine.tool(side_effects=False)
    def fetch_source(url: str) -> str:
        """Download a source and return its text; its server sometimes fails (retry it)."""
        REQUESTS[url] += 1
        if url == FLAKY and REQUESTS[url] <= 2:
            raise ConnectionError(f"{url}: 503 Service Unavailable")
        return PAGES[url]

    @engine.tool(side_effects=False)
    def summarise(topic: str, texts: list[str]) -> str:
        """Ask a language model for a two-sentence summary of the texts about the topic."""
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        model = os.environ.get("AGENTFLOW_MODEL")
        offline: dict[str, Any] = {} if model else {"mock_response": OFFLINE_SUMMARY}
        response = litellm.completion(
            model=model or "gpt-4o-mini",
            messages=[
                {"role": "system", "content": "Summarise in two sentences."},
                {"role": "user", "content": f"Topic: {topic}\n\n" + "\n\n".join(texts)},
            ],
            **offline,
        )
        return str(response.choices[0].message.content)

    return engine
