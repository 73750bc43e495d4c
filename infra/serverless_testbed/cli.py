"""The `testbed` command line.

Errors end in one place, `ErrorBoundary.invoke`: every `TestbedError` a command raises
(and every usage error) is printed as one line on standard error and the command exits
with the error's code (`serverless_testbed.errors.EXIT_CODES`, the table in README.md). Settings come
from `Settings.from_env` once per command, the options given winning over the environment.
Heavy modules (boto3, the deployer, the engines, Faker) are imported inside the commands
that use them, so `testbed --help` answers without loading them.
"""

from __future__ import annotations

import shlex
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from serverless_testbed.errors import (
    INTERRUPTED_EXIT_CODE,
    RUN_PROBLEMS_EXIT_CODE,
    EngineError,
    EngineNotUp,
    TestbedError,
)
from serverless_testbed.settings import LOCALSTACK_VERSION, Settings, Target
from serverless_testbed.terminal import FittedConsole
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from rich.console import RenderableType
    from serverless_testbed.deploy import Deployer
    from serverless_testbed.engine import Engine
    from serverless_testbed.engine.embedded import EngineRecord
    from serverless_testbed.progress import Progress
    from serverless_testbed.runs import RunResult
    from serverless_testbed.stack.planner import Change
    from serverless_testbed.stack.stack import Stack

console = FittedConsole()
errors = FittedConsole(stderr=True)


def report_error(message: str) -> None:
    """An error as one line on standard error; a multi-line message (a log tail) follows indented."""
    first, *rest = str(message).strip().splitlines() or [""]
    errors.print(f"[red]error:[/red] {escape(first)}", soft_wrap=True, highlight=False)
    for line in rest:
        errors.print(f"  {line}", soft_wrap=True, markup=False, highlight=False)


class WholeHelp(TyperGroup):
    """A group whose command list gives each command's first sentence whole, wrapped at the
    terminal's width, where click would cut it short with "..."."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class ErrorBoundary(WholeHelp):
    """The command group that ends every command: the one place errors are caught."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except TestbedError as err:
            report_error(str(err))
            raise typer.Exit(err.exit_code) from err
        except KeyboardInterrupt as err:  # Ctrl-C (and SIGTERM while `up` starts an engine)
            report_error("interrupted; nothing started by this command is left running")
            raise typer.Exit(INTERRUPTED_EXIT_CODE) from err
        except typer.TyperException as err:  # click's usage errors: unknown option, bad value
            where = getattr(getattr(err, "ctx", None), "command_path", None)
            report_error(err.format_message() + (f" (see `{where} --help`)" if where else ""))
            raise typer.Exit(err.exit_code) from err


def workflows_help() -> str:
    """The workflows, as the registry has them now: the end of `testbed run --help`."""
    from serverless_testbed.registry import workflows

    lines = [f"{name}: {declared.summary}; started by {declared.trigger}" for name, declared in workflows().items()]
    return "Workflows:\n\n" + "\n\n".join(lines)


def kinds_help() -> str:
    """The data kinds and their formats, as `fixtures.kinds()` has them now: the end of `testbed fixtures --help`."""
    from serverless_testbed.generators import kinds
    from serverless_testbed.registry import workflows

    lines = []
    for kind in kinds():
        formats = workflows()[kind].formats if kind in workflows() else ("json",)
        lines.append(f"{kind}: {' or '.join(formats)} (default {formats[0]})")
    return "Kinds (one per workflow) and their formats:\n\n" + "\n\n".join(lines)


class ListsWorkflows(TyperCommand):
    """A command whose help ends with the workflows, read from the registry when shown."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.epilog = workflows_help()
        super().format_help(ctx, formatter)


class ListsKinds(TyperCommand):
    """A command whose help ends with the data kinds, read from `fixtures.kinds()` when shown."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.epilog = kinds_help()
        super().format_help(ctx, formatter)


# Help is click's plain layout (rich_markup_mode=None): typer's rich panels show a `<bool>`
# metavar on every flag and fold the choices of --target mid-word at 80 columns.
app = typer.Typer(
    cls=ErrorBoundary,
    help="Run AWS serverless data pipelines on an embedded LocalStack, test them, deploy them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"max_content_width": 120},  # as wide as the terminal, up to 120 columns
)


def show_version(value: bool) -> None:
    """`testbed --version`: one line, then exit."""
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("serverless-testbed")
        except PackageNotFoundError:
            installed = "not installed"
        console.print(
            f"testbed {installed} (serverless-testbed; engine: LocalStack {LOCALSTACK_VERSION})", highlight=False
        )
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=show_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Run AWS serverless data pipelines on an embedded LocalStack, test them, deploy them."""


def known_workflow(value: str) -> str:
    """A workflow the registry declares (checked when the command runs), or a usage error naming them."""
    from serverless_testbed.registry import no_workflows_message, workflows

    known = workflows()
    if not known:
        raise typer.BadParameter(no_workflows_message())
    if value not in known:
        raise typer.BadParameter(f"unknown workflow {value!r}; choose from {', '.join(known)}")
    return value


def known_workflows(values: list[str] | None) -> list[str] | None:
    """Every -w value a known workflow."""
    for value in values or []:
        known_workflow(value)
    return values


def writable_file(value: Path | None) -> Path | None:
    """A file the command can write: not a folder, and no file stands where its folders go
    (missing folders are made when it is written, `made_folder`)."""
    if value is not None:
        if value.is_dir():
            raise typer.BadParameter(f"{value} is a folder; name a file")
        for parent in value.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise typer.BadParameter(f"{parent} is a file, so {value} cannot be written")
                break
    return value


def made_folder(path: Path) -> Path:
    """`path`, its folder made if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


