"""The `agentflow` command: check plans, run workers, inspect runs, review plans, run the demo."""

from __future__ import annotations

import importlib
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agentflow.models import PlanState
from agentflow.terminal import duration_text, short, simulation_table, timeline_table, when

app = typer.Typer(
    help="agentflow: AI agents write their own durable workflows.",
    no_args_is_help=True,
    add_completion=False,
)
runs_app = typer.Typer(help="Inspect runs and send them events.", no_args_is_help=True)
review_app = typer.Typer(help="Review generated plans before they run.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(review_app, name="review")

console = Console(width=None if sys.stdout.isatty() else 140)
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default: $AGENTFLOW_DATABASE_URL or sqlite:///agentflow.db)."
    ),
]
AppOption = Annotated[
    str | None,
    typer.Option(
        "--app", help="module:attribute of the host's Engine, whose tools the worker needs."
    ),
]


def _engine(db: str | None, app_path: str | None = None) -> Any:
    from agentflow.engine import Engine

    if app_path:
        module_name, _, attribute = app_path.partition(":")
        sys.path.insert(0, ".")
        target = getattr(importlib.import_module(module_name), attribute or "engine")
        engine = target(db) if callable(target) and not isinstance(target, Engine) else target
        if not isinstance(engine, Engine):
            raise typer.BadParameter(f"{app_path} is not an Engine or a factory of one")
        if db and engine.url != db:
            raise typer.BadParameter(
                f"{app_path} is an engine on {engine.url}, not on --db {db}: drop --db, "
                "or point --app at a function that takes the URL and returns the engine"
            )
        return engine
    return Engine(db)


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


# --- check --------------------------------------------------------------------------------


@app.command()
def check(
    targets: Annotated[
        list[str], typer.Argument(help="The plan files (and, after --tools, more tool names).")
    ],
    tools: Annotated[
        list[str] | None,
        typer.Option(
            "--tools",
            help="Tools the plan may use: --tools a b, --tools a,b or --tools a --tools b.",
        ),
    ] = None,
) -> None:
    """Check plans: print diagnostics in linter form (exit 1), or each plan's review summary."""
    from pathlib import Path

    from agentflow.plan.lint import check_main

    files = [t for t in targets if t.endswith(".py") or Path(t).exists()]
    names = [t for t in targets if t not in files]
    if names and tools is None:
        _fail(f"no such plan file: {', '.join(names)}")
    allowed = None
    if tools is not None:
        allowed = [n.strip() for item in [*tools, *names] for n in item.split(",") if n.strip()]
    if not files:
        _fail("name at least one plan file")
    status = 0
    for path in files:
        status = max(status, check_main(path, allowed, out=sys.stdout))
    raise typer.Exit(status)


# --- worker -------------------------------------------------------------------------------


@app.command()
def worker(
    db: DbOption = None,
    app_path: AppOption = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Runs executed at once.")
    ] = 1,
) -> None:
    """Run due runs forever, in this process; stops cleanly on SIGTERM or Ctrl-C."""
    engine = _engine(db, app_path)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    console.print(f"worker {engine.owner} on {engine.url}")
    count = engine.work(until_idle=False, stop=stop, concurrency=concurrency)
    engine.close()
    console.print(f"stopped after {count} activations")


# --- runs ---------------------------------------------------------------------------------


@runs_app.command("list")
def runs_list(
    db: DbOption = None,
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    agent: Annotated[str | None, typer.Option(help="Only this agent's runs.")] = None,
) -> None:
    """List runs, newest first."""
    from agentflow.run import run_status_of

    engine = _engine(db)
    table = Table("run", "agent", "plan", "status", "created", "updated")
    for row in engine.store.list_runs(agent, status):
        status_model = run_status_of(row, [])
        table.add_row(
            row.run_id,
            row.agent_id,
            str(row.plan_id),
            row.status,
            when(status_model.created_at),
            when(status_model.updated_at),
        )
    console.print(table)


