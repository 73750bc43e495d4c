"""The `testbed` command line."""

from __future__ import annotations

import shlex
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.deploy import Deployer, describe
from infra.engine import Engine, engine_for
from infra.engine.embedded import EmbeddedEngine
from infra.engine.watchdog import exit_when_engine_dies
from infra.errors import TestbedError
from infra.runs import RunResult
from infra.settings import TARGETS, Settings
from infra.stack.executor import DeployError
from infra.state import (
    RecordedEngine,
    forget_running,
    legacy_record_path,
    record_path,
    recorded_engine,
    running_engine,
    save_running,
    scope,
    state_lock,
)
from infra.workflows import stack_for

app = typer.Typer(
    help="Run AWS serverless data pipelines on an embedded LocalStack, test them, deploy them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()

TargetOption = Annotated[
    str | None,
    typer.Option("--target", "-t", help=f"one of {', '.join(TARGETS)} (default: $TESTBED_TARGET or embedded)"),
]


def settings_for(target: str | None) -> Settings:
    try:
        return Settings.from_env(target=target)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err


def fail(err: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {err}")
    return typer.Exit(code=1)


PortOption = Annotated[
    int | None,
    typer.Option("--port", envvar="TESTBED_PORT", min=1, max=65535, help="embedded: the port (default: a free one)"),
]


@app.command()
def up(target: TargetOption = None, port: PortOption = None) -> None:
    """Start an engine and leave it running (embedded: a background LocalStack process)."""
    settings = settings_for(target)
    if settings.target != "embedded":
        try:
            engine = engine_for(settings).start()
        except TestbedError as err:
            raise fail(err) from err
        console.print(f"{settings.target} engine answering at {engine.endpoint_url}")
        return
    try:
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
            started = time.monotonic()
            embedded = EmbeddedEngine(settings, detach=True, port=port).start()
            save_running(embedded)
    except TestbedError as err:
        raise fail(err) from err
    console.print(
        f"[green]up[/green] LocalStack 4.14.0 (embedded) at {embedded.endpoint_url} "
        f"in {time.monotonic() - started:.1f} s\n"
        f"  logs: {embedded.log_path}\n"
        f"  record: {record_path()} (scope: {scope()})\n"
        '  point the AWS CLI at it:  eval "$(testbed env)"'
    )


@app.command()
def down() -> None:
    """Stop the engine `testbed up` started; nothing of it is left running."""
    try:
        with state_lock():
            found = recorded_engine()
            if found is None:
                console.print(f"nothing is up (scope: {scope()})")
                return
            record = found.record
            stopped, removed = record.supervisor_is_ours(), record.root_is_ours()
            found.engine.stop()
            forget_running()
    except TestbedError as err:
        raise fail(err) from err
    if stopped or removed:
        what = "stopped" if stopped else "was not running"
        where = f"{record.root} removed" if removed else f"{record.root} left as it is (not confirmed as its own)"
        console.print(f"[green]down[/green] engine {record.engine_id} {what}, {where}")
    else:
        console.print(f"{found.describe()}; nothing stopped or removed, record {record_path()} cleared")


@app.command()
def status(prefix: Annotated[str, typer.Option(help="the deployment prefix whose API URL to show")] = "tb") -> None:
    """Show the running engine: endpoint, health, processes, and the deployed HTTP API's URL."""
    found = recorded_engine()
    if found is None:
        console.print(f"no engine is up (scope: {scope()}; testbed up starts one)")
        _mention_legacy_record()
        raise typer.Exit(code=1)
    if found.state != "up":
        console.print(f"[red]{found.describe()}[/red]", highlight=False)
        console.print(f"  scope: {scope()}; testbed up starts a new engine, testbed down clears the record")
        raise typer.Exit(code=1)
    engine, record = found.engine, found.record
    table = Table(title="testbed engine", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    table.add_row("target", "embedded (LocalStack 4.14.0, no Docker)")
    table.add_row("scope", f"{scope()}; record {record_path()}")
    table.add_row("endpoint", engine.endpoint_url or "")
    table.add_row("region", record.region)
    table.add_row("supervisor pid", str(record.pid))
    table.add_row("processes", str(len(engine.processes())))
    table.add_row("directory", record.root)
    table.add_row("log", str(engine.log_path))
    table.add_row("POST /process-data", _api_url(engine, prefix))
    console.print(table)


def _mention_legacy_record() -> None:
    legacy = legacy_record_path()
    if legacy.is_file() and legacy != record_path():
        console.print(
            f"  note: {legacy} is a record from before records were kept per checkout; "
            f"TESTBED_STATE_DIR={legacy.parent} testbed down stops the engine it names"
        )


def _api_url(engine: Engine, prefix: str) -> str:
    from infra.runs.processing import api_url

    try:
        return api_url(deployer_for(engine, prefix), stack_for(["processing"]), engine.endpoint_url)
    except TestbedError as err:
        return f"not deployed ({err})"


def _not_up_error() -> TestbedError:
    found = recorded_engine()
    if found is None:
        return TestbedError(f"no engine is up (scope: {scope()}); run `testbed up` first (or `testbed demo`)")
    return TestbedError(f"{found.describe()}; run `testbed up` to start a new one")


@app.command("env")
def env_command(target: TargetOption = None) -> None:
    """Print the exports that point the AWS CLI and boto3 at the engine: eval "$(testbed env)"."""
    settings = settings_for(target)
    if settings.target == "embedded":
        engine = running_engine(settings)
        if engine is None:
            console.print(f"[red]error:[/red] {_not_up_error()}", highlight=False)
            raise typer.Exit(code=1)
        exports = engine.exports()
    else:
        exports = engine_for(settings).exports()
    for key, value in exports.items():
        typer.echo(f"export {key}={shlex.quote(value)}")


def connected_engine(settings: Settings) -> Engine:
    """The engine commands such as deploy and run talk to: for embedded, the one
    `testbed up` left running (the command ends with a clear error if it dies meanwhile);
    for the other targets, the target itself."""
    if settings.target == "embedded":
        engine = running_engine(settings)
        if engine is None or engine.record is None:
            raise fail(_not_up_error())
        record = engine.record

        def report() -> None:
            gone = RecordedEngine(record, "crashed" if record.root_is_ours() else "gone", engine)
            console.print(f"[red]error:[/red] the engine stopped while this command ran: {gone.describe()}")

        exit_when_engine_dies(record, report)
        return engine
    try:
        return engine_for(settings).start()
    except TestbedError as err:
        raise fail(err) from err


def deployer_for(engine: Engine, prefix: str) -> Deployer:
    return Deployer.for_clients(engine.client, prefix, engine.region)


PrefixOption = Annotated[str, typer.Option(help="resource name prefix (several stacks can share one engine)")]
WorkflowOption = Annotated[
    list[str] | None, typer.Option("--workflow", "-w", help="a workflow (repeatable); default: all")
]


@app.command()
def deploy(
    target: TargetOption = None,
    prefix: PrefixOption = "tb",
    workflow: WorkflowOption = None,
    plan_only: Annotated[bool, typer.Option("--plan", help="print the calls it would make, make none")] = False,
    account_id: Annotated[str | None, typer.Option(help="aws target: the account you mean to deploy to")] = None,
) -> None:
    """Deploy the workflows' stack; a second deploy of an unchanged stack changes nothing."""
    settings = Settings.from_env(target=target, account_id=account_id)
    engine = connected_engine(settings)
    deployer = deployer_for(engine, prefix)
    try:
        stack = stack_for(workflow)
        changes = deployer.plan(stack)
    except (TestbedError, ValueError) as err:
        raise fail(err) from err
    console.print(describe(changes, calls=plan_only), markup=False, highlight=False)
    if plan_only or not changes:
        return
    started = time.monotonic()
    try:
        deployer.apply(changes, report=lambda c: console.print(f"  [green]{c.action}d[/green] {c.kind} {c.name}"))
    except DeployError as err:
        raise fail(err) from err
    console.print(f"deployed {len(changes)} change(s) in {time.monotonic() - started:.1f} s")


@app.command()
def destroy(target: TargetOption = None, prefix: PrefixOption = "tb", workflow: WorkflowOption = None) -> None:
    """Remove everything deploy made (and what the workflows made at run time), nothing else."""
    settings = Settings.from_env(target=target)
    deployer = deployer_for(connected_engine(settings), prefix)
    try:
        changes = deployer.destroy_plan(stack_for(workflow))
        deployer.apply(changes, report=lambda c: console.print(f"  [red]deleted[/red] {c.kind} {c.name}"))
    except (TestbedError, ValueError, DeployError) as err:
        raise fail(err) from err
    console.print(f"destroyed {len(changes)} resource(s)")


@app.command()
def fixtures(
    kind: Annotated[str, typer.Argument(help="the workflow whose data to generate (see `testbed run --help`)")],
    records: Annotated[int, typer.Option(min=0)] = 20,
    invalid_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.1,
    seed: int = 7,
    format: Annotated[
        str | None, typer.Option("--format", help="the file format, for workflows whose data is a file")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write here instead of standard output")] = None,
) -> None:
    """Generate seeded test data; the same seed gives the same data."""
    from fixtures import dump
    from infra.workflows import UnknownWorkflow, workflow

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


@app.command("run")
def run_command(
    workflow: Annotated[str, typer.Argument(help="the workflow to run")],
    target: TargetOption = None,
    prefix: PrefixOption = "tb",
    records: Annotated[int, typer.Option(min=1)] = 20,
    invalid_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.1,
    seed: int = 7,
) -> None:
    """Generate data, send it through the workflow's real trigger, wait and show what happened."""
    from infra.runs import RunOptions
    from infra.workflows import UnknownWorkflow
    from infra.workflows import workflow as declared

    try:
        runner = declared(workflow).load_runner()
    except UnknownWorkflow as err:
        raise typer.BadParameter(str(err)) from err
    settings = Settings.from_env(target=target)
    deployer = deployer_for(connected_engine(settings), prefix)
    stack = stack_for([workflow])
    try:
        deployer.deploy(stack)
        result = runner(deployer, stack, RunOptions(records, invalid_rate, seed))
    except (TestbedError, DeployError) as err:
        raise fail(err) from err
    show_run(result)
    if not result.ok:
        raise typer.Exit(code=1)


@app.command()
def demo(
    records: Annotated[int, typer.Option(min=1)] = 50,
    invalid_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.1,
    seed: int = 7,
) -> None:
    """The main job: start an embedded engine, deploy every workflow, run each on generated
    data, print a summary table, and shut the engine down."""
    from infra.runs import RunOptions
    from infra.workflows import WORKFLOWS

    started = time.monotonic()
    with console.status("starting the embedded engine (LocalStack 4.14.0, no Docker)"):
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
        for name, workflow in WORKFLOWS.items():
            with console.status(f"running {name}"):
                result = workflow.load_runner()(deployer, stack_for([name]), RunOptions(records, invalid_rate, seed))
            show_run(result)
            results.append(result)
    finally:
        with console.status("stopping the engine"):
            engine.stop()
    console.print(summary_table(results))
    console.print(f"total {time.monotonic() - started:.1f} s; engine stopped, nothing left running")
    if not all(result.ok for result in results):
        raise typer.Exit(code=1)


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
    fmt: Annotated[str, typer.Argument(help="the only format: cloudformation")],
    out: Annotated[Path | None, typer.Option(help="write the template here instead of standard output")] = None,
    artifacts: Annotated[Path | None, typer.Option(help="also write the functions' zip files into this folder")] = None,
    workflow: WorkflowOption = None,
) -> None:
    """Export the whole stack as a CloudFormation template, from the same model deploy uses.

    Deploy it with: aws s3 sync ARTIFACTS s3://BUCKET/ && aws cloudformation deploy
    --template-file FILE --stack-name testbed --capabilities CAPABILITY_NAMED_IAM
    --parameter-overrides ArtifactBucket=BUCKET Prefix=tb
    """
    import json

    from infra.stack import cloudformation

    if fmt != "cloudformation":
        raise typer.BadParameter(f"unknown format {fmt!r}; the one format is cloudformation")
    stack = stack_for(workflow)
    text = json.dumps(cloudformation.template(stack), indent=1)
    if out:
        out.write_text(text)
        console.print(f"wrote {out} ({len(cloudformation.template(stack)['Resources'])} resources)")
    else:
        typer.echo(text)
    if artifacts:
        for key, archive in cloudformation.artifacts(stack).items():
            target = artifacts / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive)
        console.print(
            f"wrote the functions' zip files under {artifacts}/functions/ (upload them to the ArtifactBucket)"
        )


@app.command()
def bench(as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False) -> None:
    """Measure the embedded engine: start, Lambda invokes, state machines, memory."""
    import json

    from infra.bench import render, run_benchmarks

    results = run_benchmarks()
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    else:
        console.print(render(results))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