TargetOption = Annotated[
    Target | None,
    typer.Option("--target", "-t", help="where to run (default: $TESTBED_TARGET or embedded)"),
]
PrefixOption = Annotated[
    str | None,
    typer.Option(help="resource name prefix, so several stacks share one engine (default: $TESTBED_PREFIX or tb)"),
]
AccountOption = Annotated[
    str | None,
    typer.Option(help="aws target: the account you mean (default: $TESTBED_ACCOUNT_ID)"),
]
WorkflowOption = Annotated[
    list[str] | None,
    typer.Option("--workflow", "-w", callback=known_workflows, help="a workflow (repeatable); default: all"),
]
ReportOption = Annotated[
    Path | None,
    typer.Option(
        "--report",
        callback=writable_file,
        help="write the HTML report (pictures of every path) to this file; default: a report of its own "
        "in testbed-reports/ (index.html lists them, latest.html is the newest)",
    ),
]
PortOption = Annotated[
    int | None,
    typer.Option("--port", envvar="TESTBED_PORT", min=1, max=65535, help="embedded: the port (default: a free one)"),
]


def stack_for(workflows: list[str] | None = None) -> Stack:
    """One stack of the chosen workflows (all of the project's by default), from the registry;
    NoWorkflows, in one line, when the project declares none (imported here: the registry loads
    the stack model, which `testbed --help` does without)."""
    from serverless_testbed.registry import stack_for as joined

    return joined(workflows)


def describe_orphan(record: EngineRecord) -> str:
    """An engine found by its scope marker, in words."""
    return f"engine {record.engine_id} of this project (pid {record.pid}, {record.endpoint_url})"


