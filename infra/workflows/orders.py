"""Workflow 1, customer orders (seed 000).

The order is put in the orders table (customerID, orderID); the put's HTTP status is
checked; a Lambda checks the card transaction; approved orders are confirmed to the
customer through SNS, declined ones are deleted and the execution fails with
`TransactionDeclined`.
"""

from __future__ import annotations

from serverless_testbed.stack.model import Function, Ref, Resource, StateMachine, Table, Topic
from serverless_testbed.workflow import Workflow

TABLE = "orders-table"
TOPIC = "order-notifications"
FUNCTION = "check-transaction"
MACHINE = "customer-orders"


def resources() -> list[Resource]:
    return [
        Table(TABLE, hash_key="customerID", range_key="orderID"),
        Topic(TOPIC),
        Function(FUNCTION, source="check_transaction", timeout=10),
        StateMachine(
            MACHINE,
            asl="customer_orders.asl.json",
            substitutions={
                "OrdersTable": Ref(TABLE, "name"),
                "CheckTransactionArn": Ref(FUNCTION),
                "NotificationTopicArn": Ref(TOPIC),
            },
        ),
    ]


WORKFLOW = Workflow(
    name="orders",
    summary="customer orders: DynamoDB put, card check Lambda, SNS confirmation or delete and fail",
    resources=resources,
    generator="fixtures.orders:generate_orders",
    runner="infra.runs.orders:run",
    trigger="start-execution, one per order",
)
