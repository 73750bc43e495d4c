"""Distributed Map runs as AWS keeps them (infra/serverless_testbed/localstack_plugins/sfn_map_runs.py).

AWS's documented behaviour is the reference: each iteration of a Distributed Map is a child
workflow execution with its own history, listed by `ListExecutions(mapRunArn=...)`;
`DescribeMapRun` counts items and child executions by status; a Map Run whose failed items
exceed `ToleratedFailureCount` or `ToleratedFailurePercentage` (zero when neither is given)
fails with `States.ExceedToleratedFailureThreshold` (Step Functions Developer Guide,
state-map-distributed.html and maprun-fail-threshold.html). Stock mode keeps LocalStack
4.14.0's answers: no listing (an error) and a Map Run that succeeds whatever its children did.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from serverless_testbed.clients import Clients
from serverless_testbed.engine.embedded import EmbeddedEngine
from serverless_testbed.waiting import wait_for

from tests.integration.engine.own_engine import engine_with

pytestmark = pytest.mark.embedded_only(reason="child executions of map runs are kept by the engine's fidelity patch")


def machine(**tolerance: Any) -> dict[str, Any]:
    """A Distributed Map over `$.items`: an item with `fail: true` ends in a Fail state."""
    return {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Check",
                    "States": {
                        "Check": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Broken"}],
                            "Default": "Fine",
                        },
                        "Broken": {"Type": "Fail", "Error": "ItemBroken", "Cause": "a broken item"},
                        "Fine": {"Type": "Pass", "End": True},
                    },
                },
                **tolerance,
                "End": True,
            }
        },
    }


def items(ok: int, broken: int) -> dict[str, Any]:
    return {
        "items": [{"n": n, "fail": False} for n in range(ok)] + [{"n": ok + n, "fail": True} for n in range(broken)]
    }


def run(
    aws: Clients,
    make_state_machine: Callable[..., str],
    wait_execution: Callable[..., Any],
    definition: Any,
    payload: Any,
) -> tuple[dict[str, Any], str]:
    """Run the machine once; (its description, its map run ARN)."""
    sfn = aws("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=make_state_machine(definition), input=json.dumps(payload))["executionArn"]
    described = wait_execution(arn)
    events = sfn.get_execution_history(executionArn=arn)["events"]
    runs = [e["mapRunStartedEventDetails"]["mapRunArn"] for e in events if e["type"] == "MapRunStarted"]
    assert len(runs) == 1, f"expected one MapRunStarted event, saw {[e['type'] for e in events]}"
    return described, runs[0]


def children(aws: Clients, run_arn: str) -> list[dict[str, Any]]:
    pages = (
        aws("stepfunctions")
        .get_paginator("list_executions")
        .paginate(mapRunArn=run_arn, PaginationConfig={"PageSize": 2})
    )
    return [item for page in pages for item in page["executions"]]


def test_a_map_run_lists_its_child_executions_each_with_its_own_history(
    aws: Clients, make_state_machine: Callable[..., str], wait_execution: Callable[..., Any]
) -> None:
    described, run_arn = run(aws, make_state_machine, wait_execution, machine(), items(ok=3, broken=0))
    assert described["status"] == "SUCCEEDED", described

    listed = children(aws, run_arn)
    assert len(listed) == 3, f"expected 3 child executions (listed 2 per page), saw {listed}"
    assert {child["status"] for child in listed} == {"SUCCEEDED"}
    assert {child["mapRunArn"] for child in listed} == {run_arn}
    sfn = aws("stepfunctions")
    inputs = []
    for child in listed:
        assert ":execution:" in child["executionArn"], child
        events = sfn.get_execution_history(executionArn=child["executionArn"])["events"]
        kinds = [event["type"] for event in events]
        assert (kinds[0], kinds[-1]) == ("ExecutionStarted", "ExecutionSucceeded"), kinds
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
        assert entered == ["Check", "Fine"], entered
        inputs.append(json.loads(events[0]["executionStartedEventDetails"]["input"])["n"])
        one = sfn.describe_execution(executionArn=child["executionArn"])
        assert (one["status"], one["mapRunArn"]) == ("SUCCEEDED", run_arn), one
    assert sorted(inputs) == [0, 1, 2], "each item ran in a child of its own"

    machine_arn = described["stateMachineArn"]
    top = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
    assert [e["executionArn"] for e in top] == [described["executionArn"]], "children are listed by their map run only"


def test_describe_map_run_counts_items_and_children_by_status(
    aws: Clients, make_state_machine: Callable[..., str], wait_execution: Callable[..., Any]
) -> None:
    described, run_arn = run(
        aws, make_state_machine, wait_execution, machine(ToleratedFailureCount=2), items(ok=3, broken=2)
    )
    assert described["status"] == "SUCCEEDED", "2 failures are tolerated by ToleratedFailureCount 2"

    map_run = aws("stepfunctions").describe_map_run(mapRunArn=run_arn)
    assert map_run["status"] == "SUCCEEDED", map_run
    for counts in (map_run["itemCounts"], map_run["executionCounts"]):
        seen = {
            key: counts[key] for key in ("total", "succeeded", "failed", "running", "pending", "aborted", "timedOut")
        }
        assert seen == {
            "total": 5,
            "succeeded": 3,
            "failed": 2,
            "running": 0,
            "pending": 0,
            "aborted": 0,
            "timedOut": 0,
        }
    failed = [child for child in children(aws, run_arn) if child["status"] == "FAILED"]
    assert len(failed) == 2
    history = aws("stepfunctions").get_execution_history(executionArn=failed[0]["executionArn"])["events"]
    assert history[-1]["type"] == "ExecutionFailed"
    assert history[-1]["executionFailedEventDetails"] == {"error": "ItemBroken", "cause": "a broken item"}


@pytest.mark.parametrize(
    ("tolerance", "ok", "broken", "fails"),
    [
        ({}, 4, 0, False),
        ({}, 4, 1, True),  # neither field: no failure is tolerated
        ({"ToleratedFailureCount": 1}, 3, 1, False),
        ({"ToleratedFailureCount": 1}, 3, 2, True),
        ({"ToleratedFailurePercentage": 40.0}, 3, 2, False),  # 40 % is not beyond 40 %
        ({"ToleratedFailurePercentage": 39.0}, 3, 2, True),
        ({"ToleratedFailureCount": 5, "ToleratedFailurePercentage": 10.0}, 3, 1, True),  # beyond either one
    ],
)
def test_a_map_run_fails_when_its_failures_exceed_the_tolerated_threshold(
    aws: Clients,
    make_state_machine: Callable[..., str],
    wait_execution: Callable[..., Any],
    tolerance: dict[str, Any],
    ok: int,
    broken: int,
    fails: bool,
) -> None:
    described, run_arn = run(aws, make_state_machine, wait_execution, machine(**tolerance), items(ok, broken))
    map_run = aws("stepfunctions").describe_map_run(mapRunArn=run_arn)
    if not fails:
        assert described["status"] == "SUCCEEDED", f"expected {broken} of {ok + broken} tolerated, saw {described}"
        assert map_run["status"] == "SUCCEEDED"
        return
    assert (described["status"], described.get("error")) == ("FAILED", "States.ExceedToleratedFailureThreshold"), (
        described
    )
    assert map_run["status"] == "FAILED"
    events = aws("stepfunctions").get_execution_history(executionArn=described["executionArn"])["events"]
    failed = [e for e in events if e["type"] == "MapRunFailed"]
    assert [e["mapRunFailedEventDetails"]["error"] for e in failed] == ["States.ExceedToleratedFailureThreshold"]


def test_a_catch_on_the_map_state_catches_the_exceeded_threshold(
    aws: Clients, make_state_machine: Callable[..., str], wait_execution: Callable[..., Any]
) -> None:
    definition = machine()
    each = definition["States"]["Each"]
    del each["End"]
    each["Catch"] = [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "Next": "Lost"}]
    each["Next"] = "Done"
    definition["States"] |= {"Lost": {"Type": "Fail", "Error": "BatchesLost"}, "Done": {"Type": "Succeed"}}
    described, _run = run(aws, make_state_machine, wait_execution, definition, items(ok=2, broken=1))
    assert (described["status"], described.get("error")) == ("FAILED", "BatchesLost"), described


def test_an_integer_tolerated_failure_percentage_is_refused_here(
    aws: Clients, make_state_machine: Callable[..., str]
) -> None:
    """A difference kept (docs/report.md, fidelity notes): AWS takes `40`, LocalStack 4.14.0's
    parser only `40.0`."""
    with pytest.raises(ClientError, match="ToleratedFailurePercentage"):
        make_state_machine(machine(ToleratedFailurePercentage=40))


@pytest.fixture(scope="module")
def stock_engine() -> Iterator[EmbeddedEngine]:
    yield from engine_with({"TESTBED_ENGINE_MODE": "stock"})


@pytest.mark.slow
def test_stock_mode_keeps_localstacks_map_runs(stock_engine: EmbeddedEngine) -> None:
    iam, sfn = stock_engine.client("iam"), stock_engine.client("stepfunctions")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="stock-map-run", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    arn = sfn.create_state_machine(name="stock-map-run", definition=json.dumps(machine()), roleArn=role)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(items(ok=2, broken=1)))["executionArn"]

    def finished() -> dict[str, Any] | None:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        return None if described["status"] == "RUNNING" else described

    described = wait_for(finished, timeout=60, what="the stock engine's execution to finish")
    assert described["status"] == "SUCCEEDED", "stock LocalStack 4.14.0 ignores the failed child"
    events = sfn.get_execution_history(executionArn=execution)["events"]
    run_arn = next(e["mapRunStartedEventDetails"]["mapRunArn"] for e in events if e["type"] == "MapRunStarted")
    with pytest.raises(ClientError):
        sfn.list_executions(mapRunArn=run_arn)
