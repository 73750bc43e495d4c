"""Every Lambda task of every state machine retries transient Lambda failures, as AWS's
Step Functions guide recommends for Lambda tasks (each retried step is idempotent: see the
comments in the ASL and the functions' docstrings)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ASL = Path(__file__).resolve().parents[2] / "asl"
# The service's own transient errors, and a crashed or timed-out sandbox (idempotent steps).
TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "Runtime.ExitError",
    "Sandbox.Timedout",
}
# The sales ingest is another change's (issue 18, section 2); its file joins this list then.
FILES = sorted(path.name for path in ASL.glob("*.asl.json") if path.name != "sales_ingest.asl.json")


def lambda_tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, state) of every Task that invokes a Lambda function, nested states included."""
    for name, state in states.items():
        resource = str(state.get("Resource", ""))
        if state.get("Type") == "Task" and (
            resource.startswith("arn:aws:states:::lambda:invoke") or ":lambda:" in resource.split(":::")[0]
        ):
            yield name, state
        for branch in state.get("Branches", []):
            yield from lambda_tasks(branch["States"])
        for inner in ("Iterator", "ItemProcessor"):
            if inner in state:
                yield from lambda_tasks(state[inner]["States"])


def test_there_are_lambda_tasks_to_check() -> None:
    found = [name for file in FILES for name, _ in lambda_tasks(json.loads((ASL / file).read_text())["States"])]
    assert len(found) >= 10, f"expected the Lambda tasks of {FILES}, found {found}"


@pytest.mark.parametrize("file", FILES)
def test_every_lambda_task_retries_transient_lambda_failures(file: str) -> None:
    definition = json.loads((ASL / file).read_text())
    missing = {}
    for name, state in lambda_tasks(definition["States"]):
        retried = {error for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]}
        if "States.ALL" not in retried and not retried >= TRANSIENT:
            missing[name] = sorted(TRANSIENT - retried)
    assert not missing, f"{file}: Lambda tasks that do not retry transient failures: {missing}"


@pytest.mark.parametrize("file", FILES)
def test_the_transient_retries_back_off(file: str) -> None:
    definition = json.loads((ASL / file).read_text())
    for name, state in lambda_tasks(definition["States"]):
        for retrier in state.get("Retry", []):
            if TRANSIENT & set(retrier["ErrorEquals"]):
                assert retrier.get("MaxAttempts", 3) >= 2, f"{file} {name}: {retrier}"
                assert retrier.get("BackoffRate", 2.0) > 1, f"{file} {name}: {retrier}"
