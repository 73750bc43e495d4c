"""Reads a sales file from S3 and writes one entry per record for the Distributed Map.

`handler` parses the uploaded object (JSON array or CSV, by extension) into entries
(line, record, error, duplicate_of; see parsing.py) and writes them, in batches of
BATCH_SIZE, as a JSON array under the parsed prefix: each Map item is one batch for
one validation call (LocalStack 4.14.0 has no ItemBatcher; this is what it does).
Nothing is dropped: malformed lines are entries too.
`summarise` adds up the batches' counts and checks every record is accounted for.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import boto3
from parsing import parse

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
_s3 = None


def _client() -> Any:
    global _s3
    if _s3 is None:
        _s3 = boto3.client("s3")
    return _s3


def file_format(key: str) -> str:
    lowered = key.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith(".json"):
        return "json"
    raise ValueError(f"unsupported file type for {key!r}: expected a .json or .csv file")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket, key = event["bucket"], event["key"]
    fmt = file_format(key)
    body = _client().get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{key} is not UTF-8 text: {err}") from err
    entries = parse(text, fmt)
    source = f"s3://{bucket}/{key}"
    size = int(os.environ.get("BATCH_SIZE", "250"))
    # Each batch's entries travel as one JSON string: the state machine hands them to the
    # validation task unread, and a string is copied and recorded at a fraction of the cost.
    batches = [
        {"source": source, "first_line": i + 1, "entries": json.dumps(entries[i : i + size])}
        for i in range(0, len(entries), size)
    ]
    prefix = os.environ.get("PARSED_PREFIX", "parsed/")
    parsed_key = f"{prefix}{event.get('execution', 'manual')}/{key.rsplit('/', 1)[-1]}.entries.json"
    _client().put_object(
        Bucket=bucket, Key=parsed_key, Body=json.dumps(batches).encode(), ContentType="application/json"
    )
    LOG.info(json.dumps({"key": key, "format": fmt, "records": len(entries), "parsed_key": parsed_key}))
    return {
        "bucket": bucket,
        "key": key,
        "format": fmt,
        "parsed_key": parsed_key,
        "total": len(entries),
        "batches": len(batches),
    }


def summarise(event: dict[str, Any], context: Any) -> dict[str, Any]:
    file, batches = event["file"], event.get("batches") or []
    stored = sum(int(batch["stored"]) for batch in batches)
    rejected = sum(int(batch["rejected"]) for batch in batches)
    total = int(file["total"])
    return {
        "source": f"s3://{file['bucket']}/{file['key']}",
        "format": file["format"],
        "total": total,
        "stored": stored,
        "rejected": rejected,
        "batches": len(batches),
        "accounted": stored + rejected == total,
    }
