"""Idle Lambda workers are reaped, as AWS reclaims idle sandboxes, and the next invoke
still works (on a new worker: a cold start).

An engine of its own, started with TESTBED_LAMBDA_IDLE_SECONDS short, so the wait is
seconds rather than the default minutes; LocalStack's keep-alive timer stops the idle
execution environment and the executor's stop() ends its worker process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.engine.embedded import LAMBDA_IDLE_VAR, EmbeddedEngine
from infra.errors import WaitTimeout
from infra.packaging import zip_files
from infra.settings import Settings
from infra.waiting import wait_for
from tests.integration.engine.test_lambda_runtime import dead, function_workers

PROBES = Path(__file__).parent / "functions" / "probes.py"
IDLE_SECONDS = 2
FUNCTION = "reaping-echo"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

pytestmark = pytest.mark.embedded_only(
    reason="starts an embedded engine of its own with a short idle time and watches its worker processes"
)


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedEngine]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(LAMBDA_IDLE_VAR, str(IDLE_SECONDS))
        started = EmbeddedEngine(Settings(target="embedded")).start()
    try:
        yield started
    finally:
        started.stop()


def invoke(engine: EmbeddedEngine, event: dict[str, Any]) -> dict[str, Any]:
    response = engine.client("lambda").invoke(FunctionName=FUNCTION, Payload=json.dumps(event))
    body: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


def test_an_idle_worker_is_reaped_and_the_next_invoke_starts_a_new_one(engine: EmbeddedEngine) -> None:
    iam, lam = engine.client("iam"), engine.client("lambda")
    role = iam.create_role(RoleName=f"{FUNCTION}-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    lam.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="probes.echo",
        Code={"ZipFile": zip_files({PROBES.name: PROBES.read_bytes()})},
    )
    wait_for(
        lambda: lam.get_function(FunctionName=FUNCTION)["Configuration"]["State"] == "Active",
        timeout=30,
        what=f"function {FUNCTION} to be Active",
    )

    first = invoke(engine, {"n": 1})
    assert first["event"] == {"n": 1}
    assert function_workers(engine, FUNCTION) == [first["pid"]], "the invoke's worker is the function's only one"

    try:
        wait_for(
            lambda: dead(first["pid"]) and not function_workers(engine, FUNCTION),
            timeout=IDLE_SECONDS + 30,
            what=f"worker {first['pid']} of {FUNCTION} to be reaped after {IDLE_SECONDS} s idle",
        )
    except WaitTimeout as err:
        pytest.fail(f"{err}; workers of {FUNCTION} still running: {function_workers(engine, FUNCTION)}")

    second = invoke(engine, {"n": 2})
    assert second["event"] == {"n": 2}
    assert second["pid"] != first["pid"]
    assert function_workers(engine, FUNCTION) == [second["pid"]]
