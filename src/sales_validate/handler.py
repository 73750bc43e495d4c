"""Validates one batch of parsed sales entries (one Distributed Map item).

Returns the valid orders as BatchWriteItem-shaped requests (25 items each, as one JSON
string) for the store function and the invalid ones as SendMessageBatch entries (10 each)
for the dead-letter queue, each message carrying the source file, line, record and every
reason it was rejected for. An entry the rules cannot judge (a bug in them) is rejected
with `validation-error: ...` instead of failing the batch.
"""

from __future__ import annotations

import json
import os
from typing import Any

from rules import normalize, to_dynamodb_item, validate

MAX_MESSAGE = 24_000  # characters of a dead letter's record: 10 of them fit one SendMessageBatch

WRITE_BATCH = 25  # BatchWriteItem's limit
SEND_BATCH = 10  # SendMessageBatch's limit


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def letter(source: str, line: Any, record: Any, reasons: list[str], execution: Any) -> dict[str, Any]:
    """A dead letter for one record; a record too long for a message is cut, and says so
    (the file itself still holds it at `line`)."""
    body: dict[str, Any] = {
        "source": source,
        "line": line,
        "record": record,
        "reasons": reasons,
        "execution": execution,
    }
    text = json.dumps(body, default=str)
    if len(text) > MAX_MESSAGE:
        body["record"] = json.dumps(record, default=str)[: MAX_MESSAGE // 2]
        body["truncated"] = True
        text = json.dumps(body, default=str)
    return {"Id": f"line-{line}", "MessageBody": text}


def judge(entry: dict[str, Any], source: str) -> tuple[list[str], dict[str, Any] | None]:
    """(reasons, the DynamoDB item to store when there are none) for one entry; never raises."""
    try:
        reasons = validate(entry)
        if reasons:
            return reasons, None
        item = to_dynamodb_item(normalize(entry["record"]))
        item["sourceFile"] = {"S": source}
        item["sourceLine"] = {"N": str(int(entry["line"]))}
    except Exception as err:  # noqa: BLE001 - one entry the rules cannot judge must not sink its batch
        return [f"validation-error: {type(err).__name__}: {err}"[:500]], None
    return [], item


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    table = os.environ["TABLE_NAME"]
    batch = event["batch"]
    source = batch.get("source", "")
    puts: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    entries = batch.get("entries") or []
    for entry in json.loads(entries) if isinstance(entries, str) else entries:
        reasons, item = judge(entry, source)
        if item is None:
            entry = entry if isinstance(entry, dict) else {"raw": entry}
            record = entry.get("record") if entry.get("record") is not None else entry.get("raw")
            messages.append(letter(source, entry.get("line"), record, reasons, event.get("execution")))
        else:
            puts.append({"PutRequest": {"Item": item}})
    return {
        # One JSON string rather than nested data: the state machine only passes it on to
        # the store task, and a string is copied and recorded at a fraction of the cost.
        "writes": json.dumps([{"RequestItems": {table: chunk}} for chunk in chunks(puts, WRITE_BATCH)]),
        "rejects": chunks(messages, SEND_BATCH),
        "stored": len(puts),
        "rejected": len(messages),
        "source": source,
        "execution": event.get("execution"),
    }
