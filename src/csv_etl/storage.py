"""S3 and DynamoDB access shared by the CSV ETL functions (boto3 clients made once per
process; the endpoint comes from the environment, as on AWS)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import cache
from typing import Any

import boto3
import urllib3.exceptions
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, IncompleteReadError

CHUNK = 1 << 20  # bytes read from S3 at a time
RANGE = 8 << 20  # bytes of one ranged GET: read whole at once, so no connection idles while rows are written
READ_ATTEMPTS = 5
# A read cut short (a reset connection, a timeout, a body shorter than announced).
BROKEN_READS = (HTTPClientError, IncompleteReadError, ConnectionError, urllib3.exceptions.HTTPError, OSError)
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


class RangedObject:
    """An object's bytes from `start` on, RANGE bytes at a time (iterate it). Each range is
    read whole before it is handed on, so a slow consumer never holds a connection open
    (servers reset those); a read cut short is asked for again from the byte where it
    stopped, READ_ATTEMPTS times, then `error` is raised. Every range is of one version:
    `etag` if given, else the first answer's (`self.etag`); a newer upload fails (412)."""

    def __init__(
        self,
        bucket: str,
        key: str,
        etag: str | None = None,
        start: int = 0,
        error: type[TransientError] = TransientError,
    ) -> None:
        self.bucket, self.key, self.etag, self.start, self.error = bucket, key, etag, start, error

    def __iter__(self) -> Iterator[bytes]:
        offset, size = self.start, None
        while size is None or offset < size:
            data = bytearray()
            size = self._read_range(offset, data)
            if not data:
                return
            offset += len(data)
            yield bytes(data)

    def _read_range(self, offset: int, data: bytearray) -> int:
        """Fill `data` with the range at `offset`; returns the object's size."""
        for attempt in range(READ_ATTEMPTS):
            params: dict[str, Any] = {
                "Bucket": self.bucket,
                "Key": self.key,
                "Range": f"bytes={offset + len(data)}-{offset + RANGE - 1}",
            }
            if self.etag:
                params["IfMatch"] = self.etag
            try:
                response = client("s3").get_object(**params)
                self.etag = self.etag or response["ETag"]
                for piece in response["Body"].iter_chunks(CHUNK):
                    data += piece
                return _object_size(response, offset + len(data) - int(response["ContentLength"]))
            except ClientError as err:
                if err.response["Error"]["Code"] not in ("InvalidRange", "416"):
                    raise
                # Nothing at or after the range's start: an empty object, or the end reached.
                self.etag = self.etag or client("s3").head_object(Bucket=self.bucket, Key=self.key)["ETag"]
                return offset + len(data)
            except BROKEN_READS as err:
                if attempt + 1 == READ_ATTEMPTS:
                    where = f"s3://{self.bucket}/{self.key} from byte {offset + len(data)}"
                    raise self.error(
                        f"reading {where} failed {READ_ATTEMPTS} times: {type(err).__name__}: {err}"
                    ) from err
                time.sleep(0.1 * 2**attempt)  # backoff before asking for the rest again
        raise AssertionError("unreachable")


def _object_size(response: dict[str, Any], first_byte: int) -> int:
    """The whole object's size from a ranged GET's Content-Range (`bytes 0-99/1234`)."""
    content_range = response.get("ContentRange")
    if content_range and "/" in content_range:
        return int(content_range.rsplit("/", 1)[1])
    return first_byte + int(response["ContentLength"])  # no range in the answer: all the rest came


def dynamodb_item(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in values.items()}


def write_items(table: str, items: list[dict[str, Any]], error: type[TransientError], delete: bool = False) -> int:
    """Put `items` (plain values) in batches of 25 (or, with `delete`, delete the items with
    these keys), writing unprocessed ones again with backoff; raises `error` (retryable by
    the state machine) if some never get in."""
    written = 0
    for start in range(0, len(items), WRITE_BATCH):
        batch = items[start : start + WRITE_BATCH]
        requests = [
            {"DeleteRequest": {"Key": dynamodb_item(item)}} if delete else {"PutRequest": {"Item": dynamodb_item(item)}}
            for item in batch
        ]
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
