"""Factory fixtures only this repository's integration tests use; the generic ones
(`cleanup`, `role_arn`, `make_function`, `make_queue`, `make_bucket`, `make_state_machine`,
`deploy`, `wait_execution`, `receive_messages`) come from the testbed pytest plugin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.pytest_factories import Cleanup


@pytest.fixture
def make_orders_table(aws: Clients, unique: Callable[[str], str], cleanup: Cleanup) -> Callable[..., str]:
    """A table keyed customerID/orderID, as in the customer-orders workflow."""
    ddb = aws("dynamodb")

    def make(stream: bool = False) -> str:
        name = unique("orders")
        extra: dict[str, Any] = {}
        if stream:
            extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        ddb.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": "customerID", "KeyType": "HASH"},
                {"AttributeName": "orderID", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "customerID", "AttributeType": "S"},
                {"AttributeName": "orderID", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
        cleanup.add(f"table {name}", lambda: ddb.delete_table(TableName=name))
        ddb.get_waiter("table_exists").wait(TableName=name)
        return name

    return make
