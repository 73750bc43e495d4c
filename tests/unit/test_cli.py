"""The command line's error paths that need no engine: one line on stderr, an exit code per kind.

Every command runs in-process through typer's CliRunner with a scrubbed environment:
no AWS or testbed variables, an empty engine record folder, no AWS profile.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from serverless_testbed import generators as fixtures
from serverless_testbed import registry
from serverless_testbed.cli import ErrorBoundary, app
from serverless_testbed.deploy import Presence
from serverless_testbed.errors import (
    EXIT_CODES,
    INTERRUPTED_EXIT_CODE,
    RUN_PROBLEMS_EXIT_CODE,
    USAGE_EXIT_CODE,
    BadInput,
    DeployError,
    EngineError,
    EngineNotUp,
    EngineUnavailable,
    StackError,
    TargetRefused,
    TestbedError,
    WaitTimeout,
)
from serverless_testbed.settings import TARGETS
from typer.testing import CliRunner, Result

ROOT = Path(__file__).resolve().parents[2]
ERROR_KINDS = [TestbedError, BadInput, EngineError, EngineNotUp, EngineUnavailable, TargetRefused]
ERROR_KINDS += [StackError, DeployError, WaitTimeout]
# Commands that reach for an engine, with the arguments they need.
ENGINE_COMMANDS = [["deploy"], ["deploy", "--plan"], ["destroy"], ["run", "orders"], ["env"]]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner in an environment without AWS or testbed settings and with no engine up."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "TESTBED_", "LOCALSTACK_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TESTBED_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no credential lookup leaves the machine
    monkeypatch.setenv("COLUMNS", "500")
    return CliRunner()


def invoke(cli: CliRunner, *args: str, env: dict[str, str] | None = None) -> Result:
    return cli.invoke(app, list(args), env=env, prog_name="testbed")


def error_line(result: Result) -> str:
    """The one error line the boundary printed; fails when there is none, or a traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"the command raised {result.exception!r} instead of reporting it"
    )
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line on stderr, saw {lines!r}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


@pytest.mark.parametrize("command", [["up"], *ENGINE_COMMANDS])
def test_an_unknown_target_is_a_usage_error_on_every_command(cli: CliRunner, command: list[str]):
    result = invoke(cli, *command, "--target", "foo")
    line = error_line(result)
    assert result.exit_code == USAGE_EXIT_CODE
    assert "'foo'" in line
    for target in TARGETS:
        assert target in line
    assert f"testbed {command[0]} --help" in line


def test_an_unknown_target_in_the_environment_is_a_usage_error(cli: CliRunner):
    result = invoke(cli, "deploy", env={"TESTBED_TARGET": "lcoal"})
    line = error_line(result)
    assert result.exit_code == USAGE_EXIT_CODE
    assert "unknown target 'lcoal'" in line


@pytest.mark.parametrize(
    "command",
    [
        ["run", "nope"],
        ["fixtures", "nope"],
        ["deploy", "-w", "nope"],
        ["deploy", "-w", "orders", "-w", "nope"],
        ["destroy", "-w", "nope"],
        ["export", "cloudformation", "-w", "nope"],
    ],
)
def test_an_unknown_workflow_is_a_usage_error_naming_the_workflows(cli: CliRunner, command: list[str]):
    result = invoke(cli, *command)
    line = error_line(result)
    assert result.exit_code == USAGE_EXIT_CODE
    assert "unknown workflow 'nope'" in line
    for name in registry.workflows():
        assert name in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["orders", "--records", "-1"], "'--records'"),
        (["orders", "--invalid-rate", "1.5"], "'--invalid-rate'"),
        (["orders", "--seed", "seven"], "'--seed'"),
        (["sales", "--format", "xml"], "sales data comes as json or csv, not 'xml'"),
        (["router", "--format", "json"], "router data comes as jsonl or csv, not 'json'"),
        (["orders", "--out", "/dev/null/orders.json"], "/dev/null is a file, so /dev/null/orders.json cannot be"),
        (["orders", "--bogus"], "--bogus"),
        ([], "Missing argument 'kind'"),
    ],
)
def test_bad_fixtures_arguments_are_usage_errors(cli: CliRunner, args: list[str], expected: str):
    result = invoke(cli, "fixtures", *args)
    line = error_line(result)
    assert result.exit_code == USAGE_EXIT_CODE
    assert expected in line
    assert result.stdout == "", "bad arguments must not print data"