@contextmanager
def interrupted_by_termination() -> Iterator[None]:
    """SIGTERM and SIGHUP interrupt the block as Ctrl-C does, so its clean-up runs."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@app.command()
def up(
    target: TargetOption = None,
    port: PortOption = None,
    account_id: AccountOption = None,
    setting: Annotated[
        list[str] | None,
        typer.Option(
            help="a LocalStack setting NAME=VALUE for the engine; repeat for several (docs/cloudformation.md)"
        ),
    ] = None,
) -> None:
    """Start an engine and leave it running (embedded: a background LocalStack process)."""
    from serverless_testbed.engine import engine_for
    from serverless_testbed.engine.embedded import EmbeddedEngine
    from serverless_testbed.engine.localstack_settings import parse_assignments
    from serverless_testbed.errors import BadInput
    from serverless_testbed.state import (
        forget_running,
        orphans,
        record_path,
        recorded_engine,
        save_running,
        scope,
        scope_marker,
        state_lock,
    )

    settings = Settings.from_env(target=target, account_id=account_id)
    given = parse_assignments(setting or [])
    if given and settings.target != "embedded":
        raise BadInput(f"--setting is for the embedded engine; the target is {settings.target}")
    if settings.target != "embedded":
        engine = engine_for(settings).start()
        console.print(f"{settings.target} engine answering at {engine.endpoint_url}")
        return
    # Held from the look at the record to saving the new one: concurrent ups start one engine.
    with state_lock():
        found = recorded_engine()
        if found is not None and found.state == "up":
            console.print(f"already up at {found.record.endpoint_url} (testbed down stops it)")
            return
        if found is not None:
            console.print(f"{found.describe()}; clearing it")
            found.engine.stop()
            forget_running()
        if strays := orphans():
            raise EngineError(
                f"{describe_orphan(strays[0])} runs without a record; `testbed down` stops it (one engine per project)"
            )
        console.print(f"starting an embedded engine (LocalStack {LOCALSTACK_VERSION}, no Docker) for {scope()}")
        started = time.monotonic()
        embedded = EmbeddedEngine(settings, detach=True, port=port, scope=scope_marker(), settings_given=given)
        try:
            with interrupted_by_termination():
                # The record is written as soon as the process exists: nothing can leave it unrecorded.
                embedded.start(on_spawn=lambda: save_running(embedded))
        except OSError as err:  # the record could not be written (a full disk): the engine was stopped
            raise EngineError(
                f"cannot write the engine record {record_path()} ({err.strerror or err}); the engine was stopped: "
                f"free some space there, or set $TESTBED_STATE_DIR to a folder that has it"
            ) from err
        except BaseException:
            forget_running()  # the engine it named was stopped
            raise
    console.print(
        f"[green]up[/green] LocalStack {LOCALSTACK_VERSION} (embedded) at {embedded.endpoint_url} "
        f"in {time.monotonic() - started:.1f} s\n"
        f"  logs: {embedded.log_path}\n"
        f"  record: {record_path()} (scope: {scope()})\n"
        '  point the AWS CLI at it:  eval "$(testbed env)"'
    )


@app.command()
def down() -> None:
    """Stop the engine `testbed up` started; nothing of it is left running."""
    from serverless_testbed.engine.embedded import EmbeddedEngine, RecordUnreadable
    from serverless_testbed.state import forget_running, orphans, record_path, recorded_engine, scope, state_lock

    with state_lock():
        try:
            found, unreadable = recorded_engine(), None
        except RecordUnreadable as err:
            found, unreadable = None, err
        strays = orphans(except_engine=found.record.engine_id if found else None)
        for stray in strays:
            EmbeddedEngine(record=stray).stop()
            console.print(
                f"[green]down[/green] engine {stray.engine_id} (pid {stray.pid}, it ran without a record) stopped, "
                f"{stray.root} removed",
                highlight=False,
            )
        if unreadable is not None:
            forget_running()
            console.print(f"removed the unreadable engine record {record_path()}", highlight=False)
        if found is None:
            if unreadable is None and not strays:
                console.print(f"nothing is up (scope: {scope()})")
            return
        record = found.record
        stopped, removed = record.supervisor_is_ours(), record.root_is_ours()
        if stopped:
            console.print(f"stopping engine {record.engine_id} (pid {record.pid})", highlight=False)
        found.engine.stop()
        forget_running()
    if stopped or removed:
        what = "stopped" if stopped else "was not running"
        where = f"{record.root} removed" if removed else f"{record.root} left as it is (not confirmed as its own)"
        console.print(f"[green]down[/green] engine {record.engine_id} {what}, {where}")
    else:
        console.print(f"{found.describe()}; nothing stopped or removed, record {record_path()} cleared")


@app.command()
def status(prefix: PrefixOption = None, target: TargetOption = None) -> None:
    """Show the running engine (endpoint, health, processes) and which workflows are deployed on it."""
    from serverless_testbed.state import orphans, record_path, recorded_engine, scope
    from serverless_testbed.terminal import key_values

    settings = Settings.from_env(prefix=prefix, target=target)
    if settings.target == "compose":  # its deploy hook's verdict, and where to look when it failed
        from serverless_testbed.compose_status import compose_status
        from serverless_testbed.settings import COMPOSE_ENDPOINT

        compose = compose_status(settings.endpoint_url or COMPOSE_ENDPOINT)
        console.print("\n".join(compose.lines()), highlight=False, markup=False)
        raise typer.Exit(code=0 if compose.healthy else EngineNotUp.exit_code)
    found = recorded_engine()
    strays = orphans(except_engine=found.record.engine_id if found else None)
    for stray in strays:
        console.print(
            f"[red]{describe_orphan(stray)} runs without a record[/red]; testbed down stops it", highlight=False
        )
    if found is None:
        if not strays:
            console.print(f"no engine is up (scope: {scope()}; testbed up starts one)")
        _mention_legacy_record()
        raise typer.Exit(code=EngineNotUp.exit_code)
    if found.state != "up":
        console.print(f"[red]{found.describe()}[/red]", highlight=False)
        console.print(f"  scope: {scope()}; testbed up starts a new engine, testbed down clears the record")
        raise typer.Exit(code=EngineNotUp.exit_code)
    engine, record = found.engine, found.record
    rows = [
        ("target", f"embedded (LocalStack {LOCALSTACK_VERSION}, no Docker)"),
        ("scope", f"{scope()}; record {record_path()}"),
        ("endpoint", engine.endpoint_url or ""),
        ("region", record.region),
        ("supervisor pid", str(record.pid)),
        ("processes", str(len(engine.processes()))),
        ("directory", record.root),
        ("log", str(engine.log_path)),
    ]
    console.print(key_values(console, "testbed engine", rows))  # first: it is known at once
    console.print(key_values(console, f"workflows (prefix {settings.prefix})", _deployed_rows(engine, settings.prefix)))


def _deployed_rows(engine: Engine, prefix: str) -> list[tuple[str, str]]:
    """One row per workflow of the registry: deployed, partly or not (with `prefix`), and
    the URL of each API a deployed workflow serves. Every resource is read once, all at once."""
    from serverless_testbed.registry import workflows
    from serverless_testbed.stack.model import RestApi

    declared = workflows()
    if not declared:
        return [("workflows", "none declared in this project (testbed new workflow NAME)")]
    deployer = deployer_for(engine, prefix)
    stacks = {name: stack_for([name]) for name in declared}
    rows = []
    for name, presence in deployer.presences(stacks, stack_for()).items():
        rows.append((f"workflow {name}", presence.describe()))
        for api in stacks[name].of_kind(RestApi) if presence.complete else ():
            url = api.url(deployer.clients, deployer.ctx, engine.endpoint_url)
            rows.append((f"{api.method} /{api.path}", url or "not deployed"))
    return rows


def _mention_legacy_record() -> None:
    from serverless_testbed.state import legacy_record_path, record_path

    legacy = legacy_record_path()
    if legacy.is_file() and legacy != record_path():
        console.print(
            f"  note: {legacy} is a record from before records were kept per checkout; "
            f"TESTBED_STATE_DIR={legacy.parent} testbed down stops the engine it names"
        )


def _not_up_error() -> EngineNotUp:
    from serverless_testbed.state import recorded_engine, scope

    found = recorded_engine()
    if found is None:
        return EngineNotUp(f"no engine is up (scope: {scope()}); run `testbed up` first (or `testbed demo`)")
    return EngineNotUp(f"{found.describe()}; run `testbed up` to start a new one")


@app.command("env")
def env_command(target: TargetOption = None) -> None:
    """Print the exports that point the AWS CLI and boto3 at the engine: eval "$(testbed env)"."""
    from serverless_testbed.engine import engine_for
    from serverless_testbed.state import running_engine

    settings = Settings.from_env(target=target)
    if settings.target == "embedded":
        engine = running_engine(settings)
        if engine is None:
            raise _not_up_error()
        exports = engine.exports()
    else:
        exports = engine_for(settings).exports()
    for key, value in exports.items():
        typer.echo(f"export {key}={shlex.quote(value)}")


def connected_engine(settings: Settings) -> Engine:
    """The engine commands such as deploy and run talk to: for embedded, the one
    `testbed up` left running (the command ends with a clear error if it dies meanwhile);
    for the other targets, the target itself."""
    from serverless_testbed.engine import engine_for
    from serverless_testbed.engine.watchdog import exit_when_engine_dies
    from serverless_testbed.state import RecordedEngine, running_engine

    if settings.target == "embedded":
        engine = running_engine(settings)
        if engine is None or engine.record is None:
            raise _not_up_error()
        record = engine.record

        def report() -> NoReturn:
            gone = RecordedEngine(record, "crashed" if record.root_is_ours() else "gone", engine)
            report_error(f"the engine stopped while this command ran: {gone.describe()}")
            # Raised from a signal handler, past the polls' `except Exception`: SystemExit, not an error.
            raise SystemExit(EngineNotUp.exit_code)

        exit_when_engine_dies(record, report)
        return engine
    return engine_for(settings).start()


def deployer_for(engine: Engine, prefix: str) -> Deployer:
    """A deployer on the engine's clients, naming resources with `prefix`."""
    from serverless_testbed.deploy import Deployer

    return Deployer.for_clients(engine.client, prefix, engine.region, local=engine.settings.is_emulator)


