"""Apply: run a plan's calls in order, wait where AWS is eventually consistent.

On real AWS a role is not usable the moment it is created, and a table or stream is
not active when CreateTable returns. The executor retries the calls that fail for
those reasons (bounded, with backoff) and runs each call's waiter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import jmespath
from botocore.exceptions import ClientError

from infra.clients import Clients
from infra.errors import DeployError as DeployError  # defined with the other errors; imported from here too
from infra.stack.calls import Call, Saved
from infra.stack.planner import Change

# Errors that mean "not yet" on AWS: IAM propagation, resources still being created.
_RETRYABLE_MESSAGES = ("cannot be assumed", "role defined for the function", "authorized to assume")
_RETRYABLE_CODES = {
    "ResourceInUseException",
    "ResourceConflictException",
    "TooManyRequestsException",
    "ConflictException",
}
_RETRY_FOR_SECONDS = 90.0


def apply(changes: list[Change], clients: Clients, report: Callable[[Change], None] | None = None) -> None:
    for change in changes:
        saved: dict[str, Any] = {}
        for call in change.calls:
            try:
                response = _run(call, clients, saved)
            except ClientError as err:
                raise DeployError(
                    f"{change.action} {change.kind} {change.name}: {call.service}.{call.operation} failed: {err}"
                ) from err
            for key, path in call.save.items():
                saved[key] = jmespath.search(path, response)
        if report:
            report(change)


def _run(call: Call, clients: Clients, saved: Mapping[str, Any]) -> Any:
    client = clients(call.service)
    params = _fill(call.params, saved)
    if call.operation == "empty_bucket":
        return empty_bucket(client, params["Bucket"])
    started = time.monotonic()
    delay = 1.0
    while True:
        try:
            response = getattr(client, call.operation)(**params)
            break
        except ClientError as err:
            error = err.response.get("Error", {})
            retryable = error.get("Code") in _RETRYABLE_CODES or any(
                text in error.get("Message", "") for text in _RETRYABLE_MESSAGES
            )
            if not retryable or time.monotonic() - started > _RETRY_FOR_SECONDS:
                raise
            time.sleep(delay)  # backoff between retries of a refused call, not a wait for state
            delay = min(delay * 2, 10.0)
    if call.waiter:
        client.get_waiter(call.waiter).wait(
            **_fill(call.waiter_params, saved), WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    return response


def _fill(value: Any, saved: Mapping[str, Any]) -> Any:
    if isinstance(value, Saved):
        if value.key not in saved:
            raise DeployError(f"no value saved for {value.key}")
        return value.render(saved[value.key])
    if isinstance(value, Mapping):
        return {key: _fill(item, saved) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_fill(item, saved) for item in value]
    return value


def empty_bucket(s3: Any, bucket: str) -> dict[str, int]:
    """Delete every object version and delete marker of `bucket`."""
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        keys = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True})
            deleted += len(keys[start : start + 1000])
    return {"deleted": deleted}
