"""Load step (the first ETL step, raw part): good rows into the stage table.

Reads the validated version of the file from S3 itself (ranged reads of bounded size;
`IfMatch` refuses a newer upload under the same key; a read cut short is asked for again
from where it stopped), judges every row with the same rules as validation, writes the
good ones to the stage table keyed (load_id, line) with their raw text, and writes every
rejected row with its reasons, one JSON line each, to the rejected-rows report under
error/. Returns counts and the first LISTED rejected rows.

Large files: one invocation works until its time is nearly up (RESERVE before its
deadline) or it has read ROWS_PER_INVOCATION rows (the environment variable; a bounded
chunk whatever the machine's speed), then stops after a record and raises LoadContinues, whose message is the
progress (byte offset, line, counts). The state machine catches it into
`$.validation.continuation` and runs the load again, which resumes there. Every stage row
is keyed (load_id, line), so a retried or resumed invocation overwrites rows rather than
adding copies; the rejected rows of an invocation that stops early go to a numbered part
next to the report, and the last invocation joins the parts into the report.

`discard` (the state machine's failure path) deletes every stage row of a load that
failed and its report parts, so a failed load leaves nothing half-loaded behind.

Throttled writes (the stage table's BatchWriteItem answering with a throughput error after
the SDK's own retries) raise TransientLoadError, which the state machine retries.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError
from reading import Position, positioned_records
from schema import COLUMNS, RowJudge
from storage import RangedObject, TransientError, client, write_items

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
LISTED = 50  # rejected rows named in the state (and the notification); all are in the report
FLUSH = 500  # stage rows buffered before they are written: memory stays flat for large files
RESERVE_SHARE, RESERVE_MIN_MS, RESERVE_MAX_MS = 0.2, 1_000, 60_000  # time kept back to stop cleanly


class TransientLoadError(TransientError):
    """The load failed in a way that retrying the whole (idempotent) load can fix."""


class LoadContinues(Exception):
    """The invocation's time is nearly up: the message is the progress to resume from."""


class FileChanged(Exception):
    """The file does not read as it did when it was validated."""


def progress_of(continuation: Any) -> dict[str, Any] | None:
    """The progress a LoadContinues carried, from the error the state machine caught
    ({"Error", "Cause"}; Cause is the Lambda error document); None for a first run."""
    if not continuation:
        return None
    if continuation.get("Error") != "LoadContinues":
        raise ValueError(f"a load can only continue after LoadContinues, got {continuation.get('Error')!r}")
    cause = json.loads(continuation["Cause"])
    progress: dict[str, Any] = json.loads(cause["errorMessage"])
    return progress


def part_key(rejects_key: str, part: int) -> str:
    return f"{rejects_key}.part-{part:05d}"


def kept_ids(table: str, load_id: str, through_line: int) -> dict[str, int]:
    """Transaction id -> line of the rows this load staged up to `through_line` (what the
    duplicate check of the rows after it must remember)."""
    paginator = client("dynamodb").get_paginator("query")
    pages = paginator.paginate(
        TableName=table,
        KeyConditionExpression="load_id = :load AND line <= :line",
        ExpressionAttributeValues={":load": {"S": load_id}, ":line": {"N": str(through_line)}},
        ProjectionExpression="transaction_id, line",
        ConsistentRead=True,
    )
    return {item["transaction_id"]["S"].strip(): int(item["line"]["N"]) for page in pages for item in page["Items"]}


def out_of_time(context: Any, reserve_ms: int) -> bool:
    return context is not None and context.get_remaining_time_in_millis() < reserve_ms