def test_fixtures_out_naming_a_folder_is_refused_and_the_folder_untouched(cli: CliRunner, tmp_path: Path):
    (tmp_path / "kept.txt").write_text("kept")
    result = invoke(cli, "fixtures", "orders", "--out", str(tmp_path))
    assert "is a folder; name a file" in error_line(result)
    assert result.exit_code == USAGE_EXIT_CODE
    assert (tmp_path / "kept.txt").read_text() == "kept"


def test_export_refuses_an_unknown_format(cli: CliRunner):
    result = invoke(cli, "export", "yaml")
    line = error_line(result)
    assert result.exit_code == USAGE_EXIT_CODE
    assert "'yaml'" in line
    assert "cloudformation" in line


@pytest.mark.parametrize("command", ENGINE_COMMANDS)
def test_no_engine_up_is_one_line_with_what_to_do(cli: CliRunner, tmp_path: Path, command: list[str]):
    result = invoke(cli, *command)
    line = error_line(result)
    assert result.exit_code == EngineNotUp.exit_code
    assert "no engine is up" in line
    assert str(tmp_path / "state") in line, "the error does not name where it looked"
    assert "run `testbed up` first" in line


def test_status_without_an_engine_says_so_with_the_not_up_code(cli: CliRunner, tmp_path: Path):
    result = invoke(cli, "status")
    assert result.exit_code == EngineNotUp.exit_code
    assert "no engine is up" in result.stdout
    assert str(tmp_path / "state") in result.stdout


def test_the_endpoint_target_without_an_endpoint_is_unavailable(cli: CliRunner):
    result = invoke(cli, "deploy", "--target", "endpoint")
    line = error_line(result)
    assert result.exit_code == EngineUnavailable.exit_code
    assert "needs AWS_ENDPOINT_URL" in line


@pytest.mark.parametrize("command", [["deploy"], ["deploy", "--plan"], ["destroy"], ["run", "orders"]])
def test_aws_target_refuses_a_leftover_endpoint_variable(cli: CliRunner, command: list[str]):
    env = {"AWS_ENDPOINT_URL_S3": "http://localhost:4566", "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"}
    env["AWS_SECRET_ACCESS_KEY"] = "secret"
    result = invoke(cli, *command, "--target", "aws", "--account-id", "123456789012", env=env)
    line = error_line(result)
    assert result.exit_code == TargetRefused.exit_code
    assert "refuses to run while AWS_ENDPOINT_URL_S3 is set" in line


@pytest.mark.parametrize("key", ["test", "AKIA0000000000000000"])
def test_aws_target_refuses_dummy_credentials(cli: CliRunner, key: str):
    env = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    result = invoke(cli, "deploy", "--target", "aws", "--plan", env=env)
    line = error_line(result)
    assert result.exit_code == TargetRefused.exit_code
    assert f"dummy credentials (access key {key!r})" in line


def test_aws_target_refuses_missing_credentials(cli: CliRunner):
    result = invoke(cli, "deploy", "--target", "aws", "--plan", env={"AWS_DEFAULT_REGION": "us-east-1"})
    line = error_line(result)
    assert result.exit_code == TargetRefused.exit_code
    assert "found no AWS credentials" in line


def test_aws_target_refuses_a_profile_that_does_not_exist(cli: CliRunner):
    env = {"AWS_PROFILE": "no-such-profile", "AWS_DEFAULT_REGION": "us-east-1"}
    result = invoke(cli, "deploy", "--target", "aws", "--account-id", "123456789012", "--plan", env=env)
    line = error_line(result)
    assert result.exit_code == TargetRefused.exit_code
    assert "(no-such-profile) could not be found; set AWS_PROFILE" in line


def boundary_app(raised: Exception) -> typer.Typer:
    """An app with the CLI's boundary and one command raising `raised`."""
    probe = typer.Typer(cls=ErrorBoundary)

    @probe.command()
    def fail() -> None:
        raise raised

    @probe.command()
    def other() -> None:
        """Two commands, so `fail` is a subcommand as in the real CLI."""

    return probe


@pytest.mark.parametrize("kind", ERROR_KINDS, ids=lambda kind: kind.__name__)
def test_every_error_kind_ends_in_one_line_with_its_code(kind: type[TestbedError]):
    result = CliRunner().invoke(boundary_app(kind("what went wrong; what to do next")), ["fail"])
    assert result.exit_code == kind.exit_code
    assert result.stderr.strip() == "error: what went wrong; what to do next"


def test_a_multi_line_message_keeps_its_first_line_as_the_error_and_indents_the_rest():
    result = CliRunner().invoke(boundary_app(EngineError("did not start: exit 3\nlog line 1\nlog line 2")), ["fail"])
    assert result.exit_code == EngineError.exit_code
    assert result.stderr.splitlines() == ["error: did not start: exit 3", "  log line 1", "  log line 2"]


