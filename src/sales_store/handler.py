"""Stores one batch of valid sales orders, and accounts for a batch that failed.

`handler` writes the validated items in conditional TransactWriteItems calls (100 items
each, WRITERS at once): an order id already in the table from another file is not
overwritten but rejected with reason `duplicate-order`; the same file uploaded again (same
s3://bucket/key) overwrites its own items, so a retried batch or a re-upload stores
nothing twice. A transaction is all or nothing: when DynamoDB cancels one, its
CancellationReasons say which items failed their condition (rejected as above) or were
refused (`store-refused: ...`), and the others go again in a new transaction. A request
DynamoDB refuses as a whole (ValidationException) is written item by item with
conditional PutItem calls, which name the item at fault. Throttling and conflicts with
other writers are tried again with backoff, and UnprocessedItemsError is raised when items
never go in (the state machine's Retry runs the task again). Not BatchWriteItem: it takes
no condition; not a BatchGetItem check before it: two files with the same ids landing at
once would both pass it. It returns the dead letters of the whole batch (the
validation's and its own) as SendMessageBatch entries, 10 each.

`salvage` is what the state machine runs for a batch whose validation or store failed
after its retries: every record of the batch that is in the table from this file and
line counts as stored, every other one is dead-lettered with `batch-failed: <error>`
as its reason (the validation's own rejects keep theirs). Nothing is lost.
"""

from __future__ import annotations

import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.exceptions import ClientError

ATTEMPTS = 6
WRITERS = 4  # transactions (or, item by item, conditional puts) in flight at once
TRANSACT = 100  # TransactWriteItems' limit
SEND_BATCH = 10  # SendMessageBatch's limit
GET_BATCH = 100  # BatchGetItem's limit
MAX_KEY_BYTES = 2048  # DynamoDB's limit for a partition key
MAX_MESSAGE = 24_000  # characters of a dead letter's record: 10 of them fit one SendMessageBatch
CONDITION = "attribute_not_exists(orderId) OR sourceFile = :source"
THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
# CancellationReasons codes of items that may go in when tried again ("None": the item was
# fine, another one cancelled the transaction).
RETRIED_REASONS = {
    "None",
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
}
_dynamodb = None


class UnprocessedItemsError(Exception):
    """DynamoDB left items unwritten after every attempt (throttling, conflicts)."""


def _client() -> Any:
    global _dynamodb
    if _dynamodb is None:
        _dynamodb = boto3.client("dynamodb")
    return _dynamodb


