"""BatchWriteItem as AWS applies it, patched into moto-ext's DynamoDB request handler.

Moto-ext (5.1.x) writes every put of a batch before any delete, so a table's stream shows
the records in another order than the requests (AWS: request order, snapshot
test_batch_write_items_streaming), and it looks for duplicates among whole put items and
among delete keys apart, so two puts of one key with different attributes, or a put and
a delete of one key, go through where AWS refuses the batch ("Provided list of item keys
contains duplicates"). This version checks keys across puts and deletes per table and
applies the requests in order.

For upstream (getmoto/moto, `moto/dynamodb/responses.py`, `DynamoHandler.batch_write_item`).
"""

from __future__ import annotations

import json
from typing import Any

_PATCHED = "_testbed_batch_write"
DUPLICATES = "Provided list of item keys contains duplicates"
EMPTY_KEY = (
    "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an "
    "empty string value. Key: {}"
)


def key_of(table: Any, request_type: str, request: dict[str, Any]) -> str:
    """The item key a put or delete request names, as comparable text."""
    attributes = request["Item"] if request_type == "PutRequest" else request["Key"]
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return json.dumps({name: attributes.get(name) for name in names}, sort_keys=True)


def batch_write_item(self: Any) -> str:
    """Moto's BatchWriteItem (same checks and answer) applied in request order."""
    from moto.dynamodb.exceptions import MockValidationException
    from moto.dynamodb.models.utilities import dynamo_json_dump
    from moto.dynamodb.responses import validate_put_has_empty_keys

    table_batches = self.body["RequestItems"]
    writes: list[tuple[str, str, dict[str, Any]]] = []
    for table_name, table_requests in table_batches.items():
        table = self.dynamodb_backend.get_table(table_name)
        seen: set[str] = set()
        for table_request in table_requests:
            request_type, request = next(iter(table_request.items()))
            if request_type == "PutRequest":
                validate_put_has_empty_keys(request["Item"], table, custom_error_msg=EMPTY_KEY)
            key = key_of(table, request_type, request)
            if key in seen:
                raise MockValidationException(DUPLICATES)
            seen.add(key)
            writes.append((table_name, request_type, request))
    for table_name, request_type, request in writes:
        if request_type == "PutRequest":
            self.dynamodb_backend.put_item(table_name, request["Item"])
        else:
            self.dynamodb_backend.delete_item(table_name, request["Key"])
    response = {
        "ConsumedCapacity": [
            {"TableName": name, "CapacityUnits": 1.0, "Table": {"CapacityUnits": 1.0}} for name in table_batches
        ],
        "ItemCollectionMetrics": {},
        "UnprocessedItems": {},
    }
    return str(dynamo_json_dump(response))


def install(responses_module: Any) -> None:
    """Patch moto's DynamoHandler.batch_write_item (once)."""
    if getattr(responses_module, _PATCHED, False):
        return
    responses_module.DynamoHandler.batch_write_item = batch_write_item
    setattr(responses_module, _PATCHED, True)
