"""BatchWriteItem for any number of requests: 25 at a time, each batch sent again with what
DynamoDB left unprocessed until nothing is left."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

BATCH = 25  # BatchWriteItem's limit


def batch_write(dynamodb: Any, table: str, requests: Sequence[dict[str, Any]]) -> None:
    """Write `requests` (PutRequest/DeleteRequest entries) to `table`."""
    for start in range(0, len(requests), BATCH):
        pending: dict[str, Any] = {table: list(requests[start : start + BATCH])}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