@runs_app.command("show")
def runs_show(run_id: str, db: DbOption = None) -> None:
    """Show a run and its step timeline."""
    from agentflow.errors import AgentflowError

    engine = _engine(db)
    try:
        status = engine.get_run(run_id).status()
    except AgentflowError as exc:
        _fail(str(exc))
        return
    console.print(f"run [bold]{status.id}[/bold]  agent {status.agent_id}  plan {status.plan_id}")
    console.print(
        f"status: [bold]{status.status}[/bold]"
        + (f"  waiting for {status.waiting_for!r}" if status.waiting_for else "")
        + (f"  until {when(status.wake_at)}" if status.wake_at else "")
    )
    if status.output is not None:
        console.print(f"output: {short(status.output, 200)}")
    if status.error:
        console.print(
            f"[red]error:[/red] {status.error.get('type')}: {status.error.get('message')}"
        )
    console.print(timeline_table(status))
    if status.log:
        console.print("printed by the plan:")
        console.print(status.log.rstrip("\n"), markup=False, highlight=False)


@runs_app.command("send-event")
def runs_send_event(
    run_id: str,
    event_type: Annotated[str, typer.Argument(metavar="TYPE")],
    payload: Annotated[str, typer.Argument(metavar="JSON")] = "null",
    db: DbOption = None,
) -> None:
    """Send an event (with a JSON payload) to a run."""
    from agentflow.errors import AgentflowError

    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        _fail(f"the payload is not JSON: {exc}")
        return
    engine = _engine(db)
    try:
        engine.get_run(run_id).send_event(event_type, data)
    except AgentflowError as exc:
        _fail(str(exc))
    console.print(f"sent {event_type!r} to {run_id}")


def _control(run_id: str, db: str | None, action: str, **options: Any) -> None:
    from agentflow.errors import AgentflowError

    engine = _engine(db)
    try:
        getattr(engine.get_run(run_id), action)(**options)
        status = engine.get_run(run_id).status().status
    except AgentflowError as exc:
        _fail(str(exc))
        return
    console.print(f"{action}: run {run_id} is now {status}")


@runs_app.command("pause")
def runs_pause(run_id: str, db: DbOption = None) -> None:
    """Pause a run at its next step boundary."""
    _control(run_id, db, "pause")


@runs_app.command("resume")
def runs_resume(run_id: str, db: DbOption = None) -> None:
    """Resume a paused run."""
    _control(run_id, db, "resume")


@runs_app.command("terminate")
def runs_terminate(run_id: str, db: DbOption = None) -> None:
    """Terminate a run for good."""
    _control(run_id, db, "terminate")


@runs_app.command("restart")
def runs_restart(
    run_id: str,
    db: DbOption = None,
    from_step: Annotated[
        str | None, typer.Option("--from-step", help="Keep the checkpoints before this step.")
    ] = None,
    plan: Annotated[
        int | None, typer.Option("--plan", help="Continue on this approved plan version id.")
    ] = None,
) -> None:
    """Restart a run: from the start, from a named step, or onto another plan version."""
    _control(run_id, db, "restart", from_step=from_step, plan=plan)


# --- review -------------------------------------------------------------------------------


@review_app.command("list")
def review_list(
    db: DbOption = None,
    all_plans: Annotated[bool, typer.Option("--all", help="Every plan, not only pending.")] = False,
) -> None:
    """List plans awaiting review (or all plans)."""
    engine = _engine(db)
    table = Table("id", "agent", "version", "status", "risk", "origin", "goal")
    for row in engine.store.list_plans(None, None if all_plans else PlanState.PENDING):
        table.add_row(
            str(row.id),
            row.agent_id,
            str(row.version),
            row.status,
            str(row.summary.get("risk", "-")),
            row.origin,
            short(row.goal or "", 40),
        )
    console.print(table)


