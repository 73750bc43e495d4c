"""What a person sees of the command line: help, lines that fit a terminal and never break
in a log, progress, reports kept per run, and files written into folders that do not exist yet."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from serverless_testbed import cli as cli_module
from serverless_testbed.cli import app, run_line, show_run
from serverless_testbed.executions import Execution
from serverless_testbed.progress import Bars, PlainLines
from serverless_testbed.run_reports import INDEX, LATEST, write_run_report
from serverless_testbed.runs import RunResult, split
from serverless_testbed.terminal import FittedConsole, counts_text, label
from typer.testing import CliRunner

from infra.runs.csv_etl import bad_file_rows

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LONG_PATH = [
    "ValidateFile", "IsFileValid", "LoadStage", "ArchiveFile", "TransformToTarget", "AllRowsAccounted",
    "DescribeLoad", "NotifySuccess", "Loaded",
]  # fmt: skip


def every_command(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The path of every command and group of the CLI, the root included."""
    found = [path]
    if hasattr(group, "commands"):  # a group (typer's own click)
        for name, command in group.commands.items():
            found += every_command(command, (*path, name))
    return found


COMMANDS = every_command(typer.main.get_command(app))


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "testbed")
def test_help_shows_flags_without_a_bool_metavar(path: tuple[str, ...]):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, prog_name="testbed")
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output, result.output
    assert "--help" in result.output


def test_the_target_choices_are_never_cut_mid_word_at_80_columns():
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "80"}, prog_name="testbed")
    assert "<embedded|compose|container|endpoint|aws>" in result.output, result.output


def test_export_makes_the_folders_of_its_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["export", "cloudformation", "-w", "orders", "--out", "build/cfn/stack.json"], prog_name="testbed"
    )
    assert result.exit_code == 0, result.output
    assert '"AWSTemplateFormatVersion"' in (tmp_path / "build" / "cfn" / "stack.json").read_text()


def test_an_output_whose_folder_is_a_file_is_refused_in_one_line(tmp_path: Path):
    (tmp_path / "build").write_text("a file, not a folder")
    out = tmp_path / "build" / "cfn" / "stack.json"
    result = CliRunner().invoke(app, ["export", "cloudformation", "--out", str(out)], prog_name="testbed")
    assert result.exit_code == 2, result.output
    assert "is a file" in result.output


def test_count_names_are_words():
    assert label("invalid_files") == "invalid files"
    assert label("api_accepted") == "API accepted"
    assert counts_text({"rows": 20000, "rows_in_invalid_files": 2}) == "rows 20,000, rows in invalid files 2"


def result_with_long_lines() -> RunResult:
    counts = {
        "files": 2, "invalid_files": 1, "rows": 50, "rows_in_invalid_files": 5, "loaded": 40, "rejected": 5,
        "transformed": 40, "notifications": 2,
    }  # fmt: skip
    executions = [Execution("arn:1", "SUCCEEDED", LONG_PATH), Execution("arn:2", "SUCCEEDED", LONG_PATH)]
    problem = "line 7: expected reasons ['bad-amount', 'missing-store'], saw ['bad-amount'] " * 2
    return RunResult("csv-etl", executions, counts, 3.25, [problem], run_id="4456cecf")


def printed(monkeypatch: pytest.MonkeyPatch, console: Console) -> str:
    monkeypatch.setattr(cli_module, "console", console)
    show_run(result_with_long_lines())
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def test_a_run_is_one_line_per_fact_where_no_terminal_shows_it(monkeypatch: pytest.MonkeyPatch):
    """A log at COLUMNS=80: the summary, each path and each problem whole on one line each."""
    monkeypatch.setenv("COLUMNS", "80")
    output = printed(monkeypatch, FittedConsole(file=io.StringIO()))
    lines = output.splitlines()
    assert lines[0] == run_line(result_with_long_lines())
    assert lines[0].startswith("csv-etl (run 4456cecf): files 2, invalid files 1, rows 50, rows in invalid files 5")
    assert lines[0].endswith("in 3.2 s, 1 problem(s)")
    assert lines[1] == "     2 x SUCCEEDED " + " > ".join(LONG_PATH)
    assert lines[2].startswith("  ! line 7:")
    assert lines[2].endswith("saw ['bad-amount'] ")
    assert len(lines) == 3, output
    assert "\x1b" not in output, "no control characters in a log"


def test_on_a_narrow_terminal_paths_wrap_at_their_steps_within_the_width(monkeypatch: pytest.MonkeyPatch):
    console = FittedConsole(file=io.StringIO(), force_terminal=True, width=80, color_system=None)
    lines = printed(monkeypatch, console).splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    for state in LONG_PATH:
        assert any(state in line for line in lines), f"{state} was cut across lines: {lines}"
    assert lines[0].startswith("csv-etl (run 4456cecf): files 2,")


