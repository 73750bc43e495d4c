"""Starts the CSV ETL state machine for each CSV file S3 reports under the source prefix.

The execution is named after the file and a digest of the event (key, time, sequencer,
ETag): S3 may deliver one event twice, and the second start then finds the execution
already there and is skipped, while a new upload of the same key (a new event time; on
AWS also a new sequencer, which LocalStack leaves constant) starts a new run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from typing import Any
from urllib.parse import unquote_plus

import boto3

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
_sfn = None


def _client() -> Any:
    global _sfn
    if _sfn is None:
        _sfn = boto3.client("stepfunctions")
    return _sfn


def execution_name(record: dict[str, Any]) -> str:
    """A valid execution name (at most 80 of [A-Za-z0-9_-]) for one S3 event record."""
    obj = record["s3"]["object"]
    key = unquote_plus(obj["key"])
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", key.rsplit("/", 1)[-1].removesuffix(".csv")).strip("-")
    event = "|".join(str(part) for part in (key, record.get("eventTime"), obj.get("sequencer"), obj.get("eTag")))
    digest = hashlib.sha256(event.encode()).hexdigest()[:24]
    return f"{stem[:55]}-{digest}"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    machine = os.environ["STATE_MACHINE_ARN"]
    started, skipped = [], []
    for record in event.get("Records", []):
        s3 = record["s3"]
        bucket = s3["bucket"]["name"]
        key = unquote_plus(s3["object"]["key"])  # S3 events carry URL-encoded keys
        payload = {"bucket": bucket, "key": key, "size": s3["object"].get("size")}
        name = execution_name(record)
        try:
            arn = _client().start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))[
                "executionArn"
            ]
        except _client().exceptions.ExecutionAlreadyExists:
            LOG.info(json.dumps({"key": key, "execution": name, "skipped": "duplicate event"}))
            skipped.append(name)
            continue
        LOG.info(json.dumps({"key": key, "execution": arn}))
        started.append(arn)
    return {"started": started, "skipped": skipped}