@review_app.command("show")
def review_show(plan_id: int, db: DbOption = None) -> None:
    """Show a plan version: its summary, its source and its decisions."""
    from agentflow.errors import NotFound

    engine = _engine(db)
    try:
        plan = engine.get_plan(plan_id)
    except NotFound as exc:
        _fail(str(exc))
        return
    summary = plan.summary
    console.print(
        f"plan {plan.id}: agent {plan.agent_id} v{plan.version}  [bold]{plan.status}"
        f"[/bold]  risk {summary.get('risk', '-')}"
    )
    if plan.goal:
        console.print(f"goal: {plan.goal}")
    for reason in summary.get("risk_reasons", []):
        console.print(f"  - {reason}")
    steps = Table("line", "kind", "name", "tool", "in loop")
    for step in summary.get("steps", []):
        tool = step.get("tool")
        steps.add_row(
            str(step.get("line")),
            str(step.get("kind")),
            str(step.get("name")),
            ", ".join(tool) if isinstance(tool, list) else str(tool or ""),
            "yes" if step.get("in_loop") else "",
        )
    console.print(steps)
    console.print(plan.source)
    for decision in engine.reviews.decisions(plan_id):
        console.print(
            f"{decision['decision']} by {decision['reviewer']}: {decision.get('comment') or ''}"
        )


@review_app.command("diff")
def review_diff(plan_id: int, db: DbOption = None) -> None:
    """Diff a plan version against its agent's last approved version."""
    engine = _engine(db)
    console.print(engine.reviews.diff(plan_id) or "(no difference)", markup=False)


def _decide(kind: str, plan_id: int, reviewer: str, comment: str | None, db: str | None) -> None:
    from agentflow.errors import AgentflowError

    engine = _engine(db)
    try:
        decide = engine.reviews.approve if kind == "approve" else engine.reviews.reject
        plan = decide(plan_id, reviewer=reviewer, comment=comment)
    except (AgentflowError, ValueError) as exc:
        _fail(str(exc))
        return
    console.print(f"plan {plan.id} ({plan.agent_id} v{plan.version}) {plan.status} by {reviewer}")


ReviewerOption = Annotated[str, typer.Option("--reviewer", "-r", envvar="USER", help="Your name.")]
CommentOption = Annotated[str | None, typer.Option("--comment", "-m", help="Why.")]


@review_app.command("approve")
def review_approve(
    plan_id: int,
    reviewer: ReviewerOption = "reviewer",
    comment: CommentOption = None,
    db: DbOption = None,
) -> None:
    """Approve a plan version (a run queued for it starts)."""
    _decide("approve", plan_id, reviewer, comment, db)


@review_app.command("reject")
def review_reject(
    plan_id: int,
    reviewer: ReviewerOption = "reviewer",
    comment: CommentOption = None,
    db: DbOption = None,
) -> None:
    """Reject a plan version; it never runs."""
    _decide("reject", plan_id, reviewer, comment, db)


def _json_file(path: Path | None, what: str) -> Any:
    if path is None:
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"{what} file {path}: {exc}") from None


@review_app.command("simulate")
def review_simulate(
    plan_id: int,
    fixtures: Annotated[
        Path | None,
        typer.Option(help="JSON file: {tool: the value every call of it returns}."),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(help="JSON file: {event type: example payload, or a list, one per wait}."),
    ] = None,
    params: Annotated[
        Path | None, typer.Option(help="JSON file: the run's params (default: the queued run's).")
    ] = None,
    waits: Annotated[
        str, typer.Option(help="answer: waits get example events; timeout: they time out.")
    ] = "answer",
    as_json: Annotated[bool, typer.Option("--json", help="Print the simulation as JSON.")] = False,
    db: DbOption = None,
    app_path: AppOption = None,
) -> None:
    """Dry-run a plan version against fake tools on a virtual clock; no real tool is called."""
    from agentflow.errors import AgentflowError

    engine = _engine(db, app_path)
    try:
        simulation = engine.reviews.simulate(
            plan_id,
            _json_file(fixtures, "--fixtures"),
            _json_file(events, "--events"),
            params=_json_file(params, "--params"),
            waits=waits,
        )
    except AgentflowError as exc:
        _fail(str(exc))
        return
    if as_json:
        print(simulation.model_dump_json(indent=2))
        return
    console.print(simulation_table(simulation))
    ending = simulation.reason or simulation.status
    console.print(
        f"plan {simulation.plan_id} ({simulation.agent_id} v{simulation.version}): {ending}; "
        f"the run would take {duration_text(simulation.virtual_seconds)} "
        f"(simulated in {simulation.wall_seconds:.2f} s)"
    )


