"""Reads a sales file from S3 and writes one entry per record for the Distributed Map.

`handler` parses the uploaded object (JSON array or CSV, by extension) into entries
(line, record, error, duplicate_of; see parsing.py) and writes them, in batches of
BATCH_SIZE, as a JSON array under the parsed prefix: each Map item is one batch for
one validation call (LocalStack 4.14.0 has no ItemBatcher; this is what it does).
Nothing is dropped: malformed lines are entries too.

The key arrives URL-encoded from the S3 event (S3 notifications form-encode it, a space
as "+", as AWS documents; LocalStack 4.14.0 percent-encodes the EventBridge event's key
too): `object_key` decodes it with unquote_plus, and falls back to the key as given
when no object has the decoded name (a source that does not encode, with a "+" or "%"
in a real key).
`summarise` adds up the batches' counts and checks every record is accounted for; a
batch that was salvaged (its records dead-lettered with the error) is counted in
`failedBatches` with its error, one with no result at all (lost) in `lostBatches`.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.exceptions import ClientError
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


def read_object(bucket: str, event_key: str) -> tuple[str, bytes]:
    """(the object's real key, its body) for a key as an S3 event gives it (URL-encoded)."""
    decoded = unquote_plus(event_key)
    for key in dict.fromkeys((decoded, event_key)):
        try:
            return key, _client().get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404") or key == event_key:
                raise
    raise AssertionError("unreachable: the last key tried re-raises")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket = event["bucket"]
    fmt = file_format(unquote_plus(event["key"]))
    key, body = read_object(bucket, event["key"])
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
    """The file's counts from its batches' results; a result that is not a batch's counts
    (null: the iteration failed without an answer) is a lost batch, never a crash."""
    file, batches = event["file"], event.get("batches") or []
    done = [batch for batch in batches if isinstance(batch, dict) and "stored" in batch and "rejected" in batch]
    failed = [batch for batch in done if batch.get("failed")]
    stored = sum(int(batch["stored"]) for batch in done)
    rejected = sum(int(batch["rejected"]) for batch in done)
    total = int(file["total"])
    errors = sorted({str(batch.get("error")) for batch in failed})
    return {
        "source": f"s3://{file['bucket']}/{file['key']}",
        "format": file["format"],
        "total": total,
        "stored": stored,
        "rejected": rejected,
        "batches": len(batches),
        "failedBatches": len(failed),
        "lostBatches": len(batches) - len(done),
        **({"errors": errors[:10]} if errors else {}),
        "accounted": stored + rejected == total,
    }