def test_plain_progress_says_how_far_a_stage_got_and_when_it_ended():
    out = io.StringIO()
    lines = PlainLines(FittedConsole(file=out), interval=0.05)
    ticked = threading.Event()
    try:
        with lines.stage("sales json: batches validated", total=40, unit="batches") as stage:
            stage.update(completed=12)
            original = lines._print

            def noted(line: str) -> None:
                original(line)
                ticked.set()

            lines._print = noted  # type: ignore[method-assign]
            assert ticked.wait(10), "no line while the stage went on"
            stage.update(completed=40)
    finally:
        lines.close()
    text = out.getvalue().splitlines()
    assert any(line.startswith("sales json: batches validated: 12 of 40 batches (") for line in text), text
    assert text[-1].startswith("sales json: batches validated: 40 batches done in "), text


def test_terminal_progress_leaves_one_line_per_finished_stage():
    out = io.StringIO()
    bars = Bars(Console(file=out, force_terminal=True, width=100, color_system=None))
    try:
        with bars.stage("orders: executions finished", total=20, unit="executions") as stage:
            stage.advance(20)
        bars.say("orders is not deployed (prefix tb): deploying it first, 6 created")
    finally:
        bars.close()
    text = out.getvalue()
    assert "orders: executions finished: 20 executions done in" in text
    assert "deploying it first" in text


def test_each_run_keeps_its_own_report_and_the_index_lists_them_newest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from serverless_testbed.report import html

    monkeypatch.setattr(html, "write_report", lambda path, results, deployer: path.write_text(results[0].run_id))
    first = RunResult("orders", [], {"orders": 1}, 1.0, run_id="aaaa1111")
    second = RunResult("sales", [], {"records": 1}, 1.0, ["line 1: lost"], run_id="bbbb2222")
    folder = tmp_path / "reports"
    one, two = write_run_report([first], None, folder), write_run_report([second], None, folder)

    assert (one.name, two.name) == ("orders-aaaa1111.html", "sales-bbbb2222.html")
    assert one.read_text() == "aaaa1111", "a later run overwrote an earlier report"
    assert (folder / LATEST).resolve() == two.resolve()
    index = (folder / INDEX).read_text()
    assert index.index("sales-bbbb2222.html") < index.index("orders-aaaa1111.html")
    assert "1 problem(s)" in index
    assert "as expected" in index


def test_records_are_shared_between_the_files_of_a_run():
    assert split(20000, 2) == [10000, 10000]
    assert split(5, 2) == [3, 2]
    assert split(1, 2) == [1, 0]
    for records in range(3, 300):
        bad = bad_file_rows(records, "truncated-rows")
        assert 2 <= bad <= 20
        assert records - bad >= 1


def test_the_first_line_of_a_run_comes_before_any_engine_is_asked(tmp_path: Path):
    """Without an engine the run still says what it is about to do, then the error."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "TESTBED_"))}
    env["TESTBED_STATE_DIR"] = str(tmp_path / "state")
    done = subprocess.run(
        [sys.executable, "-m", "serverless_testbed", "run", "sales", "--records", "20000"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith("run sales: 20,000 record(s), 10% invalid, seed 7"), done.stdout


def test_picture_takes_a_workflow_and_draws_each_of_its_machines(tmp_path: Path):
    out = tmp_path / "pictures" / "router.svg"
    result = CliRunner().invoke(app, ["picture", "router", "--out", str(out)], prog_name="testbed")
    assert result.exit_code == 0, result.output
    drawn = sorted(path.name for path in out.parent.iterdir())
    assert drawn == ["router-etl-branch.svg", "router-etl-or-streaming.svg", "router-streaming-branch.svg"]
    assert all("<svg" in (out.parent / name).read_text() for name in drawn)

    one = tmp_path / "orders.svg"
    assert CliRunner().invoke(app, ["picture", "orders", "--out", str(one)], prog_name="testbed").exit_code == 0
    assert "<svg" in one.read_text()


def test_picture_of_an_unknown_name_lists_the_workflows_and_machines():
    result = CliRunner().invoke(app, ["picture", "nope", "--out", "x.svg"], prog_name="testbed")
    assert result.exit_code == 2
    assert "neither a workflow (csv-etl, " in result.output
    assert "orders, processing" in result.output
    assert "nor a state machine (" in result.output
    assert "customer-orders" in result.output


@pytest.mark.parametrize("path", [(), ("faults",), ("new",)], ids=lambda path: " ".join(path) or "testbed")
def test_the_command_list_gives_each_summary_whole(path: tuple[str, ...]):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, prog_name="testbed")
    commands = result.output.split("Commands:")[1]
    assert "..." not in commands, commands
    assert all(len(line) <= 80 for line in commands.splitlines()), commands


def test_one_of_a_plural_unit_is_said_in_the_singular():
    from serverless_testbed.progress import amount

    assert [amount(1, "batches"), amount(1, "records"), amount(2, "batches"), amount(1, "files")] == [
        "1 batch",
        "1 record",
        "2 batches",
        "1 file",
    ]
