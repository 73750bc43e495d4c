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
from contextlib import contextmanager
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
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from rich.table import Table
    from serverless_testbed.deploy import Deployer
    from serverless_testbed.engine import Engine
    from serverless_testbed.engine.embedded import EngineRecord
    from serverless_testbed.runs import RunResult
    from serverless_testbed.stack.stack import Stack

console = Console()
errors = Console(stderr=True)


def report_error(message: str) -> None:
    """An error as one line on standard error; a multi-line message (a log tail) follows indented."""
    first, *rest = str(message).strip().splitlines() or [""]
    errors.print(f"[red]error:[/red] {escape(first)}", soft_wrap=True, highlight=False)
    for line in rest:
        errors.print(f"  {line}", soft_wrap=True, markup=False, highlight=False)


class ErrorBoundary(TyperGroup):
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


app = typer.Typer(
    cls=ErrorBoundary,
    help="Run AWS serverless data pipelines on an embedded LocalStack, test them, deploy them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
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
    """A file the command can write: its folder exists and is not itself a folder."""
    if value is not None:
        if value.is_dir():
            raise typer.BadParameter(f"{value} is a folder; name a file")
        if not value.parent.is_dir():
            raise typer.BadParameter(f"folder {value.parent} does not exist")
    return value


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
    Path,
    typer.Option("--report", callback=writable_file, help="write the HTML report (pictures of every path) here"),
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
    from rich.table import Table
    from serverless_testbed.state import orphans, record_path, recorded_engine, scope

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
    table = Table(title="testbed engine", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    table.add_row("target", f"embedded (LocalStack {LOCALSTACK_VERSION}, no Docker)")
    table.add_row("scope", f"{scope()}; record {record_path()}")
    table.add_row("endpoint", engine.endpoint_url or "")
    table.add_row("region", record.region)
    table.add_row("supervisor pid", str(record.pid))
    table.add_row("processes", str(len(engine.processes())))
    table.add_row("directory", record.root)
    table.add_row("log", str(engine.log_path))
    for what, value in _deployed_rows(engine, settings.prefix):
        table.add_row(what, value)
    console.print(table)


def _deployed_rows(engine: Engine, prefix: str) -> list[tuple[str, str]]:
    """One row per workflow of the registry: deployed, partly or not (with `prefix`)."""
    from serverless_testbed.registry import workflows

    declared = workflows()
    if not declared:
        return [("workflows", "none declared in this project (testbed new workflow NAME)")]
    deployer = deployer_for(engine, prefix)
    rows = []
    for name in declared:
        presence = deployer.presence(stack_for([name]))
        rows.append((f"workflow {name}", presence.describe()))
        if name == "processing" and presence.complete:
            rows.append(("POST /process-data", _api_url(deployer, engine)))
    return rows


def _mention_legacy_record() -> None:
    from serverless_testbed.state import legacy_record_path, record_path

    legacy = legacy_record_path()
    if legacy.is_file() and legacy != record_path():
        console.print(
            f"  note: {legacy} is a record from before records were kept per checkout; "
            f"TESTBED_STATE_DIR={legacy.parent} testbed down stops the engine it names"
        )


def _api_url(deployer: Deployer, engine: Engine) -> str:
    from infra.runs.processing import api_url

    try:
        return api_url(deployer, stack_for(["processing"]), engine.endpoint_url)
    except TestbedError as err:
        return f"not deployed ({err})"


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


def say_waiting(message: str) -> None:
    """A wait of the deploy (what AWS answered and why it passes with time), as it starts."""
    console.print(f"  [yellow]waiting[/yellow] {message}", highlight=False, markup=False)


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
    deployer = deployer_for(connected_engine(settings), settings.prefix)
    changes = deployer.plan(stack)
    console.print(describe(changes, calls=plan_only), markup=False, highlight=False)
    if plan_only or not changes:
        return
    started = time.monotonic()
    deployer.apply(
        changes, report=lambda c: console.print(f"  [green]{c.action}d[/green] {c.kind} {c.name}"), notify=say_waiting
    )
    console.print(f"deployed {len(changes)} change(s) in {time.monotonic() - started:.1f} s")


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
    deployer = deployer_for(connected_engine(settings), settings.prefix)
    changes = deployer.destroy_plan(stack)
    deployer.apply(
        changes, report=lambda c: console.print(f"  [red]deleted[/red] {c.kind} {c.name}"), notify=say_waiting
    )
    console.print(f"destroyed {len(changes)} resource(s)")


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
        out.write_text(text)
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
    report: ReportOption = Path("testbed-report.html"),
) -> None:
    """Generate data, send it through the workflow's real trigger, wait and show what happened."""
    from serverless_testbed.registry import UnknownWorkflow
    from serverless_testbed.registry import workflow as declared
    from serverless_testbed.report.html import write_report
    from serverless_testbed.runs import RunOptions

    try:
        runner = declared(workflow).load_runner()
    except UnknownWorkflow as err:
        raise typer.BadParameter(str(err)) from err
    settings = Settings.from_env(target=target, account_id=account_id, prefix=prefix)
    deployer = deployer_for(connected_engine(settings), settings.prefix)
    stack = stack_for([workflow])
    deployer.deploy(stack, notify=say_waiting)
    result = runner(deployer, stack, RunOptions(records, invalid_rate, seed))
    show_run(result)
    console.print(f"report: {write_report(report, [result], deployer)}", highlight=False)
    if not result.ok:
        raise typer.Exit(code=RUN_PROBLEMS_EXIT_CODE)


@app.command()
def demo(
    records: Annotated[int, typer.Option(min=1)] = 50,
    invalid_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.1,
    seed: int = 7,
    report: ReportOption = Path("testbed-report.html"),
) -> None:
    """The main job: start an embedded engine, deploy every workflow, run each on generated
    data, print a summary table, write the HTML report, and shut the engine down."""
    from serverless_testbed.engine.embedded import EmbeddedEngine
    from serverless_testbed.registry import workflows
    from serverless_testbed.report.html import write_report
    from serverless_testbed.runs import RunOptions

    started = time.monotonic()
    with console.status(f"starting the embedded engine (LocalStack {LOCALSTACK_VERSION}, no Docker)"):
        engine = EmbeddedEngine(Settings(target="embedded")).start()
    console.print(f"[green]engine ready[/green] at {engine.endpoint_url} in {time.monotonic() - started:.1f} s")
    results = []
    try:
        deployer = deployer_for(engine, "demo")
        stack = stack_for()
        with console.status("deploying every workflow"):
            begun = time.monotonic()
            changes = deployer.deploy(stack)
        console.print(f"[green]deployed[/green] {len(changes)} resources in {time.monotonic() - begun:.1f} s")
        for name, workflow in workflows().items():
            with console.status(f"running {name}"):
                result = workflow.load_runner()(deployer, stack_for([name]), RunOptions(records, invalid_rate, seed))
            show_run(result)
            results.append(result)
        console.print(f"report: {write_report(report, results, deployer)}", highlight=False)
    finally:
        with console.status("stopping the engine"):
            engine.stop()
    console.print(summary_table(results))
    console.print(f"total {time.monotonic() - started:.1f} s; engine stopped, nothing left running")
    if not all(result.ok for result in results):
        raise typer.Exit(code=RUN_PROBLEMS_EXIT_CODE)


def show_run(result: RunResult) -> None:
    """One line of counts, then each distinct path the executions took, with how many took it."""
    verdict = "[green]as expected[/green]" if result.ok else f"[red]{len(result.problems)} problem(s)[/red]"
    counts = ", ".join(f"{key} {value}" for key, value in result.counts.items())
    run = f" (run {result.run_id})" if result.run_id else ""
    console.print(f"[bold]{result.workflow}[/bold]{run}: {counts} in {result.seconds:.1f} s, {verdict}")
    paths = Counter((e.status, " > ".join(e.path), e.error or "") for e in result.executions)
    for (status, path, error), times in paths.most_common():
        line = f"  {times:>4} x {status:<9} {path}" + (f"  [{error}]" if error else "")
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    for problem in result.problems[:20]:
        console.print(f"  [red]![/red] {problem}", highlight=False)
    if len(result.problems) > 20:
        console.print(f"  ... and {len(result.problems) - 20} more problem(s)")


def summary_table(results: list[RunResult]) -> Table:
    """The demo's last word: one row per workflow run."""
    from rich.table import Table

    table = Table(title="testbed demo")
    for column in ("workflow", "executions", "records", "time", "verdict"):
        table.add_column(column)
    for result in results:
        succeeded = sum(e.status == "SUCCEEDED" for e in result.executions)
        table.add_row(
            result.workflow,
            f"{len(result.executions)} ({succeeded} ok, {len(result.executions) - succeeded} failed)",
            ", ".join(f"{k} {v}" for k, v in result.counts.items()),
            f"{result.seconds:.1f} s",
            "[green]as expected[/green]" if result.ok else f"[red]{len(result.problems)} problem(s)[/red]",
        )
    return table


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
    path = cloudformation.write(stack, out)
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
    machine: Annotated[str, typer.Argument(help="a state machine of the stack, as the stack model names it")],
    out: Annotated[Path, typer.Option(callback=writable_file, help="the SVG file to write")],
) -> None:
    """Draw a state machine (SVG): its states, Choice rules, Catch edges, Map containers."""
    from serverless_testbed.report.dot import Picture
    from serverless_testbed.report.machines import graphs
    from serverless_testbed.report.svg import render_svg

    drawn = graphs(stack_for())
    if machine not in drawn:
        raise typer.BadParameter(f"unknown state machine {machine!r}; choose from {', '.join(drawn)}")
    out.write_text(render_svg(Picture(drawn[machine])), encoding="utf-8")
    console.print(f"wrote {out}", highlight=False)


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
    # The spinner goes to stderr: the JSON on stdout stays parseable.
    with Console(stderr=True).status("benchmarking a fresh embedded engine..."):
        results = run_benchmarks(warm_calls=warm_calls, sfn_runs=sfn_runs, sales_sizes=sales or SALES_SIZES)
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    else:
        console.print(render(results))


new_app = typer.Typer(help="Scaffold new parts of the project from templates.", no_args_is_help=True)
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
    help="Inject faults into the embedded engine `testbed up` started (see `testbed faults add --help`).",
    no_args_is_help=True,
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
