"""`testbed new workflow NAME` without an engine: the name checks, what is written and
where, nothing overwritten or left half-written, and generated code that passes lint.

(tests/integration/scaffold/ scaffolds into a copy of the project and runs the result.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from serverless_testbed.cli import app
from serverless_testbed.errors import USAGE_EXIT_CODE, BadInput
from serverless_testbed.project import ProjectConfig
from serverless_testbed.registry import workflows
from serverless_testbed.scaffold.render import TemplateError, render
from serverless_testbed.scaffold.workflow import (
    MAX_NAME,
    ScaffoldFailed,
    ScaffoldRefused,
    WorkflowNames,
    default_root,
    scaffold_workflow,
)
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).with_name("ruff")
FOLDERS = ("asl", "src", "infra/workflows", "infra/runs", "fixtures", "tests/unit", "tests/integration")
# This repository's own declaration (pyproject.toml [tool.testbed]).
LAYOUT = ProjectConfig(workflows="infra.workflows", runs="infra.runs", fixtures="fixtures")
LONGEST = "a" + "-b2" * ((MAX_NAME - 1) // 3)
# A name for the scaffolds written here: not `invoices`, which a checkout may hold by now.
PROBE = "probe-flow"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project laid out as this repository, with no workflow yet: its [tool.testbed], its packages."""
    for folder in FOLDERS:
        (tmp_path / folder).mkdir(parents=True)
    for package in ("infra", "infra/workflows", "infra/runs", "fixtures"):
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text(LAYOUT.toml())
    return tmp_path


def linked_checkout(into: Path) -> Path:
    """This checkout's folders rebuilt under `into`, every file a symlink to the original:
    ruff sees the real layout, and the scaffold adds real files without touching this one."""
    for folder in ("asl", "src", "infra", "fixtures", "tests"):
        shutil.copytree(
            ROOT / folder, into / folder, copy_function=os.symlink, ignore=shutil.ignore_patterns("__pycache__")
        )
    (into / "pyproject.toml").symlink_to(ROOT / "pyproject.toml")
    return into


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_the_names_a_workflow_uses() -> None:
    names = WorkflowNames.of("late-payments")
    assert (names.module, names.package) == ("late_payments", "late_payments_validate")
    assert set(names.files(LAYOUT)) == {
        "asl/late_payments.asl.json",
        "src/late_payments_validate/handler.py",
        "src/late_payments_validate/rules.py",
        "infra/workflows/late_payments.py",
        "fixtures/late_payments.py",
        "infra/runs/late_payments.py",
        "tests/unit/late_payments/test_late_payments_rules.py",
        "tests/integration/late_payments/test_late_payments.py",
    }
    assert len(LONGEST) <= MAX_NAME
    WorkflowNames.of(LONGEST)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("Invoices", "lower-case words"),
        ("late_payments", "lower-case words"),
        ("-invoices", "lower-case words"),
        ("invoices-", "lower-case words"),
        ("late--payments", "lower-case words"),
        ("2invoices", "starting with a letter"),
        ("", "lower-case words"),
        ("a" * (MAX_NAME + 1), f"at most {MAX_NAME}"),
        ("class", "Python keyword"),
        ("import", "Python keyword"),
    ],
)
def test_a_bad_name_is_refused_saying_why(name: str, says: str, project: Path) -> None:
    before = snapshot(project)
    with pytest.raises(ScaffoldRefused, match=says):
        scaffold_workflow(name, project)
    assert snapshot(project) == before


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("orders", "a workflow named 'orders' exists already"),
        ("csv-etl", "exists already"),
        ("customer-orders", "machine customer-orders"),  # the orders workflow's state machine
        ("sales-ingest", "machine sales-ingest"),
    ],
)
def test_a_taken_name_is_refused(name: str, says: str, tmp_path: Path) -> None:
    """In a project holding this repository's workflows (a linked copy of it)."""
    checkout = linked_checkout(tmp_path)
    before = snapshot(checkout)
    with pytest.raises(ScaffoldRefused, match=says):
        scaffold_workflow(name, checkout)
    assert snapshot(checkout) == before


def test_a_test_file_name_pytest_would_refuse_twice_is_refused() -> None:
    """tests/unit/functions/test_transaction_rules.py exists: a workflow `transaction` would add another."""
    with pytest.raises(ScaffoldRefused, match=r"tests/unit/functions/test_transaction_rules\.py exist"):
        scaffold_workflow("transaction", ROOT)