@contextmanager
def progress_shown(on: Console | None = None) -> Iterator[Progress]:
    """Progress on `on` (standard output by default): bars on a terminal, plain lines elsewhere."""
    from serverless_testbed.progress import shown_on

    with shown_on(on or console) as progress:
        yield progress


def apply_changes(deployer: Deployer, changes: list[Change], progress: Progress, *, each: bool) -> None:
    """Make `changes`, a bar of them on a terminal; `each`: one line per change as it is
    made, with what it took (else the stage's closing line alone)."""
    from serverless_testbed.deploy import done_line

    last = time.monotonic()
    with progress.stage("deploy", total=len(changes), unit="changes") as stage:

        def done(change: Change) -> None:
            nonlocal last
            now = time.monotonic()
            if each:
                progress.say(done_line(change, now - last))
            last = now
            stage.advance()

        deployer.apply(changes, report=done, notify=lambda message: progress.say(f"  waiting: {message}"))


@app.command()
def deploy(
    target: TargetOption = None,
    prefix: PrefixOption = None,
    workflow: WorkflowOption = None,
    plan_only: Annotated[bool, typer.Option("--plan", help="print the calls it would make, make none")] = False,
    account_id: AccountOption = None,
    template: Annotated[
        Path | None, typer.Option(help="a SAM or CloudFormation template: sam build, then sam deploy (docs/sam.md)")
    ] = None,
    stack_name: Annotated[str | None, typer.Option(help="the stack's name, with --template")] = None,
) -> None:
    """Deploy the workflows' stack; a second deploy of an unchanged stack changes nothing."""
    from serverless_testbed.deploy import describe

    settings = Settings.from_env(target=target, account_id=account_id, prefix=prefix)
    if template is not None or stack_name is not None:
        from serverless_testbed.errors import BadInput
        from serverless_testbed.sam import deploy_template

        if template is None or not stack_name:
            raise BadInput("--template and --stack-name go together: testbed deploy --template T --stack-name NAME")
        deploy_template(template, stack_name, connected_engine(settings).exports(), say=console.print)
        return
    stack = stack_for(workflow)  # first: a project without workflows is told so before any engine is asked
    what = (
        f"{'plan' if plan_only else 'deploy'} {', '.join(workflow or ['every workflow'])} (prefix {settings.prefix}, "
        f"target {settings.target}): reading {len(stack.resources)} resources"
    )
    if plan_only:  # the output is the plan alone; a terminal sees a spinner meanwhile, which leaves nothing
        with console.status(what) if console.is_terminal else nullcontext():
            deployer = deployer_for(connected_engine(settings), settings.prefix)
            changes = deployer.plan(stack)
    else:
        console.print(what, highlight=False)
        deployer = deployer_for(connected_engine(settings), settings.prefix)
        changes = deployer.plan(stack)
    if plan_only or not changes:
        console.print(describe(changes, calls=plan_only), markup=False, highlight=False)
        return
    with progress_shown() as progress:
        apply_changes(deployer, changes, progress, each=True)


