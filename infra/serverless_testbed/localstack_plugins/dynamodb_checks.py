"""DynamoDB requests checked as AWS checks them, before moto-ext sees them.

Moto accepts some requests AWS refuses, or refuses them with other words:
BatchWriteItem with a wrong key ("Missing the key id in the item"; AWS: "The provided key
element does not match the schema"), Query/Scan on an index the table does not have
(AWS: ValidationException) or asks a global secondary index that does not project every
attribute for ALL_ATTRIBUTES (moto answers what the index holds), an empty PartiQL parameter,
and DescribeTimeToLive on a missing table (moto's code `ResourceNotFound`; AWS: `ResourceNotFoundException`), and
CreateTable with PAY_PER_REQUEST and a ProvisionedThroughput (moto's words differ). The
checks are pure functions of the request and a `TableSchema`; the unit tests run them
without an engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from localstack.aws.api import CommonServiceException
from localstack.aws.api.dynamodb import ResourceNotFoundException

KEY_MISMATCH = "The provided key element does not match the schema"
PAY_PER_REQUEST_THROUGHPUT = (
    "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be "
    "specified when BillingMode is PAY_PER_REQUEST"
)
EMPTY_VALUE = "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
# AttributeValue members: an AttributeValue holds exactly one of them.
ATTRIBUTE_TYPES = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})


def validation_error(message: str) -> CommonServiceException:
    """AWS's ValidationException (HTTP 400) with `message`."""
    return CommonServiceException("ValidationException", message)


@dataclass(frozen=True)
class TableSchema:
    """What the checks need of a table: its key attributes and types, its indexes' states."""

    keys: dict[str, str]
    indexes: dict[str, str] = field(default_factory=dict)
    # Global secondary indexes that do not project every attribute (ProjectionType not ALL).
    partial_global_indexes: frozenset[str] = frozenset()


def check_attribute_value(value: Any) -> None:
    """An AttributeValue holds exactly one supported type, else AWS's ValidationException."""
    if not isinstance(value, Mapping) or len(value) != 1 or next(iter(value)) not in ATTRIBUTE_TYPES:
        raise validation_error(EMPTY_VALUE)


def check_parameters(parameters: Any) -> None:
    """PartiQL parameters: each one an AttributeValue with exactly one type."""
    for value in parameters or []:
        check_attribute_value(value)


def check_key(key: Mapping[str, Any], schema: TableSchema, *, exact: bool) -> None:
    """The key attributes present with their declared types; `exact`: nothing else (a Key)."""
    for name, kind in schema.keys.items():
        value = key.get(name)
        if not isinstance(value, Mapping) or list(value) != [kind]:
            raise validation_error(KEY_MISMATCH)
    if exact and set(key) != set(schema.keys):
        raise validation_error(KEY_MISMATCH)


def check_batch_write(request: Mapping[str, Any], schema_of: Mapping[str, TableSchema | None]) -> None:
    """Every put carries the table's key, every delete exactly the key (tables moto knows)."""
    for table, writes in (request.get("RequestItems") or {}).items():
        schema = schema_of.get(table)
        if schema is None:
            continue  # moto answers ResourceNotFoundException for a missing table
        for write in writes or []:
            if "PutRequest" in write:
                check_key(write["PutRequest"].get("Item") or {}, schema, exact=False)
            if "DeleteRequest" in write:
                check_key(write["DeleteRequest"].get("Key") or {}, schema, exact=True)


def check_create_table(request: Mapping[str, Any]) -> None:
    """CreateTable: an on-demand table takes no ProvisionedThroughput (moto says so in other words)."""
    if request.get("BillingMode") == "PAY_PER_REQUEST" and request.get("ProvisionedThroughput"):
        raise validation_error(PAY_PER_REQUEST_THROUGHPUT)


def check_index(request: Mapping[str, Any], schema: TableSchema | None) -> None:
    """A Query or Scan names an index the table has, and one that is not being built."""
    name = request.get("IndexName")
    if not name or schema is None:
        return
    status = schema.indexes.get(name)
    if status is None:
        raise validation_error(f"The table does not have the specified index: {name}")
    if status != "ACTIVE":
        raise validation_error(f"Cannot read from backfilling global secondary index: {name}")
    # A global secondary index holds only what it projects; DynamoDB does not fetch the rest from
    # the table (Query API reference, Select: ALL_ATTRIBUTES), so it refuses to pretend it can.
    if request.get("Select") == "ALL_ATTRIBUTES" and name in schema.partial_global_indexes:
        raise validation_error(
            "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for"
            f" global secondary index {name} because its projection type is not ALL"
        )


def table_not_found(table: str) -> ResourceNotFoundException:
    """AWS's answer for an operation on a table that does not exist."""
    return ResourceNotFoundException(f"Requested resource not found: Table: {table} not found")
