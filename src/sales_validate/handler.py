"""Validates one batch of parsed sales entries (one Distributed Map item).

Returns the valid orders as BatchWriteItem requests (25 items each, as one JSON string) and the invalid
ones as SendMessageBatch entries (10 each) for the dead-letter queue, each message
carrying the source file, line, record and every reason it was rejected for.
"""

from __future__ import annotations

import json
import os
from typing import Any

from rules import normalize, to_dynamodb_item, validate

WRITE_BATCH = 25  # BatchWriteItem's limit
SEND_BATCH = 10  # SendMessageBatch's limit


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    table = os.environ["TABLE_NAME"]
    batch = event["batch"]
    source = batch.get("source", "")
    puts: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    entries = batch.get("entries") or []
    for entry in json.loads(entries) if isinstance(entries, str) else entries:
        reasons = validate(entry)
        if reasons:
            body = {
                "source": source,
                "line": entry.get("line"),
                "record": entry.get("record") if entry.get("record") is not None else entry.get("raw"),
                "reasons": reasons,
                "execution": event.get("execution"),
            }
            messages.append({"Id": f"line-{entry.get('line')}", "MessageBody": json.dumps(body, default=str)})
            continue
        item = to_dynamodb_item(normalize(entry["record"]))
        item["sourceFile"] = {"S": source}
        item["sourceLine"] = {"N": str(entry["line"])}
        puts.append({"PutRequest": {"Item": item}})
    return {
        # One JSON string rather than nested data: the state machine only passes it on to
        # the store task, and a string is copied and recorded at a fraction of the cost.
        "writes": json.dumps([{"RequestItems": {table: chunk}} for chunk in chunks(puts, WRITE_BATCH)]),
        "rejects": chunks(messages, SEND_BATCH),
        "stored": len(puts),
        "rejected": len(messages),
    }
