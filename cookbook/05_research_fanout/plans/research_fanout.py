"""Fetch every source at once (retrying flaky ones), then have a model summarise them."""


def run(event, step):
    sources = event.params["sources"]
    pages = step.map(
        "fetch",
        tools.fetch_source,
        sources,
        retries={"limit": 3, "delay": "2 seconds", "backoff": "exponential"},
    )
    summary = step.do(
        "summarise",
        tools.summarise,
        topic=event.params["topic"],
        texts=pages,
        retries={"limit": 2, "delay": "5 seconds"},
    )
    return {"sources": len(pages), "summary": summary}
