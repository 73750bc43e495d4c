"""The plugin from a project of its own: a throw-away project outside this repository
declares one state machine and one function, overrides the plugin's settings fixtures
in its conftest.py, and its one test deploys them and runs an execution.

The throw-away project's pytest starts its own embedded engine (whatever the target of
this session) and finds this package as installed in this venv, nothing else of the checkout.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
# Starting an embedded engine, deploying two resources with their roles, one execution.
INNER_TIMEOUT = 240

ASL = """\
{
  "Comment": "Greets the name it is given, through the project's own function",
  "StartAt": "Greet",
  "States": {
    "Greet": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "${GreetArn}", "Payload.$": "$"},
      "OutputPath": "$.Payload",
      "End": true
    }
  }
}
"""

HANDLER = '''\
"""The throw-away project's function: a greeting for the name in the event."""


def handler(event, context):
    return {"greeting": f"hello {event['name']}", "letters": len(event["name"])}
'''

# asl/ and src/ live under pipeline/, not the project's top: without the override the
# plugin would look elsewhere and not find the function.
CONFTEST = """\
from pathlib import Path

import pytest

from serverless_testbed.stack.model import Function, Ref, StateMachine
from serverless_testbed.stack.stack import Stack

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def testbed_project_root():
    return HERE / "pipeline"


@pytest.fixture(scope="session")
def testbed_stack():
    return Stack.of(
        [
            Function("greet", source="greet", timeout=10),
            StateMachine("greeter", asl="greeter.asl.json", substitutions={"GreetArn": Ref("greet")}),
        ]
    )
"""

TEST = """\
import json


def test_greeter_greets(deploy, deployer, aws, wait_execution, unique):
    stack = deploy()
    machine = stack.bind(deployer.ctx).arn("greeter")
    arn = aws("stepfunctions").start_execution(
        stateMachineArn=machine, name=unique("run"), input=json.dumps({"name": "Ada"})
    )["executionArn"]
    described = wait_execution(arn)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"greeting": "hello Ada", "letters": 3}


def test_a_machine_made_outside_the_stack(aws, role_arn, wait_execution):
    # As a SAM or CloudFormation stack's would be: the plugin knows nothing of it, yet its
    # coverage is in the session's table.
    definition = {
        "StartAt": "Which",
        "States": {
            "Which": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}],
                      "Default": "Small"},
            "Big": {"Type": "Pass", "End": True},
            "Small": {"Type": "Pass", "End": True},
        },
    }
    machine = aws("stepfunctions").create_state_machine(
        name="hand-made-machine", definition=json.dumps(definition), roleArn=role_arn
    )["stateMachineArn"]
    arn = aws("stepfunctions").start_execution(stateMachineArn=machine, input='{"n": 5}')["executionArn"]
    assert wait_execution(arn)["status"] == "SUCCEEDED"
"""


def write_project(root: Path) -> Path:
    """The throw-away project: one ASL file, one function, a conftest and a test."""
    files = {
        "pipeline/asl/greeter.asl.json": ASL,
        "pipeline/src/greet/handler.py": HANDLER,
        "conftest.py": CONFTEST,
        "tests/test_greeter.py": TEST,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.mark.slow
def test_a_project_of_its_own_deploys_and_runs_through_the_plugin(tmp_path: Path, outside_env: dict[str, str]):
    project = write_project(tmp_path / "greeter-project")
    assert not project.resolve().is_relative_to(REPO)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--testbed-target", "embedded", "-v"]
    result = subprocess.run(
        command, cwd=project, env=outside_env, capture_output=True, text=True, timeout=INNER_TIMEOUT, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"the throw-away project's pytest failed (exit {result.returncode}):\n{output}"
    assert "2 passed" in result.stdout, f"expected '2 passed' from the throw-away project, saw:\n{output}"
    assert "test_greeter_greets PASSED" in result.stdout, output
    coverage = result.stdout.split("state machine coverage", 1)[-1]
    rows = {line.split()[0]: line for line in coverage.splitlines() if line.split()}
    assert "greeter" in rows, f"the deployed machine is not in the coverage table:\n{coverage}"
    assert "hand-made-machine" in rows, f"a machine made outside the stack is not in the coverage table:\n{coverage}"
    executions, states = rows["hand-made-machine"].split()[1:3]
    assert (executions, states) == ("1", "2/3"), rows["hand-made-machine"]  # Which and Big of three
