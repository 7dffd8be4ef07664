"""Build every pushed commit, deploy a preview if it passed, and tell the team."""


def run(event, step):
    repo = event.params["repo"]
    build = step.do("start build", tools.start_build, repo=repo, commit=event.params["commit"])
    try:
        finished = step.wait_for_event("build", type="build-finished", timeout="30 minutes")
    except WaitTimeout:
        step.do("report timeout", tools.notify, channel="#web", text="build timed out")
        return {"build": build["build_id"], "deployed": False, "reason": "timeout"}
    if not finished.payload.get("passed"):
        step.do("report failure", tools.notify, channel="#web", text="build failed")
        return {"build": build["build_id"], "deployed": False, "reason": "failed"}
    preview = step.do(
        "deploy preview", tools.deploy, repo=repo, build_id=build["build_id"], environment="preview"
    )
    step.do("announce", tools.notify, channel="#web", text=f"preview at {preview['url']}")
    return {"build": build["build_id"], "deployed": True, "url": preview["url"]}