@review_app.command("serve")
def review_serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="AGENTFLOW_REVIEW_TOKEN",
            help="Require this token (open the app once with ?token=...). Needed beyond loopback.",
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Serve beyond loopback without a token.")
    ] = False,
) -> None:
    """Serve the review web app: pending plans, summaries, diffs, decisions, run timelines."""
    import uvicorn

    from agentflow.review.web import create_app

    loopback = host in ("127.0.0.1", "localhost")
    if not loopback and not token and not insecure:
        _fail(
            f"listening on {host} lets anyone who reaches the port approve plans: set --token "
            "(or AGENTFLOW_REVIEW_TOKEN), or pass --insecure behind an authenticating proxy"
        )
    engine = _engine(db)
    web = create_app(
        engine, allowed_hosts=["127.0.0.1", "localhost"] if loopback else None, token=token
    )
    console.print(f"review app on http://{host}:{port}/  (store {engine.url})")
    if token:
        console.print(f"open http://{host}:{port}/?token=... with the token you set")
    try:
        uvicorn.run(web, host=host, port=port, log_level="warning")
    finally:
        engine.close()


# --- planning -------------------------------------------------------------------------


@app.command("plan")
def plan_command(
    goal: Annotated[str, typer.Argument(help="What the plan should do, in plain words.")],
    agent: Annotated[str, typer.Option("--agent", "-a", help="The agent that plans and runs.")],
    db: DbOption = None,
    app_path: AppOption = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="A run parameter KEY=JSON (repeat).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="litellm model name (default: $AGENTFLOW_MODEL).")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Drive the run here to its end.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 300.0,
) -> None:
    """Plan a goal for an agent (or reuse its approved plan) and start the run: plan_and_run."""
    from agentflow.errors import AgentflowError
    from agentflow.planner import plan_and_run

    params: dict[str, Any] = {}
    for item in param or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            _fail(f"--param takes KEY=VALUE, not {item!r}")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    engine = _engine(db, app_path)
    try:
        result = plan_and_run(
            goal, agent, params, engine=engine, model=model, wait=wait, timeout=timeout
        )
    except AgentflowError as exc:
        _fail(str(exc))
        return
    finally:
        engine.close()
    console.print(result.message)
    summary = result.plan.summary
    console.print(
        f"plan {result.plan.id} ({result.plan.agent_id} v{result.plan.version}) "
        f"{result.plan.status}, risk {summary.get('risk', '-')}; run {result.run_id}: "
        f"{result.status}"
    )
    if result.output is not None:
        console.print(f"output: {short(result.output, 200)}")


# --- demo ---------------------------------------------------------------------------------


@app.command()
def demo(
    db: DbOption = None,
    recipe: Annotated[str, typer.Option(help="The cookbook recipe to run.")] = "order_followup",
) -> None:
    """Run a cookbook plan end to end: plan, review, run, sleep, event, step timeline."""
    from agentflow.demo import run_demo

    raise typer.Exit(run_demo(db, recipe, console))


def main() -> None:
    """Entry point of the `agentflow` console script."""
    app()


if __name__ == "__main__":
    main()
