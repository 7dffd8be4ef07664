"""The `agentflow` command: check plans, run workers, inspect runs, review plans, run the demo."""

from __future__ import annotations

import importlib
import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from agentflow.states import PlanState, RunState
from agentflow.terminal import duration_text, short, simulation_table, timeline_table, when

if TYPE_CHECKING:
    from agentflow.review.context import ReviewContext
    from agentflow.run import Run

T = TypeVar("T")

EXIT_CODES = (
    "Exit codes: 0 done; 1 the command failed (a plan with problems, no such run or plan, a "
    "state that forbids it); 2 a usage error (an unknown option or value, a missing argument)."
)
app = typer.Typer(
    help="agentflow: AI agents write their own durable workflows.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
)
runs_app = typer.Typer(help="Inspect runs and send them events.", no_args_is_help=True)
review_app = typer.Typer(help="Review generated plans before they run.", no_args_is_help=True)
tokens_app = typer.Typer(
    help="API tokens for agentflow serve and agentflow mcp (roles agent, reviewer, admin).",
    no_args_is_help=True,
)
app.add_typer(runs_app, name="runs")
app.add_typer(review_app, name="review")
app.add_typer(tokens_app, name="tokens")

console = Console(width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True, soft_wrap=True)
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


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"agentflow {version('agentflow')}")
        raise typer.Exit(0)


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """agentflow: AI agents write their own durable workflows."""


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


def _missing_store(db: str | None) -> str | None:
    """The URL of a SQLite store that does not exist yet (a read must not create it)."""
    from sqlalchemy.engine import make_url

    from agentflow.engine import database_url

    url = database_url(db)
    if not url.startswith("sqlite"):
        return None
    path = make_url(url).database
    return url if path and path != ":memory:" and not Path(path).exists() else None


def _reading_engine(db: str | None, what: str, as_json: bool) -> Any:
    """The engine for a command that only reads; None (after saying so) when there is no store."""
    missing = _missing_store(db)
    if missing is None:
        return _engine(db)
    if as_json:
        _print_json([])
    else:
        err_console.print(f"no {what}: there is no store at {missing} (nothing was created)")
    return None


def _existing_engine(db: str | None, not_found: str) -> Any:
    """The engine of a store that exists; a command that reads one thing fails without it."""
    missing = _missing_store(db)
    if missing is not None:
        _fail(f"{not_found}: there is no store at {missing}")
    return _engine(db)


def _say_empty(engine: Any, what: str) -> None:
    err_console.print(f"no {what} in the store at {engine.url}")


def _read_run(db: str | None, run_id: str, read: Callable[[Run], T]) -> T:
    """What `read` takes from a run of an existing store; no store or no such run fails."""
    from agentflow.errors import AgentflowError

    engine = _existing_engine(db, f"no run with id {run_id!r}")
    try:
        return read(engine.get_run(run_id))
    except AgentflowError as exc:
        _fail(str(exc))


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def _usage(message: str) -> NoReturn:
    """A usage error: the command line itself is wrong (exit 2, like click's own)."""
    console.print(f"[red]usage error:[/red] {message}")
    raise typer.Exit(2)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


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
    as_json: JsonOption = False,
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
    if as_json:
        reports = [_check_report(path, allowed) for path in files]
        _print_json(reports if len(reports) > 1 else reports[0])
        raise typer.Exit(0 if all(r["ok"] for r in reports) else 1)
    status = 0
    for path in files:
        status = max(status, check_main(path, allowed, out=sys.stdout))
    raise typer.Exit(status)


def _check_report(path: str, allowed: list[str] | None) -> dict[str, Any]:
    from agentflow.errors import PlanValidationError
    from agentflow.plan import ToolSpec, compile_plan

    try:
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {path}: {exc}")
    tools = None if allowed is None else {n: ToolSpec.unknown(n) for n in allowed}
    try:
        plan = compile_plan(source, tools, filename=path)
    except PlanValidationError as exc:
        return {"path": path, "ok": False, "diagnostics": [d.model_dump() for d in exc.diagnostics]}
    return {
        "path": path,
        "ok": True,
        "diagnostics": [],
        "warnings": [w.model_dump() for w in plan.warnings],
        "summary": plan.summary.model_dump(mode="json"),
    }


# --- worker -------------------------------------------------------------------------------


