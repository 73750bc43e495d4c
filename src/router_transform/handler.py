"""The ETL branch's transform (a Glue job's work, as a Lambda): a raw subscription file in S3 (JSON
lines, or CSV with a header) -> curated rows in S3 and DynamoDB, rejected rows with their
reasons in S3. Every row ends in exactly one of the two.

A row is rejected for the reasons `rules.check` gives, as `malformed-line` when its line
cannot be read as a row, and as `duplicate-subscriptionId` when an earlier row of the
file with the same id was curated (the table keeps one item per subscription).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3
from botocore.exceptions import ClientError
from reading import file_format, read_rows
from rules import check, curate

BATCH = 25  # BatchWriteItem's limit
WRITE_ATTEMPTS = 8

_clients: dict[str, Any] = {}


def client(name: str) -> Any:
    if name not in _clients:
        _clients[name] = boto3.client(name)
    return _clients[name]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket, key, run = event["bucket"], event["rawKey"], event["runId"]
    curated, rejected = transform(read_raw(bucket, key), key)
    stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    curated_key = f"{os.environ.get('CURATED_PREFIX', 'curated/')}{stem}-{run}.jsonl"
    rejected_key = f"{os.environ.get('REJECTED_PREFIX', 'rejected/')}{stem}-{run}.jsonl"
    s3 = client("s3")
    s3.put_object(Bucket=bucket, Key=curated_key, Body=_json_lines(curated))
    s3.put_object(Bucket=bucket, Key=rejected_key, Body=_json_lines(rejected))
    store(os.environ["TABLE_NAME"], curated)
    return {
        "total": len(curated) + len(rejected),
        "curated": len(curated),
        "rejected": len(rejected),
        "curated_key": curated_key,
        "rejected_key": rejected_key,
    }


def read_raw(bucket: str, key: str) -> str:
    """The raw file's text; a missing or non-UTF-8 file is an error that names it."""
    try:
        body: bytes = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise FileNotFoundError(f"no raw subscription file s3://{bucket}/{key}") from err
        raise
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"raw subscription file s3://{bucket}/{key} is not UTF-8 text: {err}") from err


def transform(text: str, key: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(curated rows, rejected rows with their line and reasons), in file order."""
    curated: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    seen: set[str] = set()
    for line, row, raw in read_rows(text, file_format(key)):
        reasons = ["malformed-line"] if row is None else check(row)
        if row is not None and not reasons and str(row["subscriptionId"]) in seen:
            reasons = ["duplicate-subscriptionId"]
        if row is None or reasons:
            rejected.append({"line": line, "row": raw if row is None else row, "reasons": reasons})
            continue
        curated.append(curate(row) | {"sourceLine": line, "sourceKey": key})
        seen.add(curated[-1]["subscriptionId"])
    return curated, rejected


def store(table: str, rows: list[dict[str, Any]], backoff: float = 0.05) -> None:
    """Every row as an item (strings, sourceLine a number); unprocessed items are written
    again with backoff, a bounded number of times, then it is an error."""
    for start in range(0, len(rows), BATCH):
        pending: dict[str, Any] = {table: [{"PutRequest": {"Item": _item(row)}} for row in rows[start : start + BATCH]]}
        for attempt in range(WRITE_ATTEMPTS):
            pending = client("dynamodb").batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
            if attempt + 1 < WRITE_ATTEMPTS:
                time.sleep(backoff * 2**attempt)  # backoff before writing the throttled items again
        else:
            left = sum(map(len, pending.values()))
            raise RuntimeError(f"DynamoDB left {left} curated rows unprocessed after {WRITE_ATTEMPTS} attempts")


def _item(row: dict[str, Any]) -> dict[str, Any]:
    return {name: {"N" if name == "sourceLine" else "S": str(value)} for name, value in row.items()}


def _json_lines(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()
