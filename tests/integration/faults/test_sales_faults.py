"""The sales ingest under injected faults: every record is accounted for exactly once.

Faults (infra/serverless_testbed/faults.py) act from outside the code: DynamoDB answers the store function's
TransactWriteItems with ProvisionedThroughputExceededException, and the validation and store
functions crash (Runtime.ExitError) on a share of their invocations. Whatever fires, each
record of the file ends in exactly one place: stored in the table from this file and line,
or dead-lettered once with its reasons (a valid record only if its batch failed for good,
with the error as its reason), and nothing is stored twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.executions import Execution
from serverless_testbed.faults import FaultsClient
from serverless_testbed.observe import collect
from serverless_testbed.records import Generated
from serverless_testbed.stack.stack import Stack

from fixtures.sales import render_sales
from infra.runs.sales import upload
from infra.workflows import sales as workflow
from tests.integration.sales.records import unique_sales


@pytest.fixture(scope="module")
def stack(deploy: Callable[[str], Stack]) -> Stack:
    return deploy("sales")


def name_of(deployer: Deployer, stack: Stack, logical: str) -> str:
    return stack.bind(deployer.ctx).name(logical)


def dead_letters(aws: Clients, deployer: Deployer, stack: Stack, execution: Execution, count: int) -> list[Any]:
    """The dead letters this execution sent: `count` of them, then any more that arrive."""
    url = aws("sqs").get_queue_url(QueueName=name_of(deployer, stack, workflow.QUEUE))["QueueUrl"]
    name, source = execution.arn.rsplit(":", 1)[-1], (execution.output or {}).get("source")

    def mine(message: dict[str, Any]) -> bool:
        body = json.loads(message["Body"])
        return bool(body.get("source") == source and body.get("execution") == name)

    first = collect(aws, url, count=count, keep=mine, timeout=120)
    extra = collect(aws, url, count=0, keep=mine)  # anything dead-lettered twice
    return [json.loads(m["Body"]) for m in first.messages + extra.messages]


def stored_items(aws: Clients, table: str, order_ids: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    unique = sorted(set(order_ids))
    for start in range(0, len(unique), 100):
        request: Any = {table: {"Keys": [{"orderId": {"S": o}} for o in unique[start : start + 100]]}}
        request[table]["ConsistentRead"] = True
        while request:
            response = aws("dynamodb").batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table, []):
                found[item["orderId"]["S"]] = item
            request = response.get("UnprocessedKeys") or {}
    return found


def accounting_problems(
    generated: list[Generated], letters: list[dict[str, Any]], stored: dict[str, dict[str, Any]], source: str
) -> list[str]:
    """How the outcome differs from every record in exactly one place, with the right reasons."""
    problems: list[str] = []
    by_line: dict[int, list[dict[str, Any]]] = {}
    for letter in letters:
        by_line.setdefault(int(letter["line"]), []).append(letter)
    for line, item in enumerate(generated, start=1):
        mine = by_line.pop(line, [])
        order_id = item.record.get("orderId") if isinstance(item.record, dict) else None
        row = stored.get(str(order_id)) if item.expected.valid else None
        in_table = row is not None and row["sourceFile"]["S"] == source and row["sourceLine"]["N"] == str(line)
        if len(mine) + int(in_table) != 1:
            problems.append(f"line {line}: {len(mine)} dead letter(s) and {'in' if in_table else 'not in'} the table")
        elif mine and item.expected.valid and not mine[0]["reasons"][0].startswith("batch-failed: "):
            problems.append(f"line {line}: valid, yet dead-lettered with {mine[0]['reasons']}")
        elif mine and not item.expected.valid and sorted(mine[0]["reasons"]) != sorted(item.expected.reasons):
            problems.append(f"line {line}: expected {sorted(item.expected.reasons)}, saw {mine[0]['reasons']}")
    problems += [f"line {line}: not in the file, yet dead-lettered" for line in sorted(by_line)]
    return problems


def test_5000_records_under_throttled_writes_and_crashing_functions_are_each_accounted_for_once(
    aws: Clients, deployer: Deployer, stack: Stack, faults: FaultsClient
) -> None:
    table = name_of(deployer, stack, workflow.TABLE)
    # Faults: 20 % of the orders table's TransactWriteItems calls throttled; 10 % of the validation and
    # store invocations crash (the executor answers Runtime.ExitError, the sandbox is replaced).
    throttle = faults.inject(
        service="dynamodb",
        operation="TransactWriteItems",
        resource=table,
        error="ProvisionedThroughputExceededException",
        probability=0.2,
    )
    crashes = [
        faults.inject(function=name_of(deployer, stack, logical), fault="crash", probability=0.1)
        for logical in (workflow.VALIDATE, workflow.STORE)
    ]
    generated = unique_sales(5000, 0.1, seed=61)

    _key, execution = upload(deployer, stack, render_sales(generated, "json"), "json")

    assert execution.status == "SUCCEEDED", f"saw {execution.status} {execution.error}: {execution.cause}"
    output = execution.output
    assert output["total"] == 5000, output
    assert output["stored"] + output["rejected"] == 5000, output
    assert output["accounted"] is True, output
    assert faults.fired(throttle["id"]) > 0, "the throttling fault must have fired"
    assert sum(faults.fired(rule["id"]) for rule in crashes) > 0, "the crash faults must have fired"
    letters = dead_letters(aws, deployer, stack, execution, output["rejected"])
    stored = stored_items(aws, table, [str(item.record.get("orderId")) for item in generated if item.expected.valid])
    problems = accounting_problems(generated, letters, stored, output["source"])
    assert not problems, f"{len(problems)} records not accounted for exactly once:\n" + "\n".join(problems[:20])
    assert len(letters) == output["rejected"], f"the output counts {output['rejected']}, the queue had {len(letters)}"


def test_a_batch_whose_retries_are_exhausted_is_dead_lettered_with_the_error(
    aws: Clients, deployer: Deployer, stack: Stack, faults: FaultsClient
) -> None:
    # Fault: the store function crashes 3 times: the first attempt and both retries of the
    # Runtime.ExitError rule; the Catch hands the batch (one: 200 records) to the salvage.
    rule = faults.inject(function=name_of(deployer, stack, workflow.STORE), fault="crash", count=3)
    generated = unique_sales(200, 0.1, seed=62)
    invalid = sum(not item.expected.valid for item in generated)

    _key, execution = upload(deployer, stack, render_sales(generated, "json"), "json")

    assert execution.status == "SUCCEEDED", f"saw {execution.status} {execution.error}: {execution.cause}"
    output = execution.output
    assert (output["total"], output["stored"], output["rejected"]) == (200, 0, 200), output
    assert output["failedBatches"] == 1, output
    assert faults.fired(rule["id"]) == 3
    letters = dead_letters(aws, deployer, stack, execution, 200)
    by_line = {int(letter["line"]): letter for letter in letters}
    assert sorted(by_line) == list(range(1, 201)), "each record dead-lettered exactly once"
    for line, item in enumerate(generated, start=1):
        reasons = by_line[line]["reasons"]
        if item.expected.valid:
            assert reasons == [reasons[0]], reasons
            assert reasons[0].startswith("batch-failed: Runtime.ExitError"), reasons
        else:
            assert sorted(reasons) == sorted(item.expected.reasons), (line, reasons)
    assert invalid > 0
    stored = stored_items(
        aws, name_of(deployer, stack, workflow.TABLE), [str(i.record.get("orderId")) for i in generated]
    )
    assert stored == {}, f"a failed batch stores nothing, saw {len(stored)} items"
