"""Run workflow 1 (customer orders) on generated orders and check every outcome.

The run's id is in every order id, so the run's notifications are told apart from any
other run's (or anyone else's) on the same topic by their orderID attribute. Each approved
order must also be marked confirmed in the table, through the confirmations queue and
its event source mapping, within CONFIRMED_WITHIN seconds.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from serverless_testbed.deploy import Deployer
from serverless_testbed.errors import WaitTimeout
from serverless_testbed.executions import Execution, start, wait_executions
from serverless_testbed.observe import collect, sns_messages, topic_capture
from serverless_testbed.progress import Stage
from serverless_testbed.records import REJECTED, Generated, rejected_record
from serverless_testbed.runs import RunOptions, RunResult
from serverless_testbed.stack.stack import Stack
from serverless_testbed.waiting import wait_for

from fixtures.orders import generate_orders
from infra.workflows import orders as workflow

# How long a confirmation may take from the topic to the table (SNS, SQS, the mapping's poll, the
# Lambda): AWS's SQS pollers hand a message over within a second or two.
CONFIRMED_WITHIN = 30.0


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
        # One notification per execution that confirmed its order; an approved order whose
        # execution failed is a problem of its own below, and no notification is waited for.
        wanted = {
            item.record["orderID"]
            for item, execution in zip(generated, executions, strict=True)
            if item.expected.valid and execution.status == "SUCCEEDED"
        }
        with progress.stage("orders: notifications received", total=len(wanted), unit="messages") as stage:
            captured = collect(
                clients,
                capture,
                count=len(wanted),
                keep=lambda m: _order_of(m) in wanted,
                on_kept=lambda n: stage.update(completed=n),
                strict=False,  # fewer than expected is a problem the run reports, not an error
            )
        notices = sns_messages(captured.messages)
    dynamodb = clients("dynamodb")
    with progress.stage("orders: confirmations recorded", total=len(wanted), unit="orders") as stage:
        confirmed = _confirmed(
            dynamodb, table, [item.record for item in approved if item.record["orderID"] in wanted], stage
        )
    seconds = time.monotonic() - started
    with progress.stage("orders: outcomes checked", total=len(generated), unit="orders") as stage:
        problems = _check(generated, executions, dynamodb, table, stage)
    unconfirmed = sorted(wanted - confirmed)
    if unconfirmed:
        problems.append(
            f"confirmations: {len(unconfirmed)} approved orders not marked confirmed in {table} "
            f"within {CONFIRMED_WITHIN:.0f} s (through the {workflow.CONFIRMATIONS} queue), e.g. {unconfirmed[0]}"
        )
    notified = [str(_order_id(notice)) for notice in notices]
    if sorted(notified) != sorted(wanted):
        problems.append(f"notifications: expected one per confirmed order ({len(wanted)}), saw {len(notified)}")
    return RunResult(
        workflow="orders",
        executions=executions,
        counts={
            "orders": len(generated),
            "approved": sum(e.status == "SUCCEEDED" for e in executions),
            "declined": sum(e.error == "TransactionDeclined" for e in executions),
            "notified": len(notified),
            "confirmed": len(confirmed),
            **({"other_messages": captured.foreign} if captured.foreign else {}),
        },
        seconds=seconds,
        problems=problems,
        details={
            REJECTED: [
                rejected_record(f"order {item.record['orderID']}", execution.cause or execution.error or "", "declined")
                for item, execution in zip(generated, executions, strict=True)
                if execution.error == "TransactionDeclined"
            ]
        },
        run_id=options.run_id,
    )


def _confirmed(dynamodb: Any, table: str, orders: list[dict[str, object]], stage: Stage) -> set[str]:
    """The order ids of `orders` marked confirmed in `table`, once all are or the time is up."""
    confirmed: set[str] = set()

    def all_confirmed() -> bool:
        for order in orders:
            if order["orderID"] in confirmed:
                continue
            key = {"customerID": {"S": str(order["customerID"])}, "orderID": {"S": str(order["orderID"])}}
            item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", {})
            if "confirmedAt" in item:
                confirmed.add(str(order["orderID"]))
        stage.update(completed=len(confirmed))
        return len(confirmed) == len(orders)

    with contextlib.suppress(WaitTimeout):  # the problems name the orders left unconfirmed
        wait_for(all_confirmed, timeout=CONFIRMED_WITHIN, interval=0.2, what="every approved order confirmed")
    return confirmed


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