def test_the_files_are_written_with_the_name_in_them(project: Path) -> None:
    written = scaffold_workflow("late-payments", project)

    assert sorted(str(path.relative_to(project)) for path in written) == sorted(
        WorkflowNames.of("late-payments").files(LAYOUT)
    )
    module = (project / "infra/workflows/late_payments.py").read_text()
    assert 'name="late-payments"' in module
    assert 'runner="infra.runs.late_payments:run"' in module
    assert 'source="late_payments_validate"' in module
    for path in written:
        assert "@@" not in path.read_text(), f"{path} has an unfilled placeholder"


def test_the_state_machine_is_valid_asl_with_its_placeholders(project: Path) -> None:
    scaffold_workflow(PROBE, project)
    definition = json.loads((project / "asl/probe_flow.asl.json").read_text())
    states = definition["States"]
    assert definition["StartAt"] in states
    targets = {definition["StartAt"]}
    for state in states.values():
        targets |= {state[key] for key in ("Next", "Default") if key in state}
        targets |= {rule["Next"] for rule in state.get("Choices", []) + state.get("Catch", [])}
    assert targets == set(states), "every state is reached and every target exists"
    text = (project / "asl/probe_flow.asl.json").read_text()
    for placeholder in ("${ValidateFunctionArn}", "${RecordsTable}", "${RejectedQueueUrl}"):
        assert placeholder in text


def test_nothing_is_overwritten(project: Path) -> None:
    scaffold_workflow(PROBE, project)
    (project / "infra/workflows/probe_flow.py").unlink()  # no longer a workflow; its other files remain
    (project / "src/probe_flow_validate/rules.py").write_text("# my own rules\n")
    before = snapshot(project)

    with pytest.raises(ScaffoldRefused, match=r"src/probe_flow_validate/rules.py.* exist.*nothing was written"):
        scaffold_workflow(PROBE, project)
    assert snapshot(project) == before


def test_one_file_in_the_way_stops_the_whole_scaffold(project: Path) -> None:
    (project / "fixtures/probe_flow.py").write_text("# already here\n")
    before = snapshot(project)
    with pytest.raises(ScaffoldRefused, match=r"fixtures/probe_flow\.py"):
        scaffold_workflow(PROBE, project)
    assert snapshot(project) == before


def test_a_write_that_fails_halfway_leaves_nothing_behind(project: Path) -> None:
    """tests/integration is a file here, so its folder for the new test cannot be made."""
    (project / "tests/integration").rmdir()
    (project / "tests/integration").write_text("not a folder\n")
    folders_before = sorted(str(p) for p in project.rglob("*") if p.is_dir())
    before = snapshot(project)

    with pytest.raises(ScaffoldFailed, match="nothing of it is left"):
        scaffold_workflow(PROBE, project)
    assert snapshot(project) == before
    assert sorted(str(p) for p in project.rglob("*") if p.is_dir()) == folders_before


def test_an_empty_folder_becomes_a_project_with_packages_of_its_own(tmp_path: Path) -> None:
    """No pyproject.toml: one is written with [tool.testbed] naming pipelines.*, never infra or fixtures."""
    written = scaffold_workflow(PROBE, tmp_path)
    config = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["testbed"]
    assert config == {"workflows": "pipelines.workflows", "runs": "pipelines.runs", "fixtures": "pipelines.fixtures"}
    names = {str(path.relative_to(tmp_path)) for path in written}
    assert {"pipelines/__init__.py", "pipelines/workflows/probe_flow.py", "pipelines/fixtures/probe_flow.py"} <= names
    assert not (tmp_path / "infra").exists()
    assert not (tmp_path / "fixtures").exists()
    assert list(workflows(tmp_path)) == [PROBE]


def test_a_pyproject_without_the_table_gains_it_and_keeps_the_rest(tmp_path: Path) -> None:
    mine = '[project]\nname = "mine"\nversion = "1"\n\n[tool.black]\nline-length = 99\n'
    (tmp_path / "pyproject.toml").write_text(mine)
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "__init__.py").write_text("# the project's own CDK app\n")
    scaffold_workflow(PROBE, tmp_path)
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith(mine)
    parsed = tomllib.loads(text)
    assert parsed["project"]["name"] == "mine"
    assert parsed["tool"]["black"] == {"line-length": 99}
    assert parsed["tool"]["testbed"]["workflows"] == "pipelines.workflows"
    assert (tmp_path / "infra" / "__init__.py").read_text() == "# the project's own CDK app\n"
    assert sorted(path.name for path in (tmp_path / "infra").iterdir()) == ["__init__.py"]


def test_a_project_whose_pipelines_folder_is_its_own_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "etl.py").write_text("")
    before = snapshot(tmp_path)
    with pytest.raises(ScaffoldRefused, match=r"pipelines exists already .* declare where the workflows go"):
        scaffold_workflow(PROBE, tmp_path)
    assert snapshot(tmp_path) == before