def rows_per_invocation() -> int | None:
    """The chunk size from ROWS_PER_INVOCATION (a positive whole number), None when unset;
    checked after every FLUSH rows, so a chunk is rounded up to a multiple of FLUSH."""
    setting = os.environ.get("ROWS_PER_INVOCATION", "").strip()
    if not setting:
        return None
    if not setting.isdigit() or int(setting) < 1:
        raise ValueError(f"ROWS_PER_INVOCATION must be a positive whole number, got {setting!r}")
    return int(setting)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket, key, load_id = event["bucket"], event["key"], event["load_id"]
    progress = progress_of(event.get("continuation"))
    if progress is None:
        progress = {"offset": 0, "line": 0, "loaded": 0, "rejected": 0, "parts": 0, "listed": []}
    table = os.environ["STAGE_TABLE"]
    reserve_ms = RESERVE_MAX_MS
    if context is not None:
        share = int(context.get_remaining_time_in_millis() * RESERVE_SHARE)
        reserve_ms = min(RESERVE_MAX_MS, max(RESERVE_MIN_MS, share))
    chunk = rows_per_invocation()
    judge = RowJudge()
    if progress["line"]:
        judge.first_line.update(kept_ids(table, load_id, progress["line"]))
    position = Position(progress["offset"], progress["line"])
    body = RangedObject(bucket, key, event.get("etag"), position.offset, TransientLoadError)
    stream: Iterator[tuple[int, list[str]]] = positioned_records(iter(body), position)
    if position.offset == 0:
        next(stream)  # the header, checked by validation
    staged: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    loaded, finished = progress["loaded"], True
    for read, (line, fields) in enumerate(stream, start=1):
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
        if read % FLUSH == 0:
            loaded += write_items(table, staged, TransientLoadError)
            staged = []
            if out_of_time(context, reserve_ms) or (chunk is not None and read >= chunk):
                finished = False  # every record up to `position` is staged or in `rejects`
                break
    loaded += write_items(table, staged, TransientLoadError)
    listed = progress["listed"] + [
        {name: reject[name] for name in ("line", "transaction_id", "reasons")} for reject in rejects
    ]
    counts = {
        "loaded": loaded,
        "rejected": progress["rejected"] + len(rejects),
        "listed": listed[:LISTED],
    }
    if not finished:
        parts = progress["parts"]
        if rejects:
            _put_report(bucket, part_key(event["rejects_key"], parts), key, rejects)
            parts += 1
        resumed = {"offset": position.offset, "line": position.line, "parts": parts, **counts}
        LOG.info(json.dumps({"key": key, "load_id": load_id, "continues": {**resumed, "listed": len(listed)}}))
        raise LoadContinues(json.dumps(resumed))
    if counts["rejected"]:
        _write_report(bucket, event["rejects_key"], key, progress["parts"], rejects)
    LOG.info(json.dumps({"key": key, "load_id": load_id, "staged": loaded, "rejected": counts["rejected"]}))
    return {
        "load_id": load_id,
        "rows": loaded + counts["rejected"],
        "loaded": loaded,
        "rejected": counts["rejected"],
        "rejects_key": event["rejects_key"] if counts["rejected"] else None,
        "rejected_rows": counts["listed"],
    }


def _report(key: str, rejects: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps({"source_file": key, **reject}) + "\n" for reject in rejects).encode()


def _put_report(bucket: str, target: str, key: str, rejects: list[dict[str, Any]]) -> None:
    client("s3").put_object(Bucket=bucket, Key=target, Body=_report(key, rejects), ContentType="application/x-ndjson")


def _write_report(bucket: str, rejects_key: str, key: str, parts: int, rejects: list[dict[str, Any]]) -> None:
    """The report: the parts of earlier invocations, in order, then this one's rejects;
    the parts are deleted once the report is written. A retry after the parts are gone
    finds the report already whole (this invocation's rejects are the same again)."""
    s3 = client("s3")
    body = bytearray()
    for part in range(parts):
        try:
            body += s3.get_object(Bucket=bucket, Key=part_key(rejects_key, part))["Body"].read()
        except ClientError as err:
            if err.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                raise
            return  # an earlier attempt joined and deleted the parts: the report is whole
    body += _report(key, rejects)
    s3.put_object(Bucket=bucket, Key=rejects_key, Body=bytes(body), ContentType="application/x-ndjson")
    for part in range(parts):
        s3.delete_object(Bucket=bucket, Key=part_key(rejects_key, part))


def discard(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Delete every stage row of a failed load and its report parts; returns the count."""
    bucket, load_id, rejects_key = event["bucket"], event["load_id"], event["rejects_key"]
    table = os.environ["STAGE_TABLE"]
    paginator = client("dynamodb").get_paginator("query")
    pages = paginator.paginate(
        TableName=table,
        KeyConditionExpression="load_id = :load",
        ExpressionAttributeValues={":load": {"S": load_id}},
        ProjectionExpression="load_id, line",
        ConsistentRead=True,
    )
    deleted = 0
    for page in pages:
        keys = [{"load_id": load_id, "line": int(item["line"]["N"])} for item in page["Items"]]
        deleted += write_items(table, keys, TransientLoadError, delete=True)
    s3 = client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=rejects_key + ".part-")
    for found in listed.get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=found["Key"])
    LOG.info(json.dumps({"load_id": load_id, "discarded_stage_rows": deleted}))
    return {"load_id": load_id, "discarded": deleted}
