"""Workflow 1, customer orders, end to end on the engine: approved, declined, failed put."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.executions import Execution, start, wait_execution
from serverless_testbed.observe import drain, sns_messages, topic_capture
from serverless_testbed.stack.stack import Stack

from fixtures.orders import generate_orders
from infra.workflows import orders as workflow


@pytest.fixture(scope="module")
def stack(deploy: Callable[[str], Stack]) -> Stack:
    return deploy("orders")


@pytest.fixture(scope="module")
def names(stack: Stack, deployer: Deployer) -> dict[str, str]:
    ctx = deployer.ctx
    return {
        "machine": stack.bind(ctx).arn(workflow.MACHINE),
        "table": stack.bind(ctx).name(workflow.TABLE),
        "topic": stack.bind(ctx).arn(workflow.TOPIC),
    }


def first(approved: bool) -> dict[str, Any]:
    for item in generate_orders(40, 0.5, seed=11):
        if item.expected.valid is approved:
            return dict(item.record)
    raise AssertionError(f"the generator gave no {'approved' if approved else 'declined'} order")


def stored(aws: Clients, table: str, order: dict[str, Any]) -> dict[str, Any] | None:
    key = {"customerID": {"S": order["customerID"]}, "orderID": {"S": order["orderID"]}}
    item: dict[str, Any] | None = aws("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    return item


def run(aws: Clients, machine: str, order: dict[str, Any]) -> Execution:
    return wait_execution(aws, start(aws, machine, order))


def test_approved_order_is_kept_and_the_customer_notified(aws: Clients, names: dict[str, str]) -> None:
    order = first(approved=True)
    with topic_capture(aws, names["topic"]) as capture:
        execution = run(aws, names["machine"], order)
        notices = sns_messages(drain(aws, capture, count=1))

    assert execution.status == "SUCCEEDED", f"expected SUCCEEDED, saw {execution.status}: {execution.cause}"
    assert execution.path == [
        "PutOrder",
        "WasOrderStored",
        "CheckTransaction",
        "IsTransactionApproved",
        "NotifyCustomer",
        "OrderConfirmed",
    ]
    item = stored(aws, names["table"], order)
    assert item is not None, "the approved order is not in the table"
    assert json.loads(item["order"]["S"])["orderID"] == order["orderID"]
    assert notices[0]["MessageAttributes"]["orderID"]["Value"] == order["orderID"]
    assert order["orderID"] in notices[0]["Message"]


@pytest.mark.embedded_only(reason="DynamoDB task SdkHttpMetadata is the fidelity patch; stock LocalStack answers {}")
def test_the_put_status_is_the_one_aws_returns(aws: Clients, names: dict[str, str]) -> None:
    """Fidelity fix: the engine answers DynamoDB tasks with SdkHttpMetadata as AWS does."""
    order = first(approved=True) | {"orderID": "status-check-order"}
    execution = run(aws, names["machine"], order)
    entered = [e for e in execution.history if e["type"] == "TaskSucceeded"]
    put_output = json.loads(entered[0]["taskSucceededEventDetails"]["output"])
    assert put_output["SdkHttpMetadata"]["HttpStatusCode"] == 200, f"put answered {put_output}"
    assert put_output["SdkResponseMetadata"]["RequestId"], f"put answered {put_output}"


def test_declined_order_is_deleted_and_the_execution_fails(aws: Clients, names: dict[str, str]) -> None:
    order = first(approved=False)
    execution = run(aws, names["machine"], order)

    assert (execution.status, execution.error) == ("FAILED", "TransactionDeclined"), (
        f"expected FAILED TransactionDeclined, saw {execution.status} {execution.error}"
    )
    assert execution.path[-2:] == ["DeleteOrder", "TransactionDeclined"], execution.path
    assert execution.cause
    assert "declined" in execution.cause
    assert stored(aws, names["table"], order) is None, "the declined order is still in the table"


def test_a_failed_put_fails_the_execution(aws: Clients, names: dict[str, str]) -> None:
    """The same order twice: the second put's condition fails and nothing is checked or sent."""
    order = first(approved=True) | {"orderID": "put-twice-order"}
    assert run(aws, names["machine"], order).succeeded
    execution = run(aws, names["machine"], order)

    assert (execution.status, execution.error) == ("FAILED", "OrderNotStored"), (
        f"expected FAILED OrderNotStored, saw {execution.status} {execution.error}"
    )
    assert execution.path == ["PutOrder", "OrderNotStored"], execution.path
    failed = [e for e in execution.history if e["type"] == "TaskFailed"]
    assert failed[0]["taskFailedEventDetails"]["error"] == "DynamoDB.ConditionalCheckFailedException"


def test_bad_input_fails_with_a_clear_error(aws: Clients, names: dict[str, str]) -> None:
    execution = run(aws, names["machine"], {"customerID": "c-1"})  # no orderID

    assert execution.status == "FAILED"
    assert "orderID" in (execution.cause or ""), f"the cause should name the missing field: {execution.cause}"


def test_a_second_deploy_plans_nothing(deployer: Deployer, stack: Stack) -> None:
    changes = deployer.plan(stack)
    assert changes == [], (
        f"expected no changes after a deploy, the planner wants {[(c.action, c.name) for c in changes]}"
    )
