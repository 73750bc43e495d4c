"""The ETL branch's transform: raw JSON-lines rows in S3 -> curated rows (S3 + DynamoDB),
rejected rows with their reasons beside them. Every row ends in exactly one of the two."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from rules import check, curate

_clients: dict[str, Any] = {}


def client(name: str) -> Any:
    if name not in _clients:
        _clients[name] = boto3.client(name)
    return _clients[name]


def read_rows(text: str) -> list[tuple[int, dict[str, Any] | None, str]]:
    """(line, row or None when the line is not a JSON object, raw line)."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        rows.append((number, row if isinstance(row, dict) else None, line))
    return rows


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket, key, run = event["bucket"], event["rawKey"], event["runId"]
    text = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    curated, rejected = [], []
    for line, row, raw in read_rows(text):
        reasons = ["malformed-line"] if row is None else check(row)
        if reasons:
            rejected.append({"line": line, "row": row if row is not None else raw, "reasons": reasons})
        else:
            curated.append(curate(row) | {"sourceLine": line, "sourceKey": key})  # type: ignore[arg-type]
    stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    curated_key = f"{os.environ.get('CURATED_PREFIX', 'curated/')}{stem}-{run}.jsonl"
    rejected_key = f"{os.environ.get('REJECTED_PREFIX', 'rejected/')}{stem}-{run}.jsonl"
    s3 = client("s3")
    s3.put_object(Bucket=bucket, Key=curated_key, Body="".join(json.dumps(r) + "\n" for r in curated).encode())
    s3.put_object(Bucket=bucket, Key=rejected_key, Body="".join(json.dumps(r) + "\n" for r in rejected).encode())
    table = os.environ["TABLE_NAME"]
    for start in range(0, len(curated), 25):
        pending: dict[str, Any] = {
            table: [
                {"PutRequest": {"Item": {k: {"N" if k == "sourceLine" else "S": str(v)} for k, v in row.items()}}}
                for row in curated[start : start + 25]
            ]
        }
        for _ in range(8):  # unprocessed items are written again, a bounded number of times
            pending = client("dynamodb").batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
        else:
            raise RuntimeError(f"DynamoDB left {sum(map(len, pending.values()))} curated rows unprocessed")
    return {
        "total": len(curated) + len(rejected),
        "curated": len(curated),
        "rejected": len(rejected),
        "curated_key": curated_key,
        "rejected_key": rejected_key,
    }
