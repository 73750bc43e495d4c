"""The logging Lambda: the last step of every data-processing execution.

It writes one JSON log entry per execution to S3 (`<LOG_PREFIX><execution>/entry.json`
in LOG_BUCKET, where tests and runs read it) and prints the same entry as one JSON line,
which Lambda sends to CloudWatch Logs (`/aws/lambda/<function>`). Input from the state
machine: `{"execution", "status": "SUCCEEDED", "result"}` after processing, or
`{"execution", "status": "FAILED", "error", "cause", "input"}` after a caught failure.
It returns where the entry is and a one-line message (the failure's cause, unwrapped).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3

STATUSES = ("SUCCEEDED", "FAILED")
_s3 = None


def _client() -> Any:
    global _s3
    if _s3 is None:
        _s3 = boto3.client("s3")
    return _s3


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    log_entry = entry(event, datetime.now(UTC))
    key = entry_key(os.environ["LOG_PREFIX"], log_entry["execution"])
    bucket = os.environ["LOG_BUCKET"]
    body = json.dumps(log_entry, sort_keys=True)
    _client().put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
    print(body)  # one line: the CloudWatch Logs copy of the entry
    return {"bucket": bucket, "key": key, "status": log_entry["status"], "message": log_entry["message"]}


def entry_key(prefix: str, execution: str) -> str:
    return f"{prefix}{execution}/entry.json"


def entry(event: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The log entry of one execution; ValueError when the event is not a log request."""
    execution, status = event.get("execution"), event.get("status")
    if not isinstance(execution, str) or not execution:
        raise ValueError(f"the log request names no execution: {event!r}")
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    logged: dict[str, Any] = {"execution": execution, "status": status, "loggedAt": now.isoformat()}
    if status == "SUCCEEDED":
        result = event.get("result") or {}
        logged |= {"requestId": result.get("requestId"), "result": result, "message": result.get("reply", "")}
    else:
        request = event.get("input")
        logged |= {
            "requestId": request.get("requestId") if isinstance(request, dict) else None,
            "input": request,
            "error": event.get("error"),
            "message": failure_message(event.get("cause")),
        }
    return logged


def failure_message(cause: Any) -> str:
    """A Lambda failure's cause is a JSON document; its errorMessage is what a person reads."""
    if not isinstance(cause, str):
        return "" if cause is None else json.dumps(cause)
    try:
        document = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(document, dict) and "errorMessage" in document:
        return str(document["errorMessage"])
    return cause
