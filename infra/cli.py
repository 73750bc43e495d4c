"""The `testbed` command line."""

from __future__ import annotations

import shlex
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.engine import engine_for
from infra.engine.embedded import EmbeddedEngine
from infra.errors import TestbedError
from infra.settings import TARGETS, Settings
from infra.state import forget_running, running_engine, save_running, stale_record

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


@app.command()
def up(target: TargetOption = None) -> None:
    """Start an engine and leave it running (embedded: a background LocalStack process)."""
    settings = settings_for(target)
    if settings.target != "embedded":
        try:
            engine = engine_for(settings).start()
        except TestbedError as err:
            raise fail(err) from err
        console.print(f"{settings.target} engine answering at {engine.endpoint_url}")
        return
    if existing := running_engine():
        console.print(f"already up at {existing.endpoint_url} (testbed down stops it)")
        return
    if stale := stale_record():
        EmbeddedEngine(settings, record=stale).stop()
        forget_running()
    started = time.monotonic()
    try:
        embedded = EmbeddedEngine(settings, detach=True).start()
    except TestbedError as err:
        raise fail(err) from err
    save_running(embedded)
    console.print(
        f"[green]up[/green] LocalStack 4.14.0 (embedded) at {embedded.endpoint_url} "
        f"in {time.monotonic() - started:.1f} s\n"
        f"  logs: {embedded.log_path}\n"
        "  point the AWS CLI at it:  eval \"$(testbed env)\""
    )


@app.command()
def down() -> None:
    """Stop the engine `testbed up` started; nothing of it is left running."""
    engine = running_engine()
    record = engine.record if engine else stale_record()
    if record is None:
        console.print("nothing is up")
        return
    stopper = engine or EmbeddedEngine(Settings(target="embedded"), record=record)
    stopper.stop()
    forget_running()
    console.print(f"[green]down[/green] engine {record.engine_id} stopped, {record.root} removed")


@app.command()
def status() -> None:
    """Show the running engine: endpoint, health, processes."""
    engine = running_engine()
    if engine is None or engine.record is None:
        console.print("no engine is up (testbed up starts one)")
        raise typer.Exit(code=1)
    record = engine.record
    table = Table(title="testbed engine", show_header=False)
    table.add_row("target", "embedded (LocalStack 4.14.0, no Docker)")
    table.add_row("endpoint", engine.endpoint_url or "")
    table.add_row("region", record.region)
    table.add_row("supervisor pid", str(record.pid))
    table.add_row("processes", str(len(engine.processes())))
    table.add_row("directory", record.root)
    table.add_row("log", str(engine.log_path))
    console.print(table)


@app.command("env")
def env_command(target: TargetOption = None) -> None:
    """Print the exports that point the AWS CLI and boto3 at the engine: eval "$(testbed env)"."""
    settings = settings_for(target)
    if settings.target == "embedded":
        engine = running_engine(settings)
        if engine is None:
            console.print("[red]error:[/red] no engine is up; run `testbed up` first", style=None)
            raise typer.Exit(code=1)
        exports = engine.exports()
    else:
        exports = engine_for(settings).exports()
    for key, value in exports.items():
        typer.echo(f"export {key}={shlex.quote(value)}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
