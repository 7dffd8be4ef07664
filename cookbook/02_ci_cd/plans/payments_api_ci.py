"""Build the release commit, deploy to staging if it passed; cancel and page if it hangs."""


def run(event, step):
    repo = event.params["repo"]
    build = step.do("start build", tools.start_build, repo=repo, commit=event.params["commit"])
    build_id = build["build_id"]
    try:
        finished = step.wait_for_event("build", type="build-finished", timeout="1 hour")
    except WaitTimeout:
        step.do("cancel build", tools.cancel_build, build_id=build_id)
        step.do("page on-call", tools.notify, channel="pager:on-call", text=f"{build_id} hung")
        return {"build": build_id, "deployed": False, "reason": "timeout"}
    if not finished.payload.get("passed"):
        step.do("report failure", tools.notify, channel="#payments", text=f"{build_id} failed")
        return {"build": build_id, "deployed": False, "reason": "failed"}
    staging = step.do(
        "deploy to staging", tools.deploy, repo=repo, build_id=build_id, environment="staging"
    )
    return {"build": build_id, "deployed": True, "url": staging["url"]}
