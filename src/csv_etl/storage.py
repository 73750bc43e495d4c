"""S3 and DynamoDB access shared by the CSV ETL functions (boto3 clients made once per
process; the endpoint comes from the environment, as on AWS)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

CHUNK = 1 << 20  # bytes read from S3 at a time
WRITE_BATCH = 25  # BatchWriteItem's limit
WRITE_ATTEMPTS = 5
THROTTLED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
}
_serializer = TypeSerializer()


class TransientError(Exception):
    """A failure worth retrying the whole step for (the step is idempotent)."""


@cache
def client(service: str) -> Any:
    return boto3.client(service)


def object_chunks(bucket: str, key: str, etag: str | None = None) -> tuple[str, Iterator[bytes]]:
    """The object's ETag and its body as a stream of chunks. With `etag`, the object must
    still be that version (a newer upload under the same key fails with 412)."""
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if etag:
        params["IfMatch"] = etag
    response = client("s3").get_object(**params)
    return response["ETag"], response["Body"].iter_chunks(CHUNK)


def dynamodb_item(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in values.items()}


def write_items(table: str, items: list[dict[str, Any]], error: type[TransientError]) -> int:
    """Put `items` (plain values) in batches of 25, writing unprocessed ones again with
    backoff; raises `error` (retryable by the state machine) if some never get in."""
    written = 0
    for start in range(0, len(items), WRITE_BATCH):
        requests = [{"PutRequest": {"Item": dynamodb_item(item)}} for item in items[start : start + WRITE_BATCH]]
        for attempt in range(WRITE_ATTEMPTS):
            try:
                response = client("dynamodb").batch_write_item(RequestItems={table: requests})
            except ClientError as err:
                if err.response["Error"]["Code"] in THROTTLED:
                    raise error(f"{table}: {err}") from err
                raise
            requests = response.get("UnprocessedItems", {}).get(table, [])
            if not requests:
                break
            time.sleep(0.05 * 2**attempt)  # backoff between attempts, as the SDK advises
        if requests:
            raise error(f"{len(requests)} item(s) still unprocessed by {table} after {WRITE_ATTEMPTS} attempts")
        written += min(WRITE_BATCH, len(items) - start)
    return written
