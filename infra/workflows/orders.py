"""Workflow 1, customer orders.

The order is put in the orders table (customerID, orderID); the put's HTTP status is
checked; a Lambda checks the card transaction; approved orders are confirmed to the
customer through SNS, declined ones are deleted and the execution fails with
`TransactionDeclined`.

Each confirmation also reaches a queue subscribed to the topic (raw delivery, only
messages that name a customer), from which an event source mapping feeds a Lambda that
marks the order confirmed in the table, reporting failed messages one by one; those go
to a dead-letter queue after three receives. That Lambda's shared code is a layer.
"""

from __future__ import annotations

from serverless_testbed.stack.model import (
    EventSourceMapping,
    Function,
    Layer,
    Queue,
    Ref,
    Resource,
    StateMachine,
    Statement,
    Subscription,
    Table,
    Topic,
)
from serverless_testbed.workflow import Workflow

TABLE = "orders-table"
TOPIC = "order-notifications"
FUNCTION = "check-transaction"
MACHINE = "customer-orders"
CONFIRMATIONS = "order-confirmations"
UNCONFIRMED = "order-confirmations-failed"
CONFIRM = "record-confirmation"
SHARED = "orders-shared"


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
        Queue(UNCONFIRMED),
        Queue(CONFIRMATIONS, visibility_timeout=30, redrive_to=UNCONFIRMED, max_receives=3),
        Subscription(
            "confirmations-subscription",
            topic=TOPIC,
            queue=CONFIRMATIONS,
            raw=True,
            filter_policy={"customerID": [{"exists": True}]},
        ),
        Layer(SHARED, source="orders_shared"),
        Function(
            CONFIRM,
            source="record_confirmation",
            timeout=10,
            layers=(SHARED,),
            environment={"TABLE_NAME": Ref(TABLE, "name")},
            grants=(Statement(("dynamodb:UpdateItem",), (Ref(TABLE),)),),
        ),
        EventSourceMapping(
            "confirmations-feed",
            source=CONFIRMATIONS,
            function=CONFIRM,
            batch_size=10,
            batching_window=1,
            report_failures=True,
        ),
    ]


WORKFLOW = Workflow(
    name="orders",
    summary="customer orders: DynamoDB put, card check, SNS confirmation marked through SQS, or delete and fail",
    resources=resources,
    generator="fixtures.orders:generate_orders",
    runner="infra.runs.orders:run",
    trigger="start-execution, one per order",
)
