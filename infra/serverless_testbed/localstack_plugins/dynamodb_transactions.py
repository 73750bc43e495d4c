"""TransactWriteItems without copying whole tables, patched into moto-ext's DynamoDB backend.

Moto-ext (5.1.x) backs a transaction up by deep-copying its table once per item that names
it, before it writes anything: 100 puts into a table of 6,000 items took 38 s, so a
pipeline that writes with conditions in transactions (as AWS advises for all-or-nothing
batches) could not run locally at its real size. This version keeps moto's semantics
(items applied in order, each condition judged against the table as the earlier items
left it, one cancellation reason per item, nothing kept when any item fails; a condition
its items share is parsed once) but journals
only what it touches: each item as it was before its write, and the length of the
table's stream, so a cancelled transaction restores those items and drops the stream
records its writes made.

For upstream (getmoto/moto, `moto/dynamodb/models/__init__.py`,
`DynamoDBBackend.transact_write_items`): back up the touched items, not the tables.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

_PATCHED = "_testbed_transactions"
OPERATIONS = {"ConditionCheck", "Put", "Delete", "Update"}


class Journal:
    """The touched items of one transaction as they were, and each table's stream length."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.items: list[tuple[Any, Any, Any, Any]] = []  # (table, hash, range, item before)
        self.streams: dict[int, tuple[Any, int]] = {}  # id(table) -> (table, records before)

    def remember(self, table: Any, key: dict[str, Any]) -> None:
        """Keep the item under `key` (or its absence) before the transaction writes it."""
        hash_value, range_value = self.backend.get_keys_value(table, key)
        before = table.get_item(hash_value, range_value)
        self.items.append((table, hash_value, range_value, copy.deepcopy(before)))
        if table.stream_shard is not None and id(table) not in self.streams:
            self.streams[id(table)] = (table, len(table.stream_shard.items))

    def restore(self) -> None:
        """Put every touched item back as it was and drop the stream records written since."""
        for table, hash_value, range_value, before in reversed(self.items):
            if range_value:
                bucket = table.items[hash_value]
                if before is None:
                    bucket.pop(range_value, None)
                    if not bucket:
                        table.items.pop(hash_value, None)
                else:
                    bucket[range_value] = before
            elif before is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = before
        for table, length in self.streams.values():
            if table.stream_shard is not None:
                del table.stream_shard.items[length:]


def _key_of(backend: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    attrs, table = op["Item"], backend.get_table(op["TableName"])
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """Moto's TransactWriteItems (same checks, errors and order) with a journal for rollback."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    journal = Journal(self)
    conditions: dict[str, Any] = {}  # parsed once per transaction: its items often share one
    targets: set[tuple[str, str]] = set()
    errors: list[tuple[Any, Any, Any]] = []  # (Code, Message, Item) per item, as moto reports them
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(item) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in OPERATIONS:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            condition = op.get("ConditionExpression")
            key = _key_of(self, op_type, op)
            target = (str(table_name), str(key))
            if target in targets:
                raise MultipleTransactionsException()
            targets.add(target)
            current = self.get_item(table_name, key)
            if condition is not None:
                cache_key = json.dumps([condition, names, values], sort_keys=True, default=str)
                if cache_key not in conditions:
                    conditions[cache_key] = get_filter_expression(condition, names, values)
                if not conditions[cache_key].expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            # The condition was judged just above: the write itself is unconditional.
            writes = {"expression_attribute_names": names, "expression_attribute_values": values}
            if op_type != "ConditionCheck":
                journal.remember(self.get_table(table_name), key)
            if op_type == "Put":
                self.put_item(table_name, op["Item"], **writes)
            elif op_type == "Delete":
                self.delete_item(table_name, key, **writes)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"], **writes)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            journal.restore()
            raise
        except ConditionalCheckFailed as err:
            errors.append(("ConditionalCheckFailed", str(err.message), original_item))
        except Exception as err:  # noqa: BLE001 - moto reports any other failure as that item's reason
            errors.append((type(err).__name__, str(err), original_item))
    if any(code is not None for code, _, _ in errors):
        journal.restore()
        raise TransactionCanceledException(errors)


def install(backend_module: Any) -> None:
    """Patch moto's DynamoDBBackend.transact_write_items (once)."""
    if getattr(backend_module, _PATCHED, False):
        return
    backend_class = backend_module.DynamoDBBackend
    original: Callable[..., Any] = backend_class.transact_write_items
    backend_class.transact_write_items = transact_write_items
    backend_class._testbed_original_transact_write_items = original
    setattr(backend_module, _PATCHED, True)
