"""Transform step (the second ETL step): stage rows of one load into the target.

Reads every stage row of `load_id` (consistent reads), types and derives the target
columns (schema.transform) and puts the rows in the target table keyed by transaction
id, with their source file, line and load id: loading the same transactions again
replaces them, so nothing is ever stored twice. Works a query page at a time (memory stays flat for
large loads). Fails (RowsUnaccounted) unless it finds exactly the rows the load staged.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

from schema import COLUMNS, transform
from storage import TransientError, client, write_items

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)


class TransientTransformError(TransientError):
    """Retrying the (idempotent) transform can fix this."""


class RowsUnaccounted(Exception):
    """The stage table does not hold what the load step reported."""


def stage_pages(table: str, load_id: str) -> Iterator[list[dict[str, str]]]:
    """The stage rows of one load, a query page (up to 1 MB) at a time."""
    paginator = client("dynamodb").get_paginator("query")
    pages = paginator.paginate(
        TableName=table,
        KeyConditionExpression="load_id = :load",
        ExpressionAttributeValues={":load": {"S": load_id}},
        ConsistentRead=True,
    )
    for page in pages:
        yield [{name: value.get("S", value.get("N")) for name, value in item.items()} for item in page["Items"]]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    load_id, expected = event["load_id"], int(event["loaded"])
    table = os.environ["TARGET_TABLE"]
    seen: set[str] = set()
    staged = written = 0
    for rows in stage_pages(os.environ["STAGE_TABLE"], load_id):
        targets = []
        for row in rows:
            target = transform({column: row[column] for column in COLUMNS})
            if target["transaction_id"] in seen:  # the load rejects these; never write a key twice
                raise RowsUnaccounted(f"load {load_id} staged transaction {target['transaction_id']} twice")
            seen.add(target["transaction_id"])
            lineage = {"source_file": row["source_file"], "source_line": int(row["line"]), "load_id": load_id}
            targets.append({**target, **lineage})
        staged += len(rows)
        written += write_items(table, targets, TransientTransformError)
    if staged != expected:
        # Rows written so far stay (they are right); the error notification says what is missing.
        raise RowsUnaccounted(f"load {load_id} staged {expected} rows, the stage table holds {staged}")
    LOG.info(json.dumps({"load_id": load_id, "transformed": written}))
    return {"load_id": load_id, "staged": staged, "transformed": written}
