"""Load step (the seed's first Glue job, raw part): good rows into the stage table.

Reads the validated version of the file from S3 itself (streamed; `IfMatch` refuses a
newer upload under the same key), judges every row with the same rules as validation,
writes the good ones to the stage table keyed (load_id, line) with their raw text, and
writes every rejected row with its reasons, one JSON line each, to the rejected-rows
report under error/. Returns counts and the first LISTED rejected rows.

Test hook: when FAILURE_MARKER_KEY names an object that exists in the bucket (empty, or
holding this file's key), the load deletes it and fails once with TransientLoadError,
which the state machine retries.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from reading import records
from schema import COLUMNS, RowJudge
from storage import TransientError, client, object_chunks, write_items

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
LISTED = 50  # rejected rows named in the state (and the notification); all are in the report
FLUSH = 500  # stage rows buffered before they are written: memory stays flat for large files


class TransientLoadError(TransientError):
    """The load failed in a way that retrying the whole (idempotent) load can fix."""


class FileChanged(Exception):
    """The file does not read as it did when it was validated."""


def inject_failure(bucket: str, key: str) -> None:
    marker = os.environ.get("FAILURE_MARKER_KEY")
    if not marker:
        return
    s3 = client("s3")
    try:
        target = s3.get_object(Bucket=bucket, Key=marker)["Body"].read().decode().strip()
    except s3.exceptions.NoSuchKey:
        return
    if target and target != key:
        return
    s3.delete_object(Bucket=bucket, Key=marker)
    raise TransientLoadError(f"injected transient failure ({marker}) while loading {key}")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket, key, load_id = event["bucket"], event["key"], event["load_id"]
    inject_failure(bucket, key)
    _, chunks = object_chunks(bucket, key, event.get("etag"))
    judge = RowJudge()
    table = os.environ["STAGE_TABLE"]
    staged: list[dict[str, Any]] = []
    loaded = 0
    rejects: list[dict[str, Any]] = []
    stream = records(chunks)
    next(stream)  # the header, checked by validation
    for line, fields in stream:
        if len(fields) != len(COLUMNS):
            raise FileChanged(f"{key} line {line} has {len(fields)} fields; validation found every row complete")
        values = dict(zip(COLUMNS, fields, strict=True))
        reasons = judge.judge(line, values)
        if reasons:
            rejects.append(
                {"line": line, "transaction_id": values["transaction_id"], "reasons": reasons, "row": fields}
            )
        else:
            staged.append({"load_id": load_id, "line": line, "source_file": key, **values})
            if len(staged) >= FLUSH:
                loaded += write_items(table, staged, TransientLoadError)
                staged = []
    loaded += write_items(table, staged, TransientLoadError)
    if rejects:
        report = "".join(json.dumps({"source_file": key, **reject}) + "\n" for reject in rejects)
        client("s3").put_object(
            Bucket=bucket, Key=event["rejects_key"], Body=report.encode(), ContentType="application/x-ndjson"
        )
    LOG.info(json.dumps({"key": key, "load_id": load_id, "staged": loaded, "rejected": len(rejects)}))
    return {
        "load_id": load_id,
        "rows": loaded + len(rejects),
        "loaded": loaded,
        "rejected": len(rejects),
        "rejects_key": event["rejects_key"] if rejects else None,
        "rejected_rows": [{k: r[k] for k in ("line", "transaction_id", "reasons")} for r in rejects[:LISTED]],
    }