def test_a_broken_pyproject_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nname = 1\n")
    with pytest.raises(BadInput, match=r"pyproject.toml: not valid TOML"):
        scaffold_workflow(PROBE, tmp_path)
    assert snapshot(tmp_path) == {"pyproject.toml": b"[project\nname = 1\n"}


def test_the_default_root_is_the_project_else_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    from serverless_testbed import project

    monkeypatch.delenv(project.ROOT_VAR, raising=False)
    monkeypatch.setattr(project, "_explicit", None)
    monkeypatch.chdir(ROOT)
    assert default_root() == ROOT
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("serverless_testbed.project.__file__", str(tmp_path / "site" / "serverless_testbed" / "p.py"))
    assert default_root() == tmp_path


def test_a_template_names_only_values_it_is_given() -> None:
    with pytest.raises(TemplateError, match=r"no value for placeholder @@\{nope\}"):
        render("x = @@{nope}", {"name": "invoices"}, source="t.tmpl")
    assert render("${Kept} $.path @@{name}", {"name": "invoices"}) == "${Kept} $.path invoices"


@pytest.mark.skipif(not RUFF.is_file(), reason="ruff is a dev dependency; not installed here")
@pytest.mark.parametrize("name", [PROBE, LONGEST])
def test_the_generated_code_passes_ruff(name: str, tmp_path: Path) -> None:
    """With the project's settings, for a short name and the longest allowed."""
    checkout = linked_checkout(tmp_path)
    written = [str(path) for path in scaffold_workflow(name, checkout) if path.suffix == ".py"]
    for command in (["check"], ["format", "--check", "--diff"]):
        done = subprocess.run(
            [str(RUFF), *command, *written], capture_output=True, text=True, cwd=checkout, check=False
        )
        assert done.returncode == 0, f"ruff {' '.join(command)}:\n{done.stdout}{done.stderr}"


@pytest.fixture
def wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's consoles 300 columns wide, so paths are not wrapped: rich fixes a console's width
    from $COLUMNS when it is made (at import), so the runner's COLUMNS may come too late."""
    from rich.console import Console
    from serverless_testbed import cli

    monkeypatch.setattr(cli, "console", Console(width=300))
    monkeypatch.setattr(cli, "errors", Console(stderr=True, width=300))


@pytest.mark.usefixtures("wide_consoles")
def test_the_command_writes_and_lists_the_files(project: Path) -> None:
    result = CliRunner().invoke(app, ["new", "workflow", PROBE, "--root", str(project)], env={"COLUMNS": "300"})

    assert result.exit_code == 0, result.output
    assert f"created workflow {PROBE} in {project}" in result.output
    assert "infra/workflows/probe_flow.py" in result.output
    assert f"testbed run {PROBE}" in result.output
    assert f"cd {project}" in result.output, "scaffolding elsewhere says where to run the next commands"
    assert (project / "infra/runs/probe_flow.py").is_file()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["Bad_Name"], "error: workflow name 'Bad_Name': use lower-case words"),
        (["orders"], "error: a workflow named 'orders' exists already"),
    ],
)
@pytest.mark.usefixtures("wide_consoles")
def test_the_command_refuses_in_one_line_with_the_usage_code(args: list[str], line: str, tmp_path: Path) -> None:
    checkout = linked_checkout(tmp_path)
    before = snapshot(checkout)
    result = CliRunner().invoke(
        app, ["new", "workflow", *args, "--root", str(checkout)], env={"COLUMNS": "300"}, catch_exceptions=False
    )

    assert result.exit_code == USAGE_EXIT_CODE, result.output
    assert result.output.strip().splitlines()[0].startswith(line), result.output
    assert snapshot(checkout) == before


def test_run_as_a_process_a_taken_name_leaves_this_checkout_untouched() -> None:
    """Run as a user would (a fresh process); a taken name: this checkout stays untouched."""
    done = subprocess.run(
        [sys.executable, "-m", "serverless_testbed.cli", "new", "workflow", "processing"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "300"},
        check=False,
    )
    assert done.returncode == USAGE_EXIT_CODE, done.stdout + done.stderr
    assert "a workflow named 'processing' exists already" in done.stderr


def test_the_templates_are_package_data() -> None:
    """A wheel carries only the package data pyproject names: every template must be named."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["serverless_testbed.scaffold"]
    package = ROOT / "infra/serverless_testbed/scaffold"
    assert {path for pattern in globs for path in package.glob(pattern)} == set(package.rglob("*.tmpl"))
