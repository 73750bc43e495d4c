"""Starts the CSV ETL state machine for each CSV file S3 reports under the source prefix.

S3 notification filters are case-sensitive, so the bucket notifies this function of every
object under the source prefix and the function decides: a key whose extension is `.csv`
in any case (`x.csv`, `x.CSV`) starts an execution; any other object is ignored, and the
ignoring is recorded rather than silent: a JSON log line and a notification with outcome
`ignored` and reason `not-csv` on the ETL's topic (the file itself is left where it is);
a folder marker (a key ending in '/') is only logged.
Keys in S3 events are URL-encoded (a space arrives as `+`, a `+` as `%2B`): they are
decoded with unquote_plus before anything else uses them.

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
EXTENSION = ".csv"  # compared case-insensitively
_clients: dict[str, Any] = {}


def _client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = boto3.client(service)
    return _clients[service]


def object_key(record: dict[str, Any]) -> str:
    """The real key of an S3 event record (S3 URL-encodes it, spaces as '+')."""
    return unquote_plus(record["s3"]["object"]["key"])


def is_csv(key: str) -> bool:
    """A CSV file by its extension, in any case."""
    return key.lower().endswith(EXTENSION) and len(key.rsplit("/", 1)[-1]) > len(EXTENSION)


def execution_name(record: dict[str, Any]) -> str:
    """A valid execution name (at most 80 of [A-Za-z0-9_-]) for one S3 event record."""
    obj = record["s3"]["object"]
    key = object_key(record)
    name = key.rsplit("/", 1)[-1]
    if name.lower().endswith(EXTENSION):
        name = name[: -len(EXTENSION)]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    event = "|".join(str(part) for part in (key, record.get("eventTime"), obj.get("sequencer"), obj.get("eTag")))
    digest = hashlib.sha256(event.encode()).hexdigest()[:24]
    return f"{stem[:55]}-{digest}"


def ignore(bucket: str, key: str) -> dict[str, Any]:
    """Record that `key` is not a CSV file: a log line and an `ignored` notification."""
    notice = {
        "outcome": "ignored",
        "bucket": bucket,
        "file": key,
        "reason": "not-csv",
        "detail": f"{key} does not end in {EXTENSION} (in any case); the CSV ETL loads CSV files only",
    }
    LOG.info(json.dumps(notice))
    _client("sns").publish(
        TopicArn=os.environ["NOTIFICATION_TOPIC_ARN"],
        Subject="File ignored by the CSV ETL",
        Message=json.dumps(notice),
        MessageAttributes={
            "outcome": {"DataType": "String", "StringValue": "ignored"},
            "file": {"DataType": "String", "StringValue": key},
        },
    )
    return notice


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    machine = os.environ["STATE_MACHINE_ARN"]
    started: list[str] = []
    skipped: list[str] = []
    ignored: list[dict[str, Any]] = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = object_key(record)
        if key.endswith("/"):  # a folder marker (the console's "Create folder"), not a file
            LOG.info(json.dumps({"key": key, "skipped": "folder marker"}))
            continue
        if not is_csv(key):
            ignored.append(ignore(bucket, key))
            continue
        payload = {"bucket": bucket, "key": key, "size": record["s3"]["object"].get("size")}
        name = execution_name(record)
        sfn = _client("stepfunctions")
        try:
            arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))["executionArn"]
        except sfn.exceptions.ExecutionAlreadyExists:
            LOG.info(json.dumps({"key": key, "execution": name, "skipped": "duplicate event"}))
            skipped.append(name)
            continue
        LOG.info(json.dumps({"key": key, "execution": arn}))
        started.append(arn)
    return {"started": started, "skipped": skipped, "ignored": ignored}
