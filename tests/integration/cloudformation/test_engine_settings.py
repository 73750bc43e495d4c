"""LocalStack settings through `testbed up`: `--setting NAME=VALUE` and the project's
`[tool.testbed.engine.settings]` reach the engine; a refused one stops `up` in one line, and
nothing is started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from serverless_testbed.waiting import wait_for

pytestmark = [pytest.mark.embedded_only(reason="starts embedded engines with `testbed up`"), pytest.mark.slow]

TESTBED = str(Path(sys.executable).parent / "testbed")
MACHINE = {
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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "MockConfigFile.json").write_text(
        json.dumps(
            {
                "StateMachines": {"mocked": {"TestCases": {"Case": {"Work": "Answer"}}}},
                "MockedResponses": {"Answer": {"0": {"Return": {"StatusCode": 200, "Payload": "from the project"}}}},
            }
        )
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.testbed.engine.settings]\nSFN_MOCK_CONFIG = "tests/MockConfigFile.json"\n'
    )
    return tmp_path


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SFN_"))}
    env.update(TESTBED_PROJECT_ROOT=str(project), TESTBED_STATE_DIR=str(project / ".testbed"))
    return subprocess.run([TESTBED, *args], capture_output=True, text=True, timeout=120, cwd=project, env=env)


def test_a_setting_that_would_listen_beyond_loopback_is_refused_in_one_line(project: Path) -> None:
    done = run(project, "up", "--setting", "GATEWAY_LISTEN=0.0.0.0:4566")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: --setting GATEWAY_LISTEN: GATEWAY_LISTEN is not accepted: the engine listens on 127.0.0.1 only, "
        "on the port `testbed up --port` chooses"
    ]
    assert not (project / ".testbed" / "engine.json").exists()
    unknown = run(project, "up", "--setting", "MY_SETTING=1")
    assert unknown.returncode == 2
    assert "MY_SETTING is not a setting the engine takes; it takes SFN_MOCK_CONFIG" in unknown.stderr


def test_the_projects_mock_config_reaches_the_engine(project: Path) -> None:
    up = run(project, "up", "--setting", "LS_LOG=info")
    assert up.returncode == 0, up.stderr
    try:
        exports = dict(line.removeprefix("export ").split("=", 1) for line in run(project, "env").stdout.splitlines())
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=exports["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        arn = sfn.create_state_machine(
            name="mocked", definition=json.dumps(MACHINE), roleArn="arn:aws:iam::000000000000:role/r"
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=f"{arn}#Case")["executionArn"]
        done = wait_for(
            lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
            timeout=30,
            what="the mocked execution to end",
        )
        assert done["status"] == "SUCCEEDED", done
        assert json.loads(done["output"])["Payload"] == "from the project"
    finally:
        assert run(project, "down").returncode == 0