@app.command()
def destroy(
    target: TargetOption = None,
    prefix: PrefixOption = None,
    workflow: WorkflowOption = None,
    account_id: AccountOption = None,
) -> None:
    """Remove everything deploy made (and what the workflows made at run time), nothing else."""
    settings = Settings.from_env(target=target, account_id=account_id, prefix=prefix)
    stack = stack_for(workflow)
    console.print(
        f"destroy {', '.join(workflow or ['every workflow'])} (prefix {settings.prefix}, "
        f"target {settings.target}): reading {len(stack.resources)} resources",
        highlight=False,
    )
    deployer = deployer_for(connected_engine(settings), settings.prefix)
    changes = deployer.destroy_plan(stack)
    if not changes:
        console.print("nothing to delete")
        return
    with progress_shown() as progress:
        apply_changes(deployer, changes, progress, each=True)


@app.command(cls=ListsKinds)
def fixtures(
    kind: Annotated[
        str, typer.Argument(callback=known_workflow, help="the workflow whose data to generate (listed below)")
    ],
    records: Annotated[int, typer.Option(min=0)] = 20,
    invalid_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.1,
    seed: int = 7,
    format: Annotated[
        str | None, typer.Option("--format", help="the file format, for workflows whose data is a file (below)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(callback=writable_file, help="write here instead of standard output")
    ] = None,
) -> None:
    """Generate seeded test data; the same seed gives the same data."""
    from serverless_testbed.generators import dump
    from serverless_testbed.registry import UnknownWorkflow, workflow

    try:
        chosen = workflow(kind)
    except UnknownWorkflow as err:
        raise typer.BadParameter(str(err)) from err
    fmt = format or chosen.formats[0]
    if chosen.renderer and fmt not in chosen.formats:
        raise typer.BadParameter(f"{kind} data comes as {' or '.join(chosen.formats)}, not {fmt!r}")
    text = dump(kind, records, invalid_rate, seed, fmt)
    if out:
        made_folder(out).write_text(text)
        console.print(f"wrote {records} {kind} record(s) to {out}")
    else:
        typer.echo(text)


@app.command("run", cls=ListsWorkflows)
def run_command(
    workflow: Annotated[str, typer.Argument(callback=known_workflow, help="the workflow to run (listed below)")],
    target: TargetOption = None,
    prefix: PrefixOption = None,
    records: Annotated[int, typer.Option(min=1)] = 20,
    invalid_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.1,
    seed: int = 7,
    account_id: AccountOption = None,
    report: ReportOption = None,
) -> None:
    """Generate data, send it through the workflow's real trigger, wait and show what happened."""
    settings = Settings.from_env(target=target, account_id=account_id, prefix=prefix)
    # The first line comes before anything slow (boto3, the engine, Faker): the command is heard at once.
    console.print(
        f"run {workflow}: {records:,} record(s), {invalid_rate:.0%} invalid, seed {seed} "
        f"(target {settings.target}, prefix {settings.prefix})",
        highlight=False,
    )
    from serverless_testbed.registry import UnknownWorkflow
    from serverless_testbed.registry import workflow as declared
    from serverless_testbed.runs import RunOptions

    try:
        runner = declared(workflow).load_runner()
    except UnknownWorkflow as err:
        raise typer.BadParameter(str(err)) from err
    deployer = deployer_for(connected_engine(settings), settings.prefix)
    stack = stack_for([workflow])
    with progress_shown() as progress:
        deploy_first(deployer, stack, workflow, progress)
        result = runner(deployer, stack, RunOptions(records, invalid_rate, seed, progress=progress))
    show_run(result)
    with progress_shown() as progress:
        show_report([result], deployer, report, progress)
    if not result.ok:
        raise typer.Exit(code=RUN_PROBLEMS_EXIT_CODE)


def deploy_first(deployer: Deployer, stack: Stack, name: str, progress: Progress) -> None:
    """Deploy `name` before running it when the target lacks it or holds another shape of
    it, saying so (nothing is said when it is deployed as its model says)."""
    from serverless_testbed.deploy import tally

    with progress.stage(f"{name}: deployed resources compared with the model"):
        changes = deployer.plan(stack)
    if not changes:
        return
    state = "is not deployed" if all(change.action == "create" for change in changes) else "differs from its model"
    progress.say(
        f"{name} {state} (prefix {deployer.ctx.prefix}): deploying it first, {tally(changes)}"
        " (testbed deploy shows each change)"
    )
    apply_changes(deployer, changes, progress, each=False)


def show_report(results: list[RunResult], deployer: Deployer, report: Path | None, progress: Progress) -> None:
    """Write the report (to `report`, else one of its own in the reports folder) and say where."""
    from serverless_testbed.run_reports import FOLDER, INDEX, shown, write_run_report

    with progress.stage("report written (pictures of every path)"):
        if report is not None:
            from serverless_testbed.report.html import write_report

            line = f"report: {shown(write_report(made_folder(report), results, deployer))}"
        else:
            path = write_run_report(results, deployer)
            line = f"report: {shown(path)} (every report: {shown(FOLDER / INDEX)})"
    progress.say(line)


@app.command()
def demo(
    records: Annotated[int, typer.Option(min=1)] = 50,
    invalid_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.1,
    seed: int = 7,
    report: ReportOption = None,
) -> None:
    """The main job: start an embedded engine, deploy every workflow, run each on generated
    data, print a summary, write the HTML report, and shut the engine down."""
    console.print(
        f"demo: every workflow on {records:,} record(s), {invalid_rate:.0%} invalid, seed {seed}, "
        "on an embedded engine of its own",
        highlight=False,
    )
    from serverless_testbed.engine.embedded import EmbeddedEngine
    from serverless_testbed.registry import workflows
    from serverless_testbed.runs import RunOptions

    started = time.monotonic()
    results = []
    with progress_shown() as progress:
        with progress.stage(f"engine started (LocalStack {LOCALSTACK_VERSION}, no Docker)"):
            engine = EmbeddedEngine(Settings(target="embedded")).start()
        try:
            deployer = deployer_for(engine, "demo")
            stack = stack_for()
            with progress.stage("every workflow's resources read"):
                changes = deployer.plan(stack)
            apply_changes(deployer, changes, progress, each=False)
            for name, workflow in workflows().items():
                options = RunOptions(records, invalid_rate, seed, progress=progress)
                result = workflow.load_runner()(deployer, stack_for([name]), options)
                progress.say(run_line(result))
                results.append(result)
            show_report(results, deployer, report, progress)
        finally:
            with progress.stage("engine stopped"):
                engine.stop()
    console.print(summary(results))
    console.print(f"total {time.monotonic() - started:.1f} s; engine stopped, nothing left running")
    if not all(result.ok for result in results):
        raise typer.Exit(code=RUN_PROBLEMS_EXIT_CODE)


def run_line(result: RunResult) -> str:
    """A run in one line: `csv-etl (run 4456cecf): files 2, invalid files 1, rows 50 in 3.1 s, as expected`."""
    from serverless_testbed.terminal import counts_text

    verdict = "as expected" if result.ok else f"{len(result.problems)} problem(s)"
    run = f" (run {result.run_id})" if result.run_id else ""
    return f"{result.workflow}{run}: {counts_text(result.counts)} in {result.seconds:.1f} s, {verdict}"


def show_run(result: RunResult) -> None:
    """One line of counts, then each distinct path the executions took, with how many took it."""
    from rich.text import Text
    from serverless_testbed.terminal import hanging

    line = Text(run_line(result))
    line.stylize("bold", 0, len(result.workflow))
    verdict = "as expected" if result.ok else f"{len(result.problems)} problem(s)"
    line.stylize("green" if result.ok else "red", len(line) - len(verdict))
    console.print(line, highlight=False)
    paths = Counter((e.status, " > ".join(e.path), e.error or "") for e in result.executions)
    for (status, path, error), times in paths.most_common():
        lead = f"  {times:>4} x {status:<9} "
        console.print(hanging(console, lead, path + (f"  [{error}]" if error else "")), highlight=False)
    for problem in result.problems[:20]:
        console.print(hanging(console, "  ! ", problem), highlight=False)
    if len(result.problems) > 20:
        console.print(f"  ... and {len(result.problems) - 20} more problem(s)")


def summary(results: list[RunResult]) -> RenderableType:
    """The demo's last word: a table of the runs when the terminal is wide enough for it,
    else one line per run."""
    from rich.table import Table
    from serverless_testbed.terminal import counts_text, table_or_lines

    table = Table(title="testbed demo")
    for column in ("workflow", "executions", "records", "time", "verdict"):
        table.add_column(column)
    lines = ["testbed demo:"]
    for result in results:
        succeeded = sum(e.status == "SUCCEEDED" for e in result.executions)
        executions = f"{len(result.executions)} ({succeeded} ok, {len(result.executions) - succeeded} failed)"
        verdict = "as expected" if result.ok else f"{len(result.problems)} problem(s)"
        table.add_row(
            result.workflow,
            executions,
            counts_text(result.counts),
            f"{result.seconds:.1f} s",
            f"[green]{verdict}[/green]" if result.ok else f"[red]{verdict}[/red]",
        )
        lines.append(f"  {result.workflow}: {executions} executions, {result.seconds:.1f} s, {verdict}")
    return table_or_lines(console, table, lines)


@app.command("export")
def export_command(
    fmt: Annotated[Literal["cloudformation"], typer.Argument(help="the only format: cloudformation")],
    out: Annotated[
        Path | None,
        typer.Option(
            callback=writable_file,
            help="write the template here, the functions' zip files beside it (functions/), and print the "
            "commands that deploy them; without it, the template alone goes to standard output",
        ),
    ] = None,
    bucket: Annotated[
        str | None, typer.Option(help="an S3 bucket of yours, in the region you deploy to, for the printed commands")
    ] = None,
    prefix: PrefixOption = None,
    workflow: WorkflowOption = None,
) -> None:
    """Export the whole stack as a CloudFormation template, from the same model deploy uses.

    With --out, it prints the exact commands: `aws cloudformation package` (uploads the
    zip files to --bucket) and `aws cloudformation deploy --s3-bucket` (the template is
    over the 51,200 bytes CloudFormation takes inline, so it goes through S3 too).
    """
    import json

    from serverless_testbed.stack import cloudformation

    settings = Settings.from_env(prefix=prefix)  # a prefix no bucket name can hold is refused here
    stack = stack_for(workflow)
    if out is None:
        typer.echo(json.dumps(cloudformation.template(stack), indent=1))
        return
    path = cloudformation.write(stack, made_folder(out))
    typer.echo(f"wrote {path} and the functions' zip files under {path.parent / 'functions'}/")
    typer.echo("Deploy (AWS CLI, with the credentials and region you deploy to):")
    for command in cloudformation.deploy_commands(path, bucket or "ARTIFACT_BUCKET", settings.prefix):
        typer.echo("  " + shlex.join(command))
    if bucket is None:
        typer.echo("ARTIFACT_BUCKET: an S3 bucket of yours in that region (aws s3 mb s3://NAME); --bucket fills it in")
    typer.echo("Its Outputs (bucket names, API URL, state machine ARNs):")
    typer.echo("  " + shlex.join(cloudformation.outputs_command(settings.prefix)))
    typer.echo("Remove it (first what the router made at run time, outside the stack, then the buckets' objects):")
    for line in cloudformation.teardown_commands(stack, settings.prefix):
        typer.echo("  " + line)


@app.command()
def picture(
    name: Annotated[
        str, typer.Argument(help="a workflow (each of its state machines is drawn) or a state machine of the stack")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            callback=writable_file,
            help="the SVG file to write (default: NAME.svg); a workflow of several state machines writes "
            "one file per machine beside it, OUT-MACHINE.svg",
        ),
    ] = None,
) -> None:
    """Draw state machines (SVG): their states, Choice rules, Catch edges, Map containers."""
    from serverless_testbed.registry import workflows
    from serverless_testbed.report.dot import Picture
    from serverless_testbed.report.machines import graphs
    from serverless_testbed.report.svg import render_svg
    from serverless_testbed.run_reports import shown

    if name in workflows():
        drawn = graphs(stack_for([name]))
    else:
        every = graphs(stack_for())
        if name not in every:
            raise typer.BadParameter(
                f"{name!r} is neither a workflow ({', '.join(workflows())}) nor a state machine ({', '.join(every)})"
            )
        drawn = {name: every[name]}
    out = out or Path(f"{name}.svg")
    for machine, graph in drawn.items():
        path = out if len(drawn) == 1 else out.with_name(f"{out.stem}-{machine}{out.suffix or '.svg'}")
        made_folder(path).write_text(render_svg(Picture(graph)), encoding="utf-8")
        console.print(f"wrote {shown(path)} (state machine {machine})", highlight=False)


