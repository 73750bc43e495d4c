"""Step Functions Local's MockConfigFile on the embedded engine: `SFN_MOCK_CONFIG` names the
file when the engine starts (`EmbeddedEngine(extra_env=...)`, or `SFN_MOCK_CONFIG=... testbed up`),
and an execution started for `<stateMachineArn>#<TestCase>` answers its Task states from the
test case's mocked responses instead of calling the functions. The format is AWS's
(https://docs.aws.amazon.com/step-functions/latest/dg/sfn-local-mock-cfg-file.html); this is
the processing workflow's state machine driven by one."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from serverless_testbed.deploy import Deployer
from serverless_testbed.engine.embedded import EmbeddedEngine
from serverless_testbed.executions import Execution, start, wait_execution
from serverless_testbed.registry import stack_for
from serverless_testbed.settings import Settings
from serverless_testbed.stack.stack import Stack

from infra.workflows import processing as workflow

pytestmark = [
    pytest.mark.embedded_only(reason="starts an embedded engine of its own with SFN_MOCK_CONFIG"),
    pytest.mark.slow,
]
PREFIX = f"m{uuid.uuid4().hex[:5]}"
PROCESSED = {"status": "processed", "requestId": "mock-1", "reply": "Processed: mocked"}


def mock_config(machine_name: str) -> dict[str, object]:
    return {
        "StateMachines": {
            machine_name: {
                "TestCases": {
                    "RecoversFromServiceErrors": {
                        "ProcessData": "TwoServiceErrorsThenProcessed",
                        "LogResult": "Logged",
                    },
                    "RejectedAndLogged": {"ProcessData": "Rejected", "LogFailure": "FailureLogged"},
                }
            }
        },
        "MockedResponses": {
            "TwoServiceErrorsThenProcessed": {
                "0-1": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "mocked service error"}},
                "2": {"Return": {"StatusCode": 200, "Payload": PROCESSED}},
            },
            "Logged": {"0": {"Return": {"StatusCode": 200, "Payload": {"bucket": "mocked", "key": "logs/x"}}}},
            "Rejected": {"0": {"Throw": {"Error": "InvalidRequest", "Cause": "mocked: 'message' is required"}}},
            "FailureLogged": {
                "0": {
                    "Return": {
                        "StatusCode": 200,
                        "Payload": {"bucket": "mocked", "key": "logs/y", "message": "'message' is required"},
                    }
                }
            },
        },
    }


@pytest.fixture(scope="module")
def mocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedEngine, Deployer, Stack]]:
    config_file: Path = tmp_path_factory.mktemp("sfn-mock") / "MockConfigFile.json"
    config_file.write_text(json.dumps(mock_config(f"{PREFIX}-{workflow.MACHINE}")))
    engine = EmbeddedEngine(Settings(target="embedded"), extra_env={"SFN_MOCK_CONFIG": str(config_file)})
    with engine:
        deployer = Deployer.for_clients(engine.client, PREFIX, engine.region, local=True)
        stack = stack_for(["processing"])
        deployer.deploy(stack)
        assert stack.bind(deployer.ctx).name(workflow.MACHINE) == f"{PREFIX}-{workflow.MACHINE}"
        yield engine, deployer, stack


def run_case(mocked: tuple[EmbeddedEngine, Deployer, Stack], case: str, payload: object) -> Execution:
    engine, deployer, stack = mocked
    machine = stack.bind(deployer.ctx).arn(workflow.MACHINE)
    return wait_execution(engine.client, start(engine.client, f"{machine}#{case}", payload))


def failed_tasks(execution: Execution) -> list[str]:
    return [e["taskFailedEventDetails"]["error"] for e in execution.history if e["type"] == "TaskFailed"]


def logged_objects(mocked: tuple[EmbeddedEngine, Deployer, Stack]) -> list[str]:
    engine, deployer, stack = mocked
    bucket = stack.bind(deployer.ctx).name(workflow.LOG_BUCKET)
    return [o["Key"] for o in engine.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_a_test_case_retries_mocked_service_errors_then_succeeds(
    mocked: tuple[EmbeddedEngine, Deployer, Stack],
) -> None:
    execution = run_case(mocked, "RecoversFromServiceErrors", {"message": "never reaches the function"})

    assert execution.status == "SUCCEEDED", f"saw {execution.status}: {execution.cause}"
    assert execution.path == ["ProcessData", "LogResult", "Processed"], execution.path
    assert failed_tasks(execution) == ["Lambda.ServiceException"] * 2, failed_tasks(execution)
    assert execution.output["result"] == PROCESSED, execution.output
    assert execution.output["log"] == {"bucket": "mocked", "key": "logs/x"}, execution.output
    assert logged_objects(mocked) == [], "mocked tasks must not run the logging function"


def test_a_test_case_with_a_mocked_error_takes_the_catch(mocked: tuple[EmbeddedEngine, Deployer, Stack]) -> None:
    execution = run_case(mocked, "RejectedAndLogged", {"message": "fine, but the mock rejects it"})

    assert (execution.status, execution.error) == ("FAILED", "ProcessingFailed"), (
        f"saw {execution.status} {execution.error}"
    )
    assert execution.path == ["ProcessData", "LogFailure", "ProcessingFailed"], execution.path
    assert execution.cause == "'message' is required", execution.cause
    assert failed_tasks(execution) == ["InvalidRequest"], failed_tasks(execution)


def test_without_a_test_case_the_real_functions_run(mocked: tuple[EmbeddedEngine, Deployer, Stack]) -> None:
    engine, deployer, stack = mocked
    machine = stack.bind(deployer.ctx).arn(workflow.MACHINE)
    execution = wait_execution(engine.client, start(engine.client, machine, {"message": "real"}))

    assert execution.status == "SUCCEEDED", f"saw {execution.status}: {execution.cause}"
    assert execution.output["result"]["reply"] == "Processed: real", execution.output
    assert logged_objects(mocked), "the real logging function writes its entry"
