"""Workflow 2, sales ingest, when its top-level steps fail: faults injected from outside the
code (infra/serverless_testbed/faults.py) drive the Retry rules of ParseFile and Summarise and the Catch of the
Distributed Map (BatchesLost). (The Map's inner states are exercised by
tests/integration/faults/test_sales_faults.py; LocalStack 4.14.0 keeps no history of them.)

What a user checks: a cured fault leaves every record in exactly one place (stored from this
file and line, or dead-lettered once with its reasons); a map run that cannot read its
batches fails the execution naming the error, with nothing stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.executions import Execution
from serverless_testbed.faults import FaultsClient
from serverless_testbed.stack.stack import Stack

from fixtures.sales import render_sales
from infra.runs.sales import check_outcome, upload
from infra.workflows import sales as workflow
from tests.integration.sales.records import unique_sales

INGESTED = ["ParseFile", "ValidateAndStore", "Summarise", "AllAccountedFor", "Ingested"]


@pytest.fixture(scope="module")
def stack(deploy: Callable[[str], Stack]) -> Stack:
    return deploy("sales")


def name_of(deployer: Deployer, stack: Stack, logical: str) -> str:
    return stack.bind(deployer.ctx).name(logical)


def failures(execution: Execution) -> list[str]:
    return [e["taskFailedEventDetails"]["error"] for e in execution.history if e["type"] == "TaskFailed"]


@pytest.mark.parametrize(
    ("function", "fault", "error"),
    [
        (workflow.PARSE, "throttle", "Lambda.TooManyRequestsException"),
        (workflow.PARSE, "crash", "Runtime.ExitError"),
        (workflow.SUMMARISE, "throttle", "Lambda.TooManyRequestsException"),
        (workflow.SUMMARISE, "crash", "Runtime.ExitError"),
    ],
    ids=["parse-throttled", "parse-crashes", "summarise-throttled", "summarise-crashes"],
)
def test_a_parse_or_summary_fault_a_retry_cures_leaves_every_record_in_exactly_one_place(
    deployer: Deployer, stack: Stack, faults: FaultsClient, function: str, fault: str, error: str
) -> None:
    # Fault: the function's next invocation is throttled by Lambda / crashes.
    rule = faults.inject(function=name_of(deployer, stack, function), fault=fault, count=1)
    seed = 500 + [workflow.PARSE, workflow.SUMMARISE].index(function) * 2 + ("throttle", "crash").index(fault)
    generated = unique_sales(120, 0.1, seed=seed)
    invalid = sum(not item.expected.valid for item in generated)

    _key, execution = upload(deployer, stack, render_sales(generated, "json"), "json")

    assert execution.status == "SUCCEEDED", f"saw {execution.status} {execution.error}: {execution.cause}"
    assert execution.path == INGESTED, f"a retry stays in its state: expected {INGESTED}, saw {execution.path}"
    assert failures(execution) == [error], failures(execution)
    assert faults.fired(rule["id"]) == 1
    output = execution.output
    assert (output["total"], output["stored"], output["rejected"]) == (120, 120 - invalid, invalid), output
    problems = check_outcome(deployer, stack, generated, output["source"], execution)
    assert not problems, "\n".join(problems[:20])


def test_a_map_run_that_cannot_read_its_batches_fails_naming_the_error_and_stores_nothing(
    aws: Clients, deployer: Deployer, stack: Stack, faults: FaultsClient
) -> None:
    # Fault: the landing bucket refuses GetObject, once the parse function has read the file
    # (a 1 ms delay lets that first read through): the Map's ItemReader cannot read the
    # parsed batches, the map run fails, and its Catch ends in BatchesLost.
    bucket = name_of(deployer, stack, workflow.BUCKET)
    passed, refused = (
        faults.inject(service="s3", operation="GetObject", resource=bucket, latency_ms=1, count=1),
        faults.inject(
            service="s3",
            operation="GetObject",
            resource=bucket,
            error="AccessDenied",
            status=403,
            message="injected: the parsed batches cannot be read",
        ),
    )
    generated = unique_sales(60, 0.1, seed=520)

    _key, execution = upload(deployer, stack, render_sales(generated, "json"), "json")
    fired = {rule["id"]: rule["fired"] for rule in faults.list()}
    faults.clear()

    assert (execution.status, execution.error) == ("FAILED", "BatchesLost"), (execution.status, execution.error)
    assert execution.path == ["ParseFile", "ValidateAndStore", "BatchesLost"], execution.path
    assert fired[passed["id"]] == 1, "the parse function's read went through"
    assert fired[refused["id"]] >= 1, "the map run's read was refused"
    assert "the parsed batches cannot be read" in (execution.cause or ""), execution.cause
    table = name_of(deployer, stack, workflow.TABLE)
    stored: list[Any] = []
    for item in generated:
        key = {"orderId": {"S": str(item.record.get("orderId"))}}
        if item.expected.valid and aws("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True).get("Item"):
            stored.append(item.record["orderId"])
    assert stored == [], f"no batch was read, yet {len(stored)} order(s) were stored: {stored[:5]}"
