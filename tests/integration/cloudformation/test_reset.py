"""`testbed reset` and the `testbed_reset` fixture: a running engine emptied of everything but
itself, or of one stack, and given another Step Functions Local mock file, without a restart.
The module runs on an engine of its own: a reset empties every session's resources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serverless_testbed.engine.embedded import EmbeddedEngine
from serverless_testbed.engine_reset import delete_stack, reset_engine
from serverless_testbed.errors import BadInput
from serverless_testbed.settings import Settings
from serverless_testbed.waiting import wait_for

pytestmark = [pytest.mark.embedded_only(reason="resets an embedded engine of its own"), pytest.mark.slow]

PASS_MACHINE = {"StartAt": "Work", "States": {"Work": {"Type": "Pass", "Result": "real", "End": True}}}
TASK_MACHINE = {
    "StartAt": "Work",
    "States": {
        "Work": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "not-deployed"},
            "End": True,
        }
    },
}
QUEUE_STACK = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def mock_file(folder: Path, name: str, machine: str, answer: str) -> Path:
    file = folder / name
    file.write_text(
        json.dumps(
            {
                "StateMachines": {machine: {"TestCases": {"Case": {"Work": "Answer"}}}},
                "MockedResponses": {"Answer": {"0": {"Return": {"StatusCode": 200, "Payload": answer}}}},
            }
        )
    )
    return file


@pytest.fixture(scope="module")
def testbed_engine() -> Iterator[EmbeddedEngine]:
    """This module's own engine (a module-scoped override of the session's)."""
    with EmbeddedEngine(Settings(target="embedded")) as engine:
        yield engine


def fill(engine: EmbeddedEngine) -> None:
    """A bit of everything: queue, table, stream, role, state machine, stack."""
    client = engine.client
    client("sqs").create_queue(QueueName="reset-q")
    client("dynamodb").create_table(
        TableName="reset-t",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client("kinesis").create_stream(StreamName="reset-k", ShardCount=1)
    role = client("iam").create_role(RoleName="reset-r", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    client("stepfunctions").create_state_machine(name="reset-m", definition=json.dumps(PASS_MACHINE), roleArn=role)
    stack(engine, "reset-s")


def stack(engine: EmbeddedEngine, name: str) -> None:
    cfn = engine.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(QUEUE_STACK))
    wait_for(
        lambda: cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE",
        timeout=60,
        what=f"stack {name} to be created",
    )


def contents(engine: EmbeddedEngine) -> dict[str, list[Any]]:
    client = engine.client
    return {
        "queues": client("sqs").list_queues().get("QueueUrls", []),
        "tables": client("dynamodb").list_tables()["TableNames"],
        "streams": client("kinesis").list_streams()["StreamNames"],
        "roles": [r["RoleName"] for r in client("iam").list_roles()["Roles"]],
        "machines": [m["name"] for m in client("stepfunctions").list_state_machines()["stateMachines"]],
        "stacks": [
            s["StackName"]
            for s in client("cloudformation").list_stacks()["StackSummaries"]
            if s["StackStatus"] != "DELETE_COMPLETE"
        ],
    }


def test_a_reset_empties_the_engine_of_everything_and_it_serves_on(testbed_engine: EmbeddedEngine) -> None:
    assert testbed_engine.endpoint_url is not None
    fill(testbed_engine)
    assert all(contents(testbed_engine).values()), contents(testbed_engine)

    started = time.monotonic()
    answer = reset_engine(testbed_engine.endpoint_url)
    print(f"reset: {answer['seconds']:.2f} s in the engine, {time.monotonic() - started:.2f} s from here")

    left = contents(testbed_engine)
    assert not any(left.values()), left
    fill(testbed_engine)  # the same names again: nothing of the old ones is left
    assert contents(testbed_engine)["streams"] == ["reset-k"]


def test_a_reset_of_one_stack_deletes_that_stack_only(testbed_engine: EmbeddedEngine) -> None:
    stack(testbed_engine, "keep-me")
    stack(testbed_engine, "drop-me")
    delete_stack(testbed_engine.client("cloudformation"), "drop-me")
    assert "keep-me" in contents(testbed_engine)["stacks"]
    assert "drop-me" not in contents(testbed_engine)["stacks"]
    with pytest.raises(BadInput, match="no stack 'drop-me'"):
        delete_stack(testbed_engine.client("cloudformation"), "drop-me")


def test_a_reset_loads_another_mock_config(testbed_engine: EmbeddedEngine, tmp_path: Path) -> None:
    assert testbed_engine.endpoint_url is not None
    sfn = testbed_engine.client("stepfunctions")

    def run_case(answer_file: Path) -> str:
        reset_engine(testbed_engine.endpoint_url or "", answer_file)
        role = testbed_engine.client("iam").create_role(RoleName="m", AssumeRolePolicyDocument=json.dumps(TRUST))
        arn = sfn.create_state_machine(name="mocked", definition=json.dumps(TASK_MACHINE), roleArn=role["Role"]["Arn"])[
            "stateMachineArn"
        ]
        execution = sfn.start_execution(stateMachineArn=f"{arn}#Case")["executionArn"]
        done = wait_for(
            lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
            timeout=30,
            what="the mocked execution to end",
        )
        assert done["status"] == "SUCCEEDED", done
        return str(json.loads(done["output"])["Payload"])

    assert run_case(mock_file(tmp_path, "a.json", "mocked", "first")) == "first"
    assert run_case(mock_file(tmp_path, "b.json", "mocked", "second")) == "second"

    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(BadInput, match="not JSON"):
        reset_engine(testbed_engine.endpoint_url, tmp_path / "c.json")


def test_the_fixture_resets_before_a_module_that_asks(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text(
        "import pytest\n"
        'pytestmark = pytest.mark.usefixtures("testbed_reset")\n'
        "def test_fill(aws):\n"
        '    aws("sqs").create_queue(QueueName="left-by-one")\n'
    )
    (tmp_path / "test_two.py").write_text(
        "import pytest\n"
        'pytestmark = pytest.mark.usefixtures("testbed_reset")\n'
        "def test_empty(aws, testbed_reset):\n"
        '    assert aws("sqs").list_queues().get("QueueUrls", []) == []\n'
        '    assert "sqs" in testbed_reset["reset"]\n'
    )
    env = {**os.environ, "TESTBED_PROJECT_ROOT": str(tmp_path)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--testbed-own-engine",
            "-q",
            "--rootdir",
            str(tmp_path),
            "test_one.py",
            "test_two.py",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout, done.stdout[-2000:]


def test_the_command_line_resets_the_engine_testbed_up_started(tmp_path: Path) -> None:
    (tmp_path / "asl").mkdir()
    (tmp_path / "src").mkdir()
    env = {**os.environ, "TESTBED_PROJECT_ROOT": str(tmp_path), "TESTBED_STATE_DIR": str(tmp_path / ".testbed")}
    testbed = str(Path(sys.executable).parent / "testbed")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([testbed, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)

    assert run("up").returncode == 0
    try:
        mock = mock_file(tmp_path, "mock.json", "m", "x")
        done = run("reset", "--mock-config", str(mock))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("reset emptied ("), done.stdout
        missing = run("reset", "--stack", "no-such-stack")
        assert missing.returncode == 2, missing.stderr
        assert "no stack 'no-such-stack'" in missing.stderr
        bad = run("reset", "--mock-config", str(tmp_path / "absent.json"))
        assert bad.returncode == 2, bad.stderr
        assert "cannot be read" in bad.stderr
    finally:
        assert run("down").returncode == 0
