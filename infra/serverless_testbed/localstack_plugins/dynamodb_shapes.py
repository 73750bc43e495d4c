"""DynamoDB answers shaped as AWS shapes them, applied to what moto-ext answers.

Moto answers with fields nobody asked for (`ConsumedCapacity` without
`ReturnConsumedCapacity`, `ItemCollectionMetrics` without `ReturnItemCollectionMetrics`,
`Attributes: {}` without `ReturnValues`), and its table descriptions differ from AWS's:
no `TableId`, `BillingModeSummary` on PROVISIONED tables, empty index lists, indexes
without `IndexArn`/`IndexSizeBytes`/`ItemCount`, no `TableClassSummary`. Each function
here takes the request and moto's parsed answer and returns AWS's shape. Pure functions
of dicts: the unit tests run them without an engine.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

# A fixed namespace: the same table (ARN and creation time) always gets the same TableId.
TABLE_ID_NAMESPACE = uuid.UUID("6a1f3f0e-3c59-4d43-9a53-0b5c3d5a7e21")
# Operations whose answer holds a table description, and under which key.
TABLE_DESCRIPTION_KEYS = {
    "CreateTable": "TableDescription",
    "DescribeTable": "Table",
    "UpdateTable": "TableDescription",
    "DeleteTable": "TableDescription",
}
# Operations that answer ConsumedCapacity / ItemCollectionMetrics only when asked to.
CAPACITY_OPERATIONS = frozenset(
    {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "GetItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)
RETURN_VALUES_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem"})


def table_id(table_arn: str, created: Any) -> str:
    """A stable TableId for one table: a recreated table of the same name gets another."""
    stamp = created.isoformat() if isinstance(created, datetime) else str(created)
    return str(uuid.uuid5(TABLE_ID_NAMESPACE, f"{table_arn}@{stamp}"))


def strip_unrequested(operation: str, request: Mapping[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """Drop ConsumedCapacity, ItemCollectionMetrics and empty Attributes the request did not ask for."""
    if operation in CAPACITY_OPERATIONS:
        if request.get("ReturnConsumedCapacity") not in ("TOTAL", "INDEXES"):
            response.pop("ConsumedCapacity", None)
            for entry in response.get("Responses") or []:
                if isinstance(entry, dict):
                    entry.pop("ConsumedCapacity", None)
        if request.get("ReturnItemCollectionMetrics") != "SIZE":
            response.pop("ItemCollectionMetrics", None)
    if operation in RETURN_VALUES_OPERATIONS and not response.get("Attributes"):
        # AWS leaves Attributes out when there is nothing to return (no ReturnValues, or no old item).
        response.pop("Attributes", None)
    return response


IndexStats = Callable[[str], tuple[int, int]]


def shape_table(
    description: dict[str, Any],
    *,
    operation: str,
    table_class: str | None,
    index_stats: IndexStats | None = None,
) -> dict[str, Any]:
    """A table description as AWS gives it; `index_stats(name)` -> (item count, size in bytes)."""
    arn = description.get("TableArn")
    if arn and "TableId" not in description:
        description["TableId"] = table_id(arn, description.get("CreationDateTime"))
    summary = description.get("BillingModeSummary") or {}
    if summary.get("BillingMode") == "PROVISIONED":
        # AWS describes a table created PROVISIONED without a BillingModeSummary.
        description.pop("BillingModeSummary", None)
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = description.get(key)
        if indexes == []:
            description.pop(key)
            continue
        for index in indexes or []:
            name = index.get("IndexName", "")
            if arn:
                index.setdefault("IndexArn", f"{arn}/index/{name}")
            count, size = index_stats(name) if index_stats else (0, 0)
            index.setdefault("IndexSizeBytes", size)
            index.setdefault("ItemCount", count)
    if operation == "CreateTable":
        # AWS's CreateTable answer has no WarmThroughput (UpdateTable's and DescribeTable's do).
        description.pop("WarmThroughput", None)
    if table_class:
        description["TableClassSummary"] = {"TableClass": table_class}
    elif operation == "DescribeTable":
        description.setdefault("TableClassSummary", {"TableClass": "STANDARD"})
    return description


def shape_describe_stream(request: Mapping[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """DescribeStream lists the shards after `ExclusiveStartShardId` (moto ignores it)."""
    start = request.get("ExclusiveStartShardId")
    description = response.get("StreamDescription") or {}
    shards = description.get("Shards")
    if start and isinstance(shards, list):
        # Shard ids sort in creation order; the page starts after the one named.
        description["Shards"] = [shard for shard in shards if str(shard.get("ShardId", "")) > start]
    return response
