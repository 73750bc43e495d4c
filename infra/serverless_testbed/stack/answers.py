"""What AWS's answers mean to the deployer: already gone, not yet, or refused in the body.

- Gone: the error codes each service gives for a resource that does not exist. A
  deletion that meets one has nothing left to do (a half-done deploy or destroy, or a
  second destroy, must not stop on it).
- Not yet: refusals that pass with time, each with the reason told to the user while
  the executor retries them (bounded): a name AWS keeps for a while after a deletion,
  IAM propagation, a resource still being created, throttling.
- Refused in the body: calls that answer 200 but list the entries they did not do
  (EventBridge's FailedEntryCount, S3 DeleteObjects' Errors, SQS batches' Failed...).
  `answer_failures` reads them, so no such refusal passes silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Codes for "no such resource", as botocore parses them (SQS's JSON protocol carries the
# query-era code in x-amzn-query-error, which botocore puts in Error.Code).
GONE_CODES = frozenset(
    {
        "NoSuchEntity",  # IAM
        "ResourceNotFoundException",  # DynamoDB, Kinesis, Lambda, EventBridge
        "NoSuchBucket",  # S3
        "404",  # S3 HEAD requests (no body, only the status)
        "NotFound",  # SNS, S3 HEAD
        "AWS.SimpleQueueService.NonExistentQueue",  # SQS, query-compatible code
        "QueueDoesNotExist",  # SQS, the modeled exception's name
        "NotFoundException",  # API Gateway
        "StateMachineDoesNotExist",  # Step Functions
    }
)

_DELETED_RECENTLY = "SQS keeps a deleted queue's name for 60 s; it can be created again after that"
# Error code -> why it passes with time (said to the user while retrying).
NOT_YET_CODES: dict[str, str] = {
    "AWS.SimpleQueueService.QueueDeletedRecently": _DELETED_RECENTLY,
    "QueueDeletedRecently": _DELETED_RECENTLY,
    "StateMachineDeleting": "a state machine of this name is still being deleted; the name is free once it is gone",
    "OperationAborted": "S3 is still finishing another operation on this bucket name (a recent deletion)",
    "ResourceInUseException": "the resource is still being created or changed",
    "ResourceConflictException": "the function is still being created or updated",
    "ConflictException": "another change to this resource is still in progress",
    "TooManyRequestsException": "AWS is throttling these calls",
    "ThrottlingException": "AWS is throttling these calls",
    "ConcurrentModificationException": "another change to the same resource is in progress",
}
# Message fragments of refusals that pass with time although their code is generic.
NOT_YET_MESSAGES: dict[str, str] = {
    "cannot be assumed": "IAM has not yet propagated the new role to this service",
    "role defined for the function": "IAM has not yet propagated the new role to Lambda",
    "authorized to assume": "IAM has not yet propagated the new role to this service",
}
# Refusals with a "not yet" code that time does not fix.
_FINAL_MESSAGES = ("already exists",)  # Lambda AddPermission: the statement id is taken


def not_yet(code: str, message: str) -> str | None:
    """Why a refusal with this code and message passes with time, or None if it does not."""
    if any(text in message for text in _FINAL_MESSAGES):
        return None
    if code in NOT_YET_CODES:
        return NOT_YET_CODES[code]
    return next((why for text, why in NOT_YET_MESSAGES.items() if text in message), None)


@dataclass(frozen=True)
class Failure:
    """One entry a call did not do, as its answer reports it."""

    entry: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.entry}: {self.code}: {self.message}"


# (service, operation) -> (the list of entries in the answer, the entry's id, code and message keys)
_ENTRY_LISTS: dict[tuple[str, str], tuple[str, str, str, str]] = {
    ("events", "put_targets"): ("FailedEntries", "TargetId", "ErrorCode", "ErrorMessage"),
    ("events", "remove_targets"): ("FailedEntries", "TargetId", "ErrorCode", "ErrorMessage"),
    ("events", "put_events"): ("Entries", "EventId", "ErrorCode", "ErrorMessage"),
    ("s3", "delete_objects"): ("Errors", "Key", "Code", "Message"),
    ("kinesis", "put_records"): ("Records", "SequenceNumber", "ErrorCode", "ErrorMessage"),
    ("firehose", "put_record_batch"): ("RequestResponses", "RecordId", "ErrorCode", "ErrorMessage"),
    ("sqs", "send_message_batch"): ("Failed", "Id", "Code", "Message"),
    ("sqs", "delete_message_batch"): ("Failed", "Id", "Code", "Message"),
    ("sqs", "change_message_visibility_batch"): ("Failed", "Id", "Code", "Message"),
    ("sns", "publish_batch"): ("Failed", "Id", "Code", "Message"),
}


def answer_failures(service: str, operation: str, response: Mapping[str, Any]) -> list[Failure]:
    """The entries a successful-looking answer says were not done (empty: all were)."""
    shape = _ENTRY_LISTS.get((service, operation))
    if shape is None:
        return []
    key, id_key, code_key, message_key = shape
    failures = []
    for position, entry in enumerate(response.get(key) or []):
        if entry.get(code_key):  # put_events/put_records list every entry; failed ones carry a code
            name = entry.get(id_key) or f"entry {position}"
            failures.append(Failure(str(name), str(entry[code_key]), str(entry.get(message_key, ""))))
    counted = response.get("FailedEntryCount") or response.get("FailedRecordCount") or response.get("FailedPutCount")
    if counted and not failures:  # a count without entries still says something was refused
        failures.append(Failure("entries", "Failed", f"the answer counts {counted} failed entries without naming them"))
    return failures


# What a read may meet for a resource that is not there ("InvalidArn": some emulators
# answer it for a state machine ARN they do not know).
ABSENT_CODES = GONE_CODES | {"InvalidArn"}


def absent(err: Any) -> bool:
    """Whether a botocore ClientError says the resource read is not there."""
    return err.response.get("Error", {}).get("Code") in ABSENT_CODES


def operation_name(operation: str) -> str:
    """botocore's operation name of a method name (`delete_objects` -> DeleteObjects)."""
    return "".join(part.capitalize() for part in operation.split("_"))


def refused_in_answer(operation: str, failures: list[Failure]) -> Any:
    """A ClientError naming the entries an answer reports as not done."""
    from botocore.exceptions import ClientError

    listed = "; ".join(str(failure) for failure in failures)
    message = f"the answer reports {len(failures)} entr{'y' if len(failures) == 1 else 'ies'} not done: {listed}"
    return ClientError({"Error": {"Code": failures[0].code, "Message": message}}, operation_name(operation))
