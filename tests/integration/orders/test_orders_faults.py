"""Workflow 1, customer orders, when DynamoDB or the check function fails: faults injected
from outside the code (infra/serverless_testbed/faults.py) drive each Retry and Catch rule of the machine.

What a customer sees is checked each time: the order stored once (or not at all, with the
error named in the execution's failure), and one confirmation at most.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.executions import Execution, start, wait_execution
from serverless_testbed.faults import FaultsClient
from serverless_testbed.observe import collect, sns_messages, topic_capture
from serverless_testbed.stack.stack import Stack

from fixtures.orders import generate_orders
from infra.workflows import orders as workflow

CONFIRMED = [
    "PutOrder",
    "WasOrderStored",
    "CheckTransaction",
    "IsTransactionApproved",
    "NotifyCustomer",
    "OrderConfirmed",
]


@pytest.fixture(scope="module")
def stack(deploy: Callable[[str], Stack]) -> Stack:
    return deploy("orders")


@pytest.fixture(scope="module")
def names(stack: Stack, deployer: Deployer) -> dict[str, str]:
    bound = stack.bind(deployer.ctx)
    return {
        "machine": bound.arn(workflow.MACHINE),
        "table": bound.name(workflow.TABLE),
        "topic": bound.arn(workflow.TOPIC),
        "function": bound.name(workflow.FUNCTION),
    }


def approved_order() -> dict[str, Any]:
    """An order the check approves, with an id of its own (no earlier run stored it)."""
    item = next(item for item in generate_orders(40, 0.5, seed=11) if item.expected.valid)
    return dict(item.record) | {"orderID": f"fault-{uuid.uuid4().hex[:10]}"}


def stored(aws: Clients, table: str, order: dict[str, Any]) -> dict[str, Any] | None:
    key = {"customerID": {"S": order["customerID"]}, "orderID": {"S": order["orderID"]}}
    item: dict[str, Any] | None = aws("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    return item


def failures(execution: Execution) -> list[str]:
    return [e["taskFailedEventDetails"]["error"] for e in execution.history if e["type"] == "TaskFailed"]


def run_and_capture(
    aws: Clients, names: dict[str, str], order: dict[str, Any], expected: int
) -> tuple[Execution, list]:
    """Run the order; the confirmations about it (`expected` awaited, any more kept too)."""

    def about(message: dict[str, Any]) -> bool:
        attributes = json.loads(message["Body"]).get("MessageAttributes") or {}
        return bool(attributes.get("orderID", {}).get("Value") == order["orderID"])

    with topic_capture(aws, names["topic"]) as queue:
        execution = wait_execution(aws, start(aws, names["machine"], order))
        first = collect(aws, queue, count=expected, keep=about, timeout=30)
        extra = collect(aws, queue, count=0, keep=about)  # a second confirmation would be a defect
    return execution, sns_messages(first.messages + extra.messages)


def test_a_throttled_put_is_retried_and_the_order_stored_and_confirmed_once(
    aws: Clients, names: dict[str, str], faults: FaultsClient
) -> None:
    # Fault: the next PutItem on the orders table answers ProvisionedThroughputExceededException.
    rule = faults.inject(
        service="dynamodb",
        operation="PutItem",
        resource=names["table"],
        error="ProvisionedThroughputExceededException",
        count=1,
    )
    order = approved_order()

    execution, confirmations = run_and_capture(aws, names, order, expected=1)

    assert execution.status == "SUCCEEDED", f"expected SUCCEEDED, saw {execution.status} {execution.error}"
    assert execution.path == CONFIRMED, execution.path
    assert failures(execution) == ["DynamoDB.ProvisionedThroughputExceededException"], failures(execution)
    assert faults.fired(rule["id"]) == 1
    item = stored(aws, names["table"], order)
    assert item is not None, "the retried put must store the order"
    assert json.loads(item["order"]["S"])["orderID"] == order["orderID"]
    assert len(confirmations) == 1, f"expected one confirmation, saw {len(confirmations)}"
    assert order["orderID"] in confirmations[0]["Message"]


def test_a_put_that_keeps_failing_fails_the_order_naming_the_error_and_confirms_nothing(
    aws: Clients, names: dict[str, str], faults: FaultsClient
) -> None:
    # Fault: every PutItem on the orders table is throttled; the Retry gives up after 3 retries.
    rule = faults.inject(
        service="dynamodb",
        operation="PutItem",
        resource=names["table"],
        error="ProvisionedThroughputExceededException",
        message="the orders table is throttled",
    )
    order = approved_order()

    execution, confirmations = run_and_capture(aws, names, order, expected=0)

    assert (execution.status, execution.error) == ("FAILED", "OrderNotStored"), (execution.status, execution.error)
    assert execution.path == ["PutOrder", "OrderNotStored"], execution.path
    assert failures(execution) == ["DynamoDB.ProvisionedThroughputExceededException"] * 4, failures(execution)
    assert faults.fired(rule["id"]) == 4
    assert "the orders table is throttled" in (execution.cause or ""), execution.cause
    assert stored(aws, names["table"], order) is None, "a put that never succeeded stored the order"
    assert confirmations == [], f"an order that was not stored was confirmed: {confirmations}"


@pytest.mark.parametrize(
    ("fault", "error"),
    [("crash", "Runtime.ExitError"), ("throttle", "Lambda.TooManyRequestsException")],
)
def test_a_failed_transaction_check_is_retried_and_the_order_confirmed_once(
    aws: Clients, names: dict[str, str], faults: FaultsClient, fault: str, error: str
) -> None:
    # Fault: the check function's next invocation crashes / is throttled by Lambda.
    rule = faults.inject(function=names["function"], fault=fault, count=1)
    order = approved_order()

    execution, confirmations = run_and_capture(aws, names, order, expected=1)

    assert execution.status == "SUCCEEDED", f"expected SUCCEEDED, saw {execution.status} {execution.error}"
    assert execution.path == CONFIRMED, execution.path
    assert failures(execution) == [error], failures(execution)
    assert faults.fired(rule["id"]) == 1
    assert stored(aws, names["table"], order) is not None, "the confirmed order is not in the table"
    assert len(confirmations) == 1, f"expected one confirmation, saw {len(confirmations)}"


def test_a_check_that_keeps_failing_removes_the_order_and_fails_naming_the_error(
    aws: Clients, names: dict[str, str], faults: FaultsClient
) -> None:
    # Fault: every invocation of the check function is throttled; the Retry gives up after 3 retries.
    rule = faults.inject(function=names["function"], fault="throttle")
    order = approved_order()

    execution, confirmations = run_and_capture(aws, names, order, expected=0)

    assert (execution.status, execution.error) == ("FAILED", "TransactionNotChecked"), (
        execution.status,
        execution.error,
    )
    assert execution.path == [
        "PutOrder",
        "WasOrderStored",
        "CheckTransaction",
        "DeleteUncheckedOrder",
        "TransactionNotChecked",
    ], execution.path
    assert failures(execution) == ["Lambda.TooManyRequestsException"] * 4, failures(execution)
    assert faults.fired(rule["id"]) == 4
    assert "Lambda.TooManyRequestsException" in (execution.cause or ""), execution.cause
    assert stored(aws, names["table"], order) is None, "an order whose card was never checked stayed stored (PENDING)"
    assert confirmations == [], f"an unchecked order was confirmed: {confirmations}"


def test_a_run_whose_puts_all_fail_gives_a_verdict_naming_each_order(
    deployer: Deployer, stack: Stack, names: dict[str, str], faults: FaultsClient
) -> None:
    """`testbed run orders` with the table throttled: each order's failure is a problem of
    the run (exit 1 at the command line), not an error of the run itself (it waited for
    notifications that could never come, and stopped on that wait)."""
    from serverless_testbed.runs import RunOptions

    from infra.runs.orders import run

    faults.inject(
        service="dynamodb", operation="PutItem", resource=names["table"], error="ProvisionedThroughputExceededException"
    )
    result = run(deployer, stack, RunOptions(records=3, invalid_rate=0.0, seed=5, run_id=uuid.uuid4().hex[:8]))

    assert result.counts["approved"] == 0, result.counts
    not_stored = [problem for problem in result.problems if "expected SUCCEEDED, saw FAILED OrderNotStored" in problem]
    assert len(not_stored) == 3, result.problems