@app.command()
def worker(
    db: DbOption = None,
    app_path: AppOption = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Runs executed at once.")
    ] = 1,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format", help="text, or json: one JSON object per line (each activation)."
        ),
    ] = "text",
) -> None:
    """Run due runs forever, in this process; stops cleanly on SIGTERM or Ctrl-C."""
    from agentflow.log_format import LOG_FORMATS, configure_logging

    if log_format not in LOG_FORMATS:
        _usage(f"--log-format {log_format!r} is not one of {', '.join(LOG_FORMATS)}")
    configure_logging(log_format)
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
    status: Annotated[RunState | None, typer.Option(help="Only runs with this status.")] = None,
    agent: Annotated[str | None, typer.Option(help="Only this agent's runs.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first."""
    from agentflow.run import run_status_of

    engine = _reading_engine(db, "runs", as_json)
    if engine is None:
        return
    rows = engine.store.list_runs(agent, status)
    if as_json:
        _print_json([run_status_of(r, []).model_dump(mode="json") for r in rows])
        return
    if not rows:
        _say_empty(engine, "runs")
        return
    table = Table("run", "agent", "plan", "status", "created", "updated")
    for row in rows:
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
def runs_show(run_id: str, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show a run and its step timeline."""
    status = _read_run(db, run_id, lambda run: run.status())
    if as_json:
        _print_json(status.model_dump(mode="json"))
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


ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="Why: kept in the run's history.")
]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who asks, for the run's history (default: your user name)."),
]


@runs_app.command("history")
def runs_history(run_id: str, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show a run's append-only history: every change to it, with who asked and why."""
    from agentflow.terminal import history_table

    history = _read_run(db, run_id, lambda run: run.history())
    if as_json:
        _print_json([entry.model_dump(mode="json") for entry in history])
        return
    console.print(history_table(history))


@runs_app.command("send-event")
def runs_send_event(
    run_id: str,
    event_type: Annotated[str, typer.Argument(metavar="TYPE")],
    payload: Annotated[str, typer.Argument(metavar="JSON")] = "null",
    db: DbOption = None,
    event_id: Annotated[
        str | None,
        typer.Option("--id", help="Idempotency key: an id the run already got is not resent."),
    ] = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send an event (with a JSON payload) to a run."""
    import getpass

    from agentflow.errors import AgentflowError

    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        _fail(f"the payload is not JSON: {exc}")
        return
    engine = _engine(db)
    try:
        run = engine.get_run(run_id)
        delivered = run.send_event(event_type, data, id=event_id, actor=actor or getpass.getuser())
    except AgentflowError as exc:
        _fail(str(exc))
    if as_json:
        _print_json({"run_id": run_id, "type": event_type, "id": event_id, "delivered": delivered})
    elif delivered:
        console.print(f"sent {event_type!r} to {run_id}")
    else:
        console.print(f"{run_id} already received event id {event_id!r}; not sent again")


def _control(
    run_id: str,
    db: str | None,
    action: str,
    as_json: bool,
    by: tuple[str | None, str | None] = (None, None),
    **options: Any,
) -> None:
    import getpass

    from agentflow.errors import AgentflowError

    actor, reason = by
    engine = _engine(db)
    try:
        run = engine.get_run(run_id)
        getattr(run, action)(**options, actor=actor or getpass.getuser(), reason=reason)
        status = engine.get_run(run_id).status()
    except AgentflowError as exc:
        _fail(str(exc))
        return
    if as_json:
        _print_json(status.model_dump(mode="json"))
        return
    console.print(f"{action}: run {run_id} is now {status.status}")


@runs_app.command("pause")
def runs_pause(
    run_id: str,
    db: DbOption = None,
    reason: ReasonOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pause a run at its next step boundary."""
    _control(run_id, db, "pause", as_json, (actor, reason))


@runs_app.command("resume")
def runs_resume(
    run_id: str,
    db: DbOption = None,
    reason: ReasonOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resume a paused run."""
    _control(run_id, db, "resume", as_json, (actor, reason))


@runs_app.command("terminate")
def runs_terminate(
    run_id: str,
    db: DbOption = None,
    reason: ReasonOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Terminate a run for good."""
    _control(run_id, db, "terminate", as_json, (actor, reason))


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
    reason: ReasonOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Restart a run: from the start, from a named step, or onto another plan version."""
    _control(run_id, db, "restart", as_json, (actor, reason), from_step=from_step, plan=plan)


# --- review -------------------------------------------------------------------------------


@review_app.command("list")
def review_list(
    db: DbOption = None,
    all_plans: Annotated[bool, typer.Option("--all", help="Every plan, not only pending.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List plans awaiting review (or all plans)."""
    engine = _reading_engine(db, "plans", as_json)
    if engine is None:
        return
    rows = engine.store.list_plans(None, None if all_plans else PlanState.PENDING)
    if as_json:
        from agentflow.store.mappers import plan_version_of

        _print_json([plan_version_of(r).model_dump(mode="json") for r in rows])
        return
    if not rows:
        _say_empty(engine, "plans" if all_plans else "plans awaiting review")
        return
    table = Table("id", "agent", "version", "status", "approvals", "risk", "origin", "goal")
    for row in rows:
        table.add_row(
            str(row.id),
            row.agent_id,
            str(row.version),
            row.status,
            f"{row.approvals_given} of {row.approvals_required}",
            str(row.summary.get("risk", "-")),
            row.origin,
            short(row.goal or "", 40),
        )
    console.print(table)


@review_app.command("show")
def review_show(plan_id: int, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show a plan version: its summary, its source and its decisions."""
    from agentflow.errors import NotFound

    engine = _existing_engine(db, f"no plan version with id {plan_id}")
    try:
        plan = engine.get_plan(plan_id)
    except NotFound as exc:
        _fail(str(exc))
        return
    context = engine.reviews.context(plan_id)
    if as_json:
        decisions = engine.reviews.decisions(plan_id)
        _print_json(
            {
                **plan.model_dump(mode="json"),
                "approvals": plan.approvals_text,
                "decisions": decisions,
                "context": context.model_dump(mode="json"),
            }
        )
        return
    summary = plan.summary
    console.print(
        f"plan {plan.id}: agent {plan.agent_id} v{plan.version}  [bold]{plan.status}"
        f"[/bold]  risk {summary.risk}  {plan.approvals_text}",
        markup=True,
        highlight=False,
    )
    if plan.goal:
        console.print(f"goal: {plan.goal}", markup=False)
    for reason in summary.risk_reasons:
        console.print(f"  - {reason}", markup=False)
    _print_review_context(context)
    steps = Table("line", "kind", "name", "tool", "in loop")
    for step in summary.steps:
        tool = step.tool
        steps.add_row(
            str(step.line),
            step.kind,
            str(step.name),
            ", ".join(tool) if isinstance(tool, list) else str(tool or ""),
            "yes" if step.in_loop else "",
        )
    console.print(steps)
    console.print(plan.source)
    for decision in engine.reviews.decisions(plan_id):
        console.print(
            f"{decision['decision']} by {decision['reviewer']}: {decision.get('comment') or ''}"
        )


def _print_review_context(context: ReviewContext) -> None:
    """The reviewer's context of `review show`, as plain lines (no markup from stored text)."""
    lines: list[str] = []
    if context.queued_run_id:
        params = json.dumps(context.queued_params, ensure_ascii=False, default=str)
        verb = "restarts" if context.repair else "starts"
        lines.append(f"approving {verb} run {context.queued_run_id} with params {params}")
    repair = context.repair
    if repair is not None:
        error = repair.error or {}
        lines.append(
            f"repairs run {repair.run_id} ({repair.status}): "
            f"{error.get('type', '')}: {error.get('message', '')}"
        )
        lines.append(f"  keeps: {', '.join(repair.kept_steps) or '(no checkpoint)'}")
    for reason in context.risk_reasons:
        lines.append(f"  ! {reason}")
    if context.base_version is not None:
        lines.append(f"what changed against v{context.base_version} ({context.base_reason}):")
        lines.extend(f"  - {change}" for change in context.changes or ["(nothing)"])
    for line in lines:
        console.print(line, markup=False, highlight=False)


@review_app.command("diff")
def review_diff(plan_id: int, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Diff a plan version against its agent's last approved version."""
    from agentflow.errors import NotFound

    engine = _existing_engine(db, f"no plan version with id {plan_id}")
    try:
        diff = engine.reviews.diff(plan_id)
    except NotFound as exc:
        _fail(str(exc))
    if as_json:
        _print_json({"plan_id": plan_id, "diff": diff})
        return
    console.print(diff or "(no difference)", markup=False)


def _decide(
    kind: str,
    plan_id: int,
    reviewer: str,
    comment: str | None,
    db: str | None,
    as_json: bool = False,
) -> None:
    from agentflow.errors import AgentflowError

    engine = _engine(db)
    try:
        decide = engine.reviews.approve if kind == "approve" else engine.reviews.reject
        plan = decide(plan_id, reviewer=reviewer, comment=comment)
    except (AgentflowError, ValueError) as exc:
        _fail(str(exc))
        return
    if as_json:
        _print_json(plan.model_dump(mode="json"))
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
    as_json: JsonOption = False,
) -> None:
    """Approve a plan version (a run queued for it starts)."""
    _decide("approve", plan_id, reviewer, comment, db, as_json)


@review_app.command("reject")
def review_reject(
    plan_id: int,
    reviewer: ReviewerOption = "reviewer",
    comment: CommentOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject a plan version; it never runs."""
    _decide("reject", plan_id, reviewer, comment, db, as_json)


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
    """Serve the review web app (the same server as `agentflow serve`, /api/v1 included)."""
    from agentflow.tokens import Tokens

    loopback = host in LOOPBACK_HOSTS
    engine = _engine(db)
    if not loopback and not token and not insecure and not Tokens(engine).any():
        engine.close()
        _fail(
            f"listening on {host} lets anyone who reaches the port approve plans: set --token "
            "(or AGENTFLOW_REVIEW_TOKEN) or create tokens (agentflow tokens create), or pass "
            "--insecure behind an authenticating proxy"
        )
    console.print(f"review app on http://{host}:{port}/  (store {engine.url})")
    if token:
        console.print(f"open http://{host}:{port}/?token=... with the token you set")
    _serve(engine, host, port, open_without_tokens=loopback or insecure, static_token=token)


# --- serve and tokens ---------------------------------------------------------------------

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@app.command()
def serve(
    db: DbOption = None,
    app_path: AppOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    work: Annotated[
        bool, typer.Option("--worker", help="Also run due runs in this process, as a worker.")
    ] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Serve beyond loopback with no token in the store.")
    ] = False,
) -> None:
    """Serve the HTTP API (/api/v1, reference at /docs) and the review web app (/)."""
    from agentflow.tokens import Tokens

    loopback = host in LOOPBACK_HOSTS
    engine = _engine(db, app_path)
    if not loopback and not insecure and not Tokens(engine).any():
        engine.close()
        console.print(
            f"[red]error:[/red] listening on {host} lets anyone who reaches the port in: create "
            "a token first (agentflow tokens create --role admin), or pass --insecure behind an "
            "authenticating proxy"
        )
        raise typer.Exit(2)
    console.print(
        f"agentflow on http://{host}:{port}/  (API /api/v1, reference /docs; store {engine.url})"
    )
    _serve(engine, host, port, open_without_tokens=loopback or insecure, work=work)


def _serve(
    engine: Any,
    host: str,
    port: int,
    *,
    open_without_tokens: bool,
    static_token: str | None = None,
    work: bool = False,
) -> None:
    """Run the server (and a worker thread with `work`) until interrupted; close the engine."""
    import uvicorn

    from agentflow.server import create_server

    server = create_server(
        engine,
        allowed_hosts=[*LOOPBACK_HOSTS, "[::1]"] if host in LOOPBACK_HOSTS else None,
        open_without_tokens=open_without_tokens,
        static_token=static_token,
    )
    stop = threading.Event()
    worker_thread = None
    if work:
        worker_thread = threading.Thread(
            target=engine.work, kwargs={"until_idle": False, "stop": stop}, daemon=True
        )
        worker_thread.start()
    try:
        # Open review pages hold event streams: give them a moment to end, then stop anyway.
        uvicorn.run(server, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3)
    finally:
        stop.set()
        if worker_thread is not None:
            worker_thread.join(timeout=10)
        engine.close()


@tokens_app.command("create")
def tokens_create(
    db: DbOption = None,
    agent: Annotated[
        str | None, typer.Option("--agent", help="The agent an agent token acts for.")
    ] = None,
    role: Annotated[
        str | None,
        typer.Option("--role", help="agent (the default with --agent), reviewer or admin."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Who holds it: a reviewer decides under it.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a token; its secret is printed once and only its hash is stored."""
    from agentflow.errors import AgentflowError
    from agentflow.tokens import TokenRole, Tokens

    chosen = role or (TokenRole.AGENT.value if agent else None)
    if chosen is None:
        _usage("name the token's role: --agent ID, --role reviewer --name NAME, or --role admin")
    if chosen not in {r.value for r in TokenRole}:
        _usage(f"--role {chosen!r} is not one of {', '.join(r.value for r in TokenRole)}")
    engine = _engine(db)
    try:
        secret, info = Tokens(engine).create(str(chosen), agent_id=agent, name=name)
    except AgentflowError as exc:
        _fail(str(exc))
        return
    finally:
        engine.close()
    if as_json:
        _print_json({"token": secret, **info.model_dump(mode="json")})
        return
    scope = f" for agent {info.agent_id}" if info.agent_id else ""
    console.print(f"token {info.id}: {info.role} {info.name!r}{scope}; keep it, it is shown once:")
    print(secret)


@tokens_app.command("list")
def tokens_list(
    db: DbOption = None,
    revoked: Annotated[bool, typer.Option("--all", help="Revoked tokens too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List tokens (never their secrets)."""
    from agentflow.tokens import Tokens

    engine = _engine(db)
    try:
        found = Tokens(engine).list(include_revoked=revoked)
    finally:
        engine.close()
    if as_json:
        _print_json([t.model_dump(mode="json") for t in found])
        return
    table = Table("id", "role", "name", "agent", "created", "revoked")
    for token in found:
        table.add_row(
            token.id,
            token.role,
            token.name,
            token.agent_id or "",
            when(token.created_at),
            when(token.revoked_at) if token.revoked_at else "",
        )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (tok_...).")],
    db: DbOption = None,
) -> None:
    """Revoke a token: requests with it are refused from now on."""
    from agentflow.errors import NotFound
    from agentflow.tokens import Tokens

    engine = _engine(db)
    try:
        Tokens(engine).revoke(token_id)
    except NotFound as exc:
        _fail(str(exc))
    finally:
        engine.close()
    console.print(f"revoked {token_id}")


@app.command("mcp")
def mcp_command(
    agent: Annotated[str, typer.Option("--agent", "-a", help="The agent its tools act for.")],
    db: DbOption = None,
    app_path: AppOption = None,
    transport: Annotated[
        str, typer.Option(help="stdio (for a local MCP client) or streamable-http.")
    ] = "stdio",
    host: Annotated[str, typer.Option(help="Interface for streamable-http (loopback).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port for streamable-http.")] = 8766,
    work: Annotated[
        bool, typer.Option("--worker", help="Also run due runs in this process, as a worker.")
    ] = False,
) -> None:
    """Serve one agent's tools and its plans and runs as resources over MCP.

    Tools: check_plan, submit_plan, plan_and_run, start_run, get_run, list_runs, send_event.
    """
    if transport not in ("stdio", "streamable-http"):
        _usage(f"--transport {transport!r} is not stdio or streamable-http")
    if transport == "streamable-http" and host not in LOOPBACK_HOSTS:
        _usage("the MCP server has no sign-in: serve streamable-http on loopback only")
    try:
        from agentflow.mcp_server import create_mcp_server
    except ImportError:
        _fail("agentflow mcp needs the mcp package: pip install 'agentflow[mcp]'")
    from agentflow.errors import NotFound

    engine = _engine(db, app_path)
    try:
        server = create_mcp_server(engine, agent)
    except NotFound as exc:
        engine.close()
        _fail(str(exc))
    stop = threading.Event()
    worker_thread = None
    if work:
        worker_thread = threading.Thread(
            target=engine.work, kwargs={"until_idle": False, "stop": stop}, daemon=True
        )
        worker_thread.start()
    try:
        if transport == "stdio":
            server.run("stdio")
        else:
            server.run("streamable-http", host=host, port=port)
    finally:
        stop.set()
        if worker_thread is not None:
            worker_thread.join(timeout=10)
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
    as_json: JsonOption = False,
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
    if as_json:
        _print_json(result.model_dump())
        return
    console.print(result.message)
    summary = result.plan.summary
    console.print(
        f"plan {result.plan.id} ({result.plan.agent_id} v{result.plan.version}) "
        f"{result.plan.status}, risk {summary.risk}; run {result.run_id}: "
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