def plain(item: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A stored item as the record it came from (numbers as their text), without the bookkeeping."""
    return {
        key: next(iter(value.values()))
        for key, value in item.items()
        if key not in ("sourceFile", "sourceLine") and isinstance(value, dict) and value
    }


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


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _backoff(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 1.0) * random.random())  # backoff with jitter, as AWS advises


def put(table: str, item: dict[str, Any], source: str, attempts: int = ATTEMPTS) -> str | None:
    """Write one item unless another file stored its order id: None when it is in the table
    (written, or already there from `source`), else the reason it is refused. Throttling
    is retried with backoff; UnprocessedItemsError when it never goes in."""
    for attempt in range(attempts):
        try:
            _client().put_item(
                TableName=table,
                Item=item,
                ConditionExpression=CONDITION,
                ExpressionAttributeValues={":source": {"S": source}},
            )
            return None
        except ClientError as err:
            code = _error_code(err)
            if code == "ConditionalCheckFailedException":
                return "duplicate-order"
            if code == "ValidationException":
                return f"store-refused: {err.response['Error'].get('Message', code)}"[:500]
            if code not in THROTTLED:
                raise
        _backoff(attempt)
    raise UnprocessedItemsError(f"order {item.get('orderId')} still unwritten after {attempts} throttled attempts")


def transact(table: str, items: list[dict[str, Any]], source: str, attempts: int = ATTEMPTS) -> list[str | None]:
    """Write up to TRANSACT items in conditional transactions: per item, None when it is in
    the table (written, or already there from `source`), else the reason it is refused."""
    outcome: list[str | None] = [None] * len(items)
    pending, unsettled = list(range(len(items))), 0
    while pending:
        puts = [
            {
                "Put": {
                    "TableName": table,
                    "Item": items[index],
                    "ConditionExpression": CONDITION,
                    "ExpressionAttributeValues": {":source": {"S": source}},
                }
            }
            for index in pending
        ]
        try:
            _client().transact_write_items(TransactItems=puts)
            return outcome
        except ClientError as err:
            code = _error_code(err)
            if code == "ValidationException":  # the request as a whole: item by item names the culprit
                for index in pending:
                    outcome[index] = put(table, items[index], source, attempts)
                return outcome
            if code == "TransactionCanceledException":
                reasons = err.response.get("CancellationReasons") or []
                if len(reasons) != len(pending):
                    raise
                again = []
                for index, reason in zip(pending, reasons, strict=True):
                    reason_code = str(reason.get("Code") or "None")
                    if reason_code == "ConditionalCheckFailed":
                        outcome[index] = "duplicate-order"
                    elif reason_code == "ValidationError":
                        outcome[index] = f"store-refused: {reason.get('Message') or reason_code}"[:500]
                    elif reason_code in RETRIED_REASONS:
                        again.append(index)
                    else:
                        raise
                settled = len(again) < len(pending)
                pending = again
                if settled:
                    continue  # some items were judged: the rest go again at once
            elif code not in THROTTLED:
                raise
        unsettled += 1
        if unsettled >= attempts:
            first = next(iter(dict(items[pending[0]].get("orderId") or {"S": "?"}).values()))
            raise UnprocessedItemsError(
                f"{len(pending)} orders (the first {first}) still unwritten after {attempts} throttled attempts"
            )
        _backoff(unsettled - 1)
    return outcome


def store(table: str, items: list[dict[str, Any]], source: str) -> dict[str, Any]:
    """Write `items` conditionally, TRANSACT per transaction and WRITERS transactions at a
    time; {"stored": n, "refused": [(item, reason)]}."""
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        chunked = list(pool.map(lambda chunk: transact(table, chunk, source), chunks(items, TRANSACT)))
    outcomes = [reason for chunk in chunked for reason in chunk]
    refused = [(item, reason) for item, reason in zip(items, outcomes, strict=True) if reason is not None]
    return {"stored": len(items) - len(refused), "refused": refused}


def _put_items(writes: Any) -> tuple[str, list[dict[str, Any]]]:
    """The table and items of the validation's BatchWriteItem-shaped writes."""
    requests = json.loads(writes) if isinstance(writes, str) else (writes or [])
    table, items = "", []
    for request in requests:
        for name, entries in request["RequestItems"].items():
            table = name
            items.extend(entry["PutRequest"]["Item"] for entry in entries)
    return table, items


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """{"writes", "rejects", "source", "execution"} -> {"stored", "rejected", "rejects", "failed", "error"}."""
    source, execution = str(event.get("source") or ""), event.get("execution")
    table, items = _put_items(event.get("writes") or "[]")
    messages = [message for chunk in event.get("rejects") or [] for message in chunk]
    outcome = store(table, items, source)
    for item, reason in outcome["refused"]:
        messages.append(letter(source, int(item["sourceLine"]["N"]), plain(item), [reason], execution))
    stored = outcome["stored"]
    return {
        "stored": stored,
        "rejected": len(messages),
        "rejects": chunks(messages, SEND_BATCH),
        "failed": False,
        "error": None,
    }


def failure_reason(failure: Any) -> str:
    """`batch-failed: <Error>: <message>` from a Catch's error output (short, no stack trace)."""
    failure = failure if isinstance(failure, dict) else {}
    error, cause = str(failure.get("Error") or "Unknown"), failure.get("Cause")
    message = cause
    try:
        parsed = json.loads(cause) if isinstance(cause, str) else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        message = parsed.get("errorMessage") or parsed.get("message") or cause
    return f"batch-failed: {error}: {message}"[:500]


def _stored_from(table: str, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The items stored under `keys` (consistent reads)."""
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunks(sorted(set(keys)), GET_BATCH):
        request: dict[str, Any] = {table: {"Keys": [{"orderId": {"S": key}} for key in chunk], "ConsistentRead": True}}
        for _attempt in range(ATTEMPTS):
            response = _client().batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                found[item["orderId"]["S"]] = item
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        if request:
            raise UnprocessedItemsError(f"could not read back {sum(len(v['Keys']) for v in request.values())} keys")
    return found


def _storable_key(order_id: Any) -> str | None:
    if not isinstance(order_id, str) or not order_id.strip():
        return None
    key = order_id.strip()
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return None
    return key if size <= MAX_KEY_BYTES else None


def salvage(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Account for a failed batch. The input is the failed task's, with the Catch's error
    under "failure": {"batch", "execution"} when the validation failed, the validation's
    output {"writes", "rejects", "source", "execution"} when the store failed.
    -> {"stored", "rejected", "rejects", "failed": true, "error"}."""
    table = os.environ["TABLE_NAME"]
    reason = failure_reason(event.get("failure"))
    execution = event.get("execution")
    messages: list[dict[str, Any]] = []
    candidates: list[tuple[Any, Any, str | None]] = []  # (line, record, key)
    if "batch" in event:
        batch = event.get("batch") or {}
        source = str(batch.get("source") or "")
        entries = batch.get("entries") or []
        for entry in json.loads(entries) if isinstance(entries, str) else entries:
            record = entry.get("record")
            shown = record if record is not None else entry.get("raw")
            key = _storable_key(record.get("orderId")) if isinstance(record, dict) else None
            candidates.append((entry.get("line"), shown, key))
    else:
        source = str(event.get("source") or "")
        # The validation's own rejects keep their reasons; only the items to store are in doubt.
        messages.extend(message for chunk in event.get("rejects") or [] for message in chunk)
        for item in _put_items(event.get("writes") or "[]")[1]:
            record = plain(item)
            candidates.append((int(item["sourceLine"]["N"]), record, _storable_key(record.get("orderId"))))
    found = _stored_from(table, [key for _line, _record, key in candidates if key])
    stored = 0
    for line, record, key in candidates:
        item = found.get(key) if key else None
        if item and item.get("sourceFile", {}).get("S") == source and item.get("sourceLine", {}).get("N") == str(line):
            stored += 1  # it went in before the failure (or with an earlier upload of this file)
        else:
            messages.append(letter(source, line, record, [reason], execution))
    return {
        "stored": stored,
        "rejected": len(messages),
        "rejects": chunks(messages, SEND_BATCH),
        "failed": True,
        "error": reason,
    }