@app.command()
def bench(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    warm_calls: Annotated[int, typer.Option(help="warm invokes (and API calls) timed")] = 200,
    sfn_runs: Annotated[int, typer.Option(help="executions timed per state machine")] = 20,
    sales: Annotated[
        list[int] | None,
        typer.Option(help="a sales file size to ingest; repeat for several (default 1000 10000 100000)"),
    ] = None,
) -> None:
    """Measure the embedded engine: start, Lambda invokes, state machines, ingest, memory."""
    import json

    from serverless_testbed.bench import SALES_SIZES, check_examples, render, run_benchmarks

    check_examples()
    # Progress goes to stderr: the JSON on stdout stays parseable.
    with progress_shown(errors) as progress:
        progress.say("benchmarking a fresh embedded engine (numbers to read, none is checked)")
        results = run_benchmarks(
            warm_calls=warm_calls, sfn_runs=sfn_runs, sales_sizes=sales or SALES_SIZES, progress=progress
        )
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    else:
        console.print(render(results, console))


new_app = typer.Typer(
    cls=WholeHelp, help="Scaffold new parts of the project from templates.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(new_app, name="new")


@new_app.command("workflow")
def new_workflow(
    name: Annotated[str, typer.Argument(help="lower-case words joined by '-', for example invoices")],
    root: Annotated[
        Path | None,
        typer.Option(help="the project to add it to (default: the project testbed runs in, else this folder)"),
    ] = None,
) -> None:
    """Scaffold a working workflow from templates.

    Its ASL, a validating Lambda with pure rules, the stack module, a data generator, a
    runner, a unit test and an integration test; `testbed deploy` and `run` know it at once.
    In a project without [tool.testbed] (an empty folder too), pyproject.toml gains one
    naming packages under pipelines/.
    """
    from serverless_testbed.scaffold.workflow import default_root, scaffold_workflow

    chosen = (root or default_root()).resolve()
    written = scaffold_workflow(name, chosen)
    console.print(f"[green]created[/green] workflow {name} in {chosen}:")
    for path in written:
        console.print(f"  {path.relative_to(chosen)}", highlight=False)
    module = name.replace("-", "_")
    where = "" if chosen == Path.cwd().resolve() else f"cd {shlex.quote(str(chosen))} && "
    console.print(
        f"next: {where}testbed up && testbed deploy -w {name} && testbed run {name}\n"
        f"      python -m pytest tests/unit/{module} tests/integration/{module}",
        highlight=False,
    )


faults_app = typer.Typer(
    cls=WholeHelp,
    help="Inject faults into the embedded engine `testbed up` started (see `testbed faults add --help`).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(faults_app, name="faults")


def faults_client(target: Target | None) -> Any:
    """The fault endpoint of the engine `testbed up` started; only the embedded engine has one."""
    from serverless_testbed.errors import BadInput
    from serverless_testbed.faults import FaultsClient
    from serverless_testbed.state import running_engine

    settings = Settings.from_env(target=target)
    if settings.target != "embedded":
        raise BadInput(f"fault injection needs the embedded engine; the target is {settings.target}")
    engine = running_engine(settings)
    if engine is None or not engine.endpoint_url:
        raise _not_up_error()
    return FaultsClient(engine.endpoint_url)


def show_rules(rules: list[dict[str, Any]]) -> None:
    """Rules one per line: id, what they match, what they do, how often they fired."""
    if not rules:
        console.print("no fault rules")
    for rule in rules:
        where = rule.get("function") or ".".join(filter(None, (rule.get("service"), rule.get("operation") or "*")))
        extra = " ".join(f"{key}={rule[key]}" for key in ("region", "resource") if rule.get(key))
        what = rule.get("error") or rule.get("fault")
        limits = f"p={rule['probability']:g}" + (f" count={rule['count']}" if rule.get("count") is not None else "")
        delay = f" +{rule['latency_ms']}ms" if rule.get("latency_ms") else ""
        console.print(
            f"{rule['id']}  {where} {extra}  {what}{delay}  {limits}  matched={rule['matched']} fired={rule['fired']}",
            highlight=False,
        )


@faults_app.command("add")
def faults_add(
    service: Annotated[str | None, typer.Option(help="service fault: the service (dynamodb, s3, sqs, ...)")] = None,
    operation: Annotated[str | None, typer.Option(help="the operation (PutItem); default: any")] = None,
    region: Annotated[str | None, typer.Option(help="only requests to this region")] = None,
    resource: Annotated[str | None, typer.Option(help="table, bucket, queue, stream, topic (a shell pattern)")] = None,
    function: Annotated[str | None, typer.Option(help="function fault: the function name (a shell pattern)")] = None,
    fault: Annotated[
        str | None, typer.Option(help="error, latency; for functions also timeout, crash, throttle")
    ] = None,
    error: Annotated[str | None, typer.Option(help="the AWS error code (or a function's errorType)")] = None,
    message: Annotated[str | None, typer.Option(help="the error message")] = None,
    status: Annotated[int | None, typer.Option(help="HTTP status (default: AWS's for the code, else 400)")] = None,
    latency_ms: Annotated[int, typer.Option(help="delay before answering, in milliseconds")] = 0,
    probability: Annotated[float, typer.Option(help="the share of matching requests that fail")] = 1.0,
    count: Annotated[int | None, typer.Option(help="fire this many times, then stop (default: no limit)")] = None,
    target: TargetOption = None,
) -> None:
    """Add a fault rule: `testbed faults add --service dynamodb --operation PutItem
    --error ProvisionedThroughputExceededException --count 2`."""
    from serverless_testbed.faults import FaultRule

    given = {
        "service": service,
        "operation": operation,
        "region": region,
        "resource": resource,
        "function": function,
        "fault": fault,
        "error": error,
        "message": message,
        "status": status,
        "latency_ms": latency_ms,
        "probability": probability,
        "count": count,
    }
    rule = FaultRule.from_json({key: value for key, value in given.items() if value is not None})
    show_rules(faults_client(target).add([rule]))


@faults_app.command("list")
def faults_list(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of lines")] = False,
    target: TargetOption = None,
) -> None:
    """The rules, with how many requests each matched and how many times it fired."""
    import json

    rules = faults_client(target).list()
    if as_json:
        typer.echo(json.dumps(rules, indent=2))
    else:
        show_rules(rules)


@faults_app.command("clear")
def faults_clear(
    rule_id: Annotated[str | None, typer.Argument(help="one rule's id; default: every rule")] = None,
    target: TargetOption = None,
) -> None:
    """Remove every fault rule (or one)."""
    cleared = faults_client(target).clear(rule_id)
    console.print(f"cleared {cleared} fault rule(s)")


@app.command()
def reset(
    stack: Annotated[str | None, typer.Option(help="delete this CloudFormation stack only, not everything")] = None,
    mock_config: Annotated[
        Path | None, typer.Option(help="then use this Step Functions Local mock file (SFN_MOCK_CONFIG)")
    ] = None,
    target: TargetOption = None,
) -> None:
    """Empty the running engine of everything but itself (or of one stack), without restarting it."""
    from serverless_testbed.engine_reset import delete_stack, reset_engine
    from serverless_testbed.errors import BadInput

    settings = Settings.from_env(target=target)
    if settings.target != "embedded":
        raise BadInput(f"only the embedded engine can be reset; the target is {settings.target}")
    engine = connected_engine(settings)
    assert engine.endpoint_url is not None
    started = time.monotonic()
    if stack is not None:
        delete_stack(engine.client("cloudformation"), stack)
        what = f"stack {stack} deleted"
        if mock_config is not None:
            reset_engine(engine.endpoint_url, mock_config, empty=False)
            what += f", mock config {mock_config}"
    else:
        answer = reset_engine(engine.endpoint_url, mock_config)
        what = f"emptied ({len(answer['reset'])} services)"
    console.print(f"[green]reset[/green] {what} in {time.monotonic() - started:.1f} s")


def main() -> None:
    """The `testbed` entry point."""
    app()


if __name__ == "__main__":
    main()
