"""Run workflow 1 (customer orders) on generated orders and check every outcome.

The run's id is in every order id, so the run's notifications are told apart from any
other run's (or anyone else's) on the same topic by their orderID attribute.
"""

from __future__ import annotations

import json
import time
from typing import Any

from serverless_testbed.deploy import Deployer
from serverless_testbed.executions import Execution, start, wait_executions
from serverless_testbed.observe import collect, sns_messages, topic_capture
from serverless_testbed.progress import Stage
from serverless_testbed.records import Generated
from serverless_testbed.runs import RunOptions, RunResult
from serverless_testbed.stack.stack import Stack

from fixtures.orders import generate_orders
from infra.workflows import orders as workflow


def run(deployer: Deployer, stack: Stack, options: RunOptions) -> RunResult:
    clients, ctx = deployer.clients, deployer.ctx
    generated = generate_orders(options.records, options.invalid_rate, options.seed, run_id=options.run_id)
    machine = stack.bind(ctx).arn(workflow.MACHINE)
    table = stack.bind(ctx).name(workflow.TABLE)
    progress = options.progress
    started = time.monotonic()
    with topic_capture(clients, stack.bind(ctx).arn(workflow.TOPIC)) as capture:
        with progress.stage("orders: executions started", total=len(generated), unit="orders") as stage:
            arns = []
            for item in generated:
                arns.append(start(clients, machine, item.record))
                stage.advance()
        with progress.stage("orders: executions finished", total=len(arns), unit="executions") as stage:
            executions = wait_executions(clients, arns, finished=lambda _: stage.advance())
        approved = [item for item in generated if item.expected.valid]
        wanted = {item.record["orderID"] for item in approved}
        with progress.stage("orders: notifications received", total=len(wanted), unit="messages") as stage:
            captured = collect(
                clients,
                capture,
                count=len(wanted),
                keep=lambda m: _order_of(m) in wanted,
                on_kept=lambda n: stage.update(completed=n),
            )
        notices = sns_messages(captured.messages)
    seconds = time.monotonic() - started
    with progress.stage("orders: outcomes checked", total=len(generated), unit="orders") as stage:
        problems = _check(generated, executions, clients("dynamodb"), table, stage)
    notified = [str(_order_id(notice)) for notice in notices]
    if sorted(notified) != sorted(wanted):
        problems.append(f"notifications: expected one per approved order ({len(wanted)}), saw {len(notified)}")
    return RunResult(
        workflow="orders",
        executions=executions,
        counts={
            "orders": len(generated),
            "approved": sum(e.status == "SUCCEEDED" for e in executions),
            "declined": sum(e.error == "TransactionDeclined" for e in executions),
            "notified": len(notified),
            **({"other_messages": captured.foreign} if captured.foreign else {}),
        },
        seconds=seconds,
        problems=problems,
        run_id=options.run_id,
    )


def _check(
    generated: list[Generated], executions: list[Execution], dynamodb: Any, table: str, stage: Stage
) -> list[str]:
    """Each order's execution ended as expected, and the table holds exactly the approved ones."""
    problems: list[str] = []
    for item, execution in zip(generated, executions, strict=True):
        stage.advance()
        order = item.record
        key = {"customerID": {"S": order["customerID"]}, "orderID": {"S": order["orderID"]}}
        stored = "Item" in dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
        label = f"order {order['orderID']}"
        if item.expected.valid:
            if execution.status != "SUCCEEDED":
                problems.append(
                    f"{label}: expected SUCCEEDED, saw {execution.status} {execution.error}: {execution.cause}"
                )
            if not stored:
                problems.append(f"{label}: approved but not in {table}")
        else:
            if (execution.status, execution.error) != ("FAILED", "TransactionDeclined"):
                problems.append(
                    f"{label}: expected FAILED TransactionDeclined, saw {execution.status} {execution.error}"
                )
            if stored:
                problems.append(f"{label}: declined but still in {table}")
    return problems


def _order_of(message: dict[str, object]) -> str | None:
    try:
        return _order_id(json.loads(str(message["Body"])))
    except (KeyError, ValueError):
        return None


def _order_id(notice: dict[str, object]) -> str | None:
    attributes = notice.get("MessageAttributes") or {}
    assert isinstance(attributes, dict)
    value = attributes.get("orderID", {}).get("Value")
    return str(value) if value is not None else None