def test_an_error_that_is_not_the_testbeds_still_raises():
    result = CliRunner().invoke(boundary_app(ZeroDivisionError("a bug")), ["fail"])
    assert isinstance(result.exception, ZeroDivisionError), "a bug must show its traceback, not a tidy line"


def test_each_kind_has_its_own_code_and_every_code_is_documented():
    codes = [kind.exit_code for kind in ERROR_KINDS]
    assert len(set(codes)) == len(codes), f"two error kinds share an exit code: {codes}"
    assert set(codes) | {0, RUN_PROBLEMS_EXIT_CODE, INTERRUPTED_EXIT_CODE} == set(EXIT_CODES)
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The command line", 1)[1].split("\n## ", 1)[0]
    documented = dict(re.findall(r"^\| `?(\d+)`? \| (.+?) \|$", section, re.MULTILINE))
    assert {int(code) for code in documented} == set(EXIT_CODES), "README's exit code table and EXIT_CODES differ"


@pytest.fixture
def with_invoices(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry answers with one more workflow, `invoices` (a copy of orders)."""

    declared = registry.workflows()
    declared["invoices"] = dataclasses.replace(declared["orders"], name="invoices")
    monkeypatch.setattr(registry, "workflows", lambda root=None: dict(declared))


@pytest.mark.usefixtures("with_invoices")
def test_run_help_lists_every_workflow_from_the_registry_when_shown(cli: CliRunner):
    result = invoke(cli, "run", "--help")
    assert result.exit_code == 0
    words = " ".join(result.stdout.split())  # help wraps at the terminal's width
    for name, declared in registry.workflows().items():
        assert f"{name}: {declared.summary}" in words


@pytest.mark.usefixtures("with_invoices")
def test_fixtures_help_lists_every_kind_and_its_formats_when_shown(cli: CliRunner):
    assert "invoices" in fixtures.kinds()
    result = invoke(cli, "fixtures", "--help")
    assert result.exit_code == 0
    words = " ".join(result.stdout.split())  # help wraps at the terminal's width
    assert "see `testbed fixtures --help`" not in words
    for kind in fixtures.kinds():
        formats = registry.workflows()[kind].formats if kind in registry.workflows() else ("json",)
        assert f"{kind}: {' or '.join(formats)}" in words


@pytest.mark.usefixtures("with_invoices")
def test_a_workflow_added_to_the_registry_is_accepted_without_editing_the_cli(cli: CliRunner):
    result = invoke(cli, "deploy", "-w", "invoices")
    assert result.exit_code == EngineNotUp.exit_code, result.output  # past the workflow check, to the engine


def test_fixtures_writes_what_it_was_asked_for(cli: CliRunner, tmp_path: Path):
    out = tmp_path / "sales.csv"
    result = invoke(cli, "fixtures", "sales", "--records", "5", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text() == fixtures.dump("sales", 5, 0.1, 7, "csv")


def test_export_builds_one_template_and_writes_it(cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from serverless_testbed.stack import cloudformation

    built = []
    original = cloudformation.template
    monkeypatch.setattr(cloudformation, "template", lambda stack: built.append(stack) or original(stack))
    out = tmp_path / "stack.json"
    result = invoke(cli, "export", "cloudformation", "-w", "orders", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert len(built) == 1, f"the template was built {len(built)} times"
    assert '"AWSTemplateFormatVersion"' in out.read_text()


def test_importing_the_cli_loads_neither_boto3_nor_the_engines():
    code = (
        "import sys, serverless_testbed.cli\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'faker', 'localstack')\n"
        "               or m.startswith(('serverless_testbed.engine', 'serverless_testbed.deploy',\n"
        "                                'serverless_testbed.stack', 'infra.runs')))\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]", f"`import serverless_testbed.cli` loads {done.stdout.strip()}"


@pytest.mark.parametrize(
    ("presence", "expected"),
    [
        (Presence(present=6, missing=0, differing=0), "deployed (6 resources)"),
        (Presence(present=0, missing=0, differing=0), "not deployed (testbed deploy)"),
        (Presence(present=4, missing=2, differing=0), "partly deployed: 4 present, 2 missing (testbed deploy)"),
        (Presence(present=6, missing=0, differing=1), "partly deployed: 6 present, 1 differ (testbed deploy)"),
        (
            Presence(present=5, missing=1, differing=2),
            "partly deployed: 5 present, 1 missing, 2 differ (testbed deploy)",
        ),
    ],
)
def test_status_words_for_how_much_of_a_workflow_is_deployed(presence: Presence, expected: str):
    assert presence.describe() == expected
    assert presence.complete == expected.startswith("deployed")
