"""Stores one batch of valid sales orders: BatchWriteItem requests, unprocessed items
written again with backoff. Items are keyed by orderId, so a retried batch (or a file
uploaded twice) overwrites, never duplicates.

Raises UnprocessedItemsError when DynamoDB keeps refusing items; the state machine's
Retry on the store task runs the whole batch again.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

import boto3

ATTEMPTS = 6
_dynamodb = None


class UnprocessedItemsError(Exception):
    """DynamoDB left items unprocessed after every attempt (throttling)."""


def _client() -> Any:
    global _dynamodb
    if _dynamodb is None:
        _dynamodb = boto3.client("dynamodb")
    return _dynamodb


def write(request_items: dict[str, list[dict[str, Any]]], attempts: int = ATTEMPTS) -> int:
    """Write one BatchWriteItem request to the end; returns how many items it held."""
    count = sum(len(items) for items in request_items.values())
    pending = request_items
    for attempt in range(attempts):
        pending = _client().batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        if not pending:
            return count
        time.sleep(min(0.05 * 2**attempt, 1.0) * random.random())  # backoff with jitter, as AWS advises
    left = sum(len(items) for items in pending.values())
    raise UnprocessedItemsError(f"{left} of {count} items still unprocessed after {attempts} attempts")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    writes = event.get("writes") or "[]"
    requests = json.loads(writes) if isinstance(writes, str) else writes
    stored = sum(write(request["RequestItems"]) for request in requests)
    return {"stored": stored}
