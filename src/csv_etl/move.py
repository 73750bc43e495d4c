"""Moves an object inside the bucket (copy, then delete the original): used to archive a
loaded file and to set an invalid one aside under error/. Idempotent: run again after a
failure between the two calls, it copies again and deletes."""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError
from storage import client

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket, source, target = event["bucket"], event["from"], event["to"]
    s3 = client("s3")
    try:
        # The managed copy switches to a multipart copy for objects over 5 GB.
        s3.copy({"Bucket": bucket, "Key": source}, bucket, target)
    except ClientError as err:
        # A retry after the delete went through: the move is already done.
        if err.response["Error"]["Code"] not in ("404", "NoSuchKey") or not _exists(bucket, target):
            raise
        return {"bucket": bucket, "key": target}
    s3.delete_object(Bucket=bucket, Key=source)
    LOG.info(json.dumps({"bucket": bucket, "from": source, "to": target}))
    return {"bucket": bucket, "key": target}


def _exists(bucket: str, key: str) -> bool:
    try:
        client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True
