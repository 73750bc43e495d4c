"""The processing workflow's documented AWS CLI commands, run with the real AWS CLI against the engine."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.engine import Engine
from serverless_testbed.executions import wait_execution

AWS = Path(sys.executable).parent / "aws"


@pytest.fixture
def aws_cli(engine: Engine, tmp_path: Path) -> Callable[..., Any]:
    """`aws_cli("stepfunctions", "list-executions", ...)` -> the command's parsed JSON output."""
    # Only the engine's exports: no user config or credentials of this machine leak in.
    env = {"PATH": str(AWS.parent), "HOME": str(tmp_path), "AWS_PAGER": ""} | engine.exports()
    env |= {"AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials")}

    def run(*args: str) -> Any:
        done = subprocess.run(
            [str(AWS), *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"aws {' '.join(args)} exited {done.returncode}: {done.stderr}"
        return json.loads(done.stdout)

    return run


def test_the_seeds_cli_commands_start_list_and_show_an_execution(
    aws_cli: Callable[..., Any], aws: Clients, names: dict[str, str]
) -> None:
    name = f"TestExecution-{time.time_ns()}"
    started = aws_cli(
        "stepfunctions", "start-execution",
        "--state-machine-arn", names["machine"],
        "--name", name,
        "--input", '{"message": "Hello, Step Functions!"}',
    )  # fmt: skip
    arn = started["executionArn"]
    assert arn.endswith(f":{name}"), f"expected an execution named {name}, saw {arn}"
    execution = wait_execution(aws, arn)
    assert execution.succeeded, f"expected SUCCEEDED, saw {execution.status}: {execution.cause}"

    listed = aws_cli("stepfunctions", "list-executions", "--state-machine-arn", names["machine"])
    mine = [e for e in listed["executions"] if e["executionArn"] == arn]
    assert [(e["name"], e["status"]) for e in mine] == [(name, "SUCCEEDED")], f"list-executions shows {mine}"

    history = aws_cli("stepfunctions", "get-execution-history", "--execution-arn", arn)["events"]
    kinds = [event["type"] for event in history]
    assert (kinds[0], kinds[-1]) == ("ExecutionStarted", "ExecutionSucceeded"), kinds
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
    assert entered == ["ProcessData", "LogResult", "Processed"], f"get-execution-history shows {entered}"
    started_input = json.loads(history[0]["executionStartedEventDetails"]["input"])
    assert started_input == {"message": "Hello, Step Functions!"}, started_input


def test_the_cli_shows_a_failed_execution_and_its_error(
    aws_cli: Callable[..., Any], aws: Clients, names: dict[str, str]
) -> None:
    name = f"TestExecution-bad-{time.time_ns()}"
    args = ("--state-machine-arn", names["machine"], "--name", name, "--input", '{"text": "no message"}')
    arn = aws_cli("stepfunctions", "start-execution", *args)["executionArn"]
    wait_execution(aws, arn)

    listed = aws_cli(
        "stepfunctions", "list-executions", "--state-machine-arn", names["machine"], "--status-filter", "FAILED"
    )
    assert arn in [e["executionArn"] for e in listed["executions"]], f"{arn} is not among the FAILED executions"
    history = aws_cli("stepfunctions", "get-execution-history", "--execution-arn", arn, "--reverse-order")["events"]
    failed = history[0]
    assert failed["type"] == "ExecutionFailed", f"expected the last event ExecutionFailed, saw {failed['type']}"
    assert failed["executionFailedEventDetails"]["error"] == "ProcessingFailed", failed
    assert "'message' is required" in failed["executionFailedEventDetails"]["cause"], failed
