"""Workflow 5, CSV ETL, when its functions, S3, DynamoDB or SNS fail: faults injected from
outside the code (infra/serverless_testbed/faults.py) drive every Retry and Catch rule of the machine.

A fault that a Retry cures leaves no trace a user sees: the file loaded (or rejected) as
without it, row by row, with its one notification (`check_file`). A fault that no Retry
cures ends in one "failed" notification naming the error, the file where a new run can
find it, and nothing half-done left behind (no stage rows of a discarded load, no target
rows of a load that never reached the transform).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.executions import Execution
from serverless_testbed.faults import FaultsClient
from serverless_testbed.stack.stack import Stack

from fixtures.csv_files import CsvFile, generate_bad_file, generate_csv_file
from infra.runs.csv_etl import (
    INVALID_PATH,
    LOADED_PATH,
    bucket_name,
    captured_notices,
    check_file,
    load_id,
    read_object,
    stage_rows,
    target_rows,
    upload,
)
from infra.workflows import csv_etl as workflow

FAILED_END = ["DescribeFailure", "NotifyFailure", "EtlFailed"]
LOAD_FAILED = ["ValidateFile", "IsFileValid", "LoadStage", "DiscardStage", *FAILED_END]
# Rule fields written with {placeholders}: the deployed names of this stack's resources.
PLACEHOLDERS = {
    "bucket": workflow.BUCKET,
    "stage": workflow.STAGE_TABLE,
    "target": workflow.TARGET_TABLE,
    "topic": workflow.TOPIC,
    "validate": workflow.VALIDATE,
    "load": workflow.LOAD,
    "move": workflow.MOVE,
    "transform": workflow.TRANSFORM,
    "discard": workflow.DISCARD,
}
DENIED = {"error": "AccessDenied", "status": 403, "message": "injected: access denied"}
# S3's "a conflicting operation is in progress, try again" (409): botocore has no class of its
# own for it, so a function fails with errorType ClientError, the moves' second Retry rule.
# (AccessDenied and NoSuchKey are botocore classes: their errorType is their own name.)
CONFLICT = {"error": "OperationAborted", "status": 409, "message": "injected: a conflicting operation"}


def install(faults: FaultsClient, deployer: Deployer, stack: Stack, rules: list[dict[str, Any]]) -> list[str]:
    """Install `rules` with their placeholders filled in; their ids, in order."""
    bound = stack.bind(deployer.ctx)
    names = {placeholder: bound.name(logical) for placeholder, logical in PLACEHOLDERS.items()}
    filled = [{k: v.format(**names) if isinstance(v, str) else v for k, v in rule.items()} for rule in rules]
    return [rule["id"] for rule in faults.add(filled)]


def valid_file(seed: int, stem: str) -> CsvFile:
    csv_file = generate_csv_file(60, 0.1, seed=seed, name=f"{stem}-{uuid.uuid4().hex[:8]}.csv")
    assert csv_file.expected.valid, "the fixture must be a valid file"
    assert csv_file.rejected, "the fixture must have rejected rows (the load writes their report)"
    return csv_file


def bad_file(seed: int, stem: str) -> CsvFile:
    return generate_bad_file("wrong-header", seed=seed, name=f"{stem}-{uuid.uuid4().hex[:8]}.csv")


def failures(execution: Execution) -> list[str]:
    return [e["taskFailedEventDetails"]["error"] for e in execution.history if e["type"] == "TaskFailed"]


# ---- faults a Retry cures: the outcome is the one without the fault --------------------------

RETRIED_LOADED = {
    "validate-crashes": ([{"function": "{validate}", "fault": "crash", "count": 1}], ["Runtime.ExitError"]),
    "load-crashes": ([{"function": "{load}", "fault": "crash", "count": 1}], ["Runtime.ExitError"]),
    "archive-crashes": ([{"function": "{move}", "fault": "crash", "count": 1}], ["Runtime.ExitError"]),
    "archive-copy-conflict-once": (
        [{"service": "s3", "operation": "CopyObject", "resource": "{bucket}", **CONFLICT, "count": 1}],
        ["ClientError"],
    ),
    "transform-transient": (
        [{"function": "{transform}", "fault": "error", "error": "TransientTransformError", "count": 1}],
        ["TransientTransformError"],
    ),
    "transform-throttled": (
        [{"function": "{transform}", "fault": "throttle", "count": 1}],
        ["Lambda.TooManyRequestsException"],
    ),
    "notify-success-internal-error": (
        [{"service": "sns", "operation": "Publish", "resource": "{topic}", "error": "InternalError", "count": 1}],
        ["SNS.InternalErrorException"],
    ),
}


@pytest.mark.parametrize("case", list(RETRIED_LOADED))
def test_a_fault_a_retry_cures_leaves_the_file_loaded_row_by_row_and_announced_once(
    aws: Clients, deployer: Deployer, stack: Stack, capture: str, faults: FaultsClient, case: str
) -> None:
    rules, expected_failures = RETRIED_LOADED[case]
    ids = install(faults, deployer, stack, rules)
    csv_file = valid_file(200 + list(RETRIED_LOADED).index(case), case)

    key, execution = upload(deployer, stack, csv_file)
    notices = captured_notices(aws, capture, [key])

    assert execution.status == "SUCCEEDED", f"saw {execution.status} {execution.error}: {execution.cause}"
    assert execution.path == LOADED_PATH, f"a retry stays in its state: expected {LOADED_PATH}, saw {execution.path}"
    assert failures(execution) == expected_failures, failures(execution)
    assert [faults.fired(rule_id) for rule_id in ids] == [1] * len(ids)
    problems = check_file(deployer, stack, csv_file, key, execution, notices)
    assert not problems, "\n".join(problems)


RETRIED_INVALID = {
    "move-crashes": ([{"function": "{move}", "fault": "crash", "count": 1}], ["Runtime.ExitError"]),
    "move-copy-conflict-once": (
        [{"service": "s3", "operation": "CopyObject", "resource": "{bucket}", **CONFLICT, "count": 1}],
        ["ClientError"],
    ),
    "notify-invalid-internal-error": (
        [{"service": "sns", "operation": "Publish", "resource": "{topic}", "error": "InternalError", "count": 1}],
        ["SNS.InternalErrorException"],
    ),
}


@pytest.mark.parametrize("case", list(RETRIED_INVALID))
def test_a_fault_a_retry_cures_leaves_a_bad_file_in_error_announced_once(
    aws: Clients, deployer: Deployer, stack: Stack, capture: str, faults: FaultsClient, case: str
) -> None:
    rules, expected_failures = RETRIED_INVALID[case]
    ids = install(faults, deployer, stack, rules)
    csv_file = bad_file(300 + list(RETRIED_INVALID).index(case), case)

    key, execution = upload(deployer, stack, csv_file)
    notices = captured_notices(aws, capture, [key])

    assert (execution.status, execution.error) == ("FAILED", "CsvFileInvalid"), (execution.status, execution.error)
    assert execution.path == INVALID_PATH, f"expected {INVALID_PATH}, saw {execution.path}"
    assert failures(execution) == expected_failures, failures(execution)
    assert [faults.fired(rule_id) for rule_id in ids] == [1] * len(ids)
    problems = check_file(deployer, stack, csv_file, key, execution, notices)
    assert not problems, "\n".join(problems)


# ---- faults no Retry cures: one "failed" notification, nothing half-done ------------------------


@dataclass(frozen=True)
class Failure:
    """A fault no Retry cures, and what the user must find afterwards."""

    rules: list[dict[str, Any]]
    valid: bool  # a valid file (else one validation rejects)
    path: list[str]
    failures: list[str]  # the tasks' errors, in order
    error: str  # the error the failure notification names
    cause_says: str
    file_at: str  # the prefix the file must be under afterwards
    stage_rows: bool = False  # the load's stage rows stay (they could not be, or need not be, discarded)
    target_rows: bool = False  # every loaded row is in the target table
    fired: list[int] = field(default_factory=list)


# The load's rejected-rows report is refused (its stage rows are written by then). The first
# PutObject on the bucket is the test's own upload: a 1 ms delay lets it through (a rule that
# fires is used up; the next request meets the refusal).
PUT_REPORT_DENIED = [
    {"service": "s3", "operation": "PutObject", "resource": "{bucket}", "latency_ms": 1, "count": 1},
    {"service": "s3", "operation": "PutObject", "resource": "{bucket}", **DENIED, "count": 1},
]
FAILURES = {
    # Validation cannot read the file: nothing is loaded, the file stays for a new run.
    "validate-fails": Failure(
        rules=[{"service": "s3", "operation": "GetObject", "resource": "{bucket}", **DENIED}],
        valid=True,
        path=["ValidateFile", *FAILED_END],
        failures=["AccessDenied"],
        error="AccessDenied",
        cause_says="injected: access denied",
        file_at=workflow.SOURCE,
        fired=[1],
    ),
    # The load's last step (the rejected-rows report) is refused: its stage rows are discarded.
    "load-fails": Failure(
        rules=PUT_REPORT_DENIED,
        valid=True,
        path=LOAD_FAILED,
        failures=["AccessDenied"],
        error="AccessDenied",
        cause_says="PutObject",
        file_at=workflow.SOURCE,
        fired=[1, 1],
    ),
    "load-fails-discard-crashes-once": Failure(
        rules=[*PUT_REPORT_DENIED, {"function": "{discard}", "fault": "crash", "count": 1}],
        valid=True,
        path=LOAD_FAILED,
        failures=["AccessDenied", "Runtime.ExitError"],
        error="AccessDenied",
        cause_says="PutObject",
        file_at=workflow.SOURCE,
        fired=[1, 1, 1],
    ),
    "load-fails-discard-transient-once": Failure(
        rules=[
            *PUT_REPORT_DENIED,
            {"function": "{discard}", "fault": "error", "error": "TransientLoadError", "count": 1},
        ],
        valid=True,
        path=LOAD_FAILED,
        failures=["AccessDenied", "TransientLoadError"],
        error="AccessDenied",
        cause_says="PutObject",
        file_at=workflow.SOURCE,
        fired=[1, 1, 1],
    ),
    # The discard cannot read the stage table: the rows stay, the notification still goes out.
    "load-fails-discard-fails": Failure(
        rules=[
            *PUT_REPORT_DENIED,
            {
                "service": "dynamodb",
                "operation": "Query",
                "resource": "{stage}",
                "error": "AccessDeniedException",
                "message": "injected: the stage table refuses queries",
            },
        ],
        valid=True,
        path=LOAD_FAILED,
        failures=["AccessDenied", "ClientError"],
        error="AccessDenied",
        cause_says="PutObject",
        file_at=workflow.SOURCE,
        stage_rows=True,
        fired=[1, 1, 1],
    ),
    "archive-fails": Failure(
        rules=[{"service": "s3", "operation": "CopyObject", "resource": "{bucket}", **DENIED}],
        valid=True,
        path=["ValidateFile", "IsFileValid", "LoadStage", "ArchiveFile", *FAILED_END],
        failures=["AccessDenied"],
        error="AccessDenied",
        cause_says="CopyObject",
        file_at=workflow.SOURCE,
        stage_rows=True,
        fired=[1],
    ),
    "transform-fails": Failure(
        rules=[
            {
                "service": "dynamodb",
                "operation": "BatchWriteItem",
                "resource": "{target}",
                "error": "AccessDeniedException",
                "message": "injected: the target table refuses writes",
            }
        ],
        valid=True,
        path=["ValidateFile", "IsFileValid", "LoadStage", "ArchiveFile", "TransformToTarget", *FAILED_END],
        failures=["ClientError"],
        error="ClientError",
        cause_says="the target table refuses writes",
        file_at=workflow.ARCHIVE,
        stage_rows=True,
        fired=[1],
    ),
    # The success notification is refused; the failure notification's first attempt fails
    # too (an SNS internal error, retried), then goes out.
    "notify-success-fails": Failure(
        rules=[
            {
                "service": "sns",
                "operation": "Publish",
                "resource": "{topic}",
                "error": "AuthorizationError",
                "count": 1,
            },
            {"service": "sns", "operation": "Publish", "resource": "{topic}", "error": "InternalError", "count": 1},
        ],
        valid=True,
        path=[*LOADED_PATH[:-1], *FAILED_END],
        failures=["SNS.AuthorizationErrorException", "SNS.InternalErrorException"],
        error="SNS.AuthorizationErrorException",
        cause_says="AuthorizationError",
        file_at=workflow.ARCHIVE,
        stage_rows=True,
        target_rows=True,
        fired=[1, 1],
    ),
    "move-to-error-fails": Failure(
        rules=[{"service": "s3", "operation": "CopyObject", "resource": "{bucket}", **DENIED}],
        valid=False,
        path=["ValidateFile", "IsFileValid", "MoveToError", *FAILED_END],
        failures=["AccessDenied"],
        error="AccessDenied",
        cause_says="CopyObject",
        file_at=workflow.SOURCE,
        fired=[1],
    ),
    "notify-invalid-fails": Failure(
        rules=[
            {"service": "sns", "operation": "Publish", "resource": "{topic}", "error": "AuthorizationError", "count": 1}
        ],
        valid=False,
        path=[*INVALID_PATH[:-1], *FAILED_END],
        failures=["SNS.AuthorizationErrorException"],
        error="SNS.AuthorizationErrorException",
        cause_says="AuthorizationError",
        file_at=workflow.ERROR,
        fired=[1],
    ),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_a_fault_no_retry_cures_sends_one_failure_notification_naming_it_and_leaves_nothing_half_done(
    aws: Clients, deployer: Deployer, stack: Stack, capture: str, faults: FaultsClient, case: str
) -> None:
    expected = FAILURES[case]
    ids = install(faults, deployer, stack, expected.rules)
    seed = 400 + list(FAILURES).index(case)
    csv_file = valid_file(seed, case) if expected.valid else bad_file(seed, case)

    key, execution = upload(deployer, stack, csv_file)
    fired = {rule["id"]: rule["fired"] for rule in faults.list()}
    faults.clear()  # the checks below read the same tables and bucket
    notices = captured_notices(aws, capture, [key])[key]

    assert (execution.status, execution.error) == ("FAILED", "CsvEtlFailed"), (execution.status, execution.error)
    assert execution.path == expected.path, f"expected {expected.path}, saw {execution.path}"
    assert failures(execution) == expected.failures, failures(execution)
    assert [fired[rule_id] for rule_id in ids] == expected.fired, fired
    assert len(notices) == 1, f"expected one notification about {key}, saw {notices}"
    notice = notices[0]
    assert (notice["outcome"], notice["file"], notice["error"]) == ("failed", key, expected.error), notice
    assert expected.cause_says in notice["cause"], f"expected the cause to say {expected.cause_says!r}: {notice}"
    assert notice["cause"] in (execution.cause or ""), "the execution fails with the cause the notification gives"

    bucket, relative = bucket_name(deployer, stack), key.removeprefix(workflow.SOURCE)
    where = {prefix: read_object(aws, bucket, prefix + relative) for prefix in (workflow.SOURCE, workflow.ARCHIVE)}
    where[workflow.ERROR] = read_object(aws, bucket, workflow.ERROR + relative)
    assert {prefix for prefix, body in where.items() if body is not None} == {expected.file_at}, (
        f"expected the file only under {expected.file_at}, found it under "
        f"{[prefix for prefix, body in where.items() if body is not None]}"
    )
    assert where[expected.file_at] == csv_file.body, "the file must keep its bytes"

    bound = stack.bind(deployer.ctx)
    staged = stage_rows(aws, bound.name(workflow.STAGE_TABLE), load_id(key, csv_file.body))
    assert len(staged) == (len(csv_file.loaded) if expected.stage_rows else 0), (
        f"expected {'every loaded row' if expected.stage_rows else 'no row'} of the load staged, saw {len(staged)}"
    )
    targets = csv_file.targets() if expected.valid else {}
    stored = target_rows(aws, bound.name(workflow.TARGET_TABLE), list(targets))
    assert len(stored) == (len(targets) if expected.target_rows else 0), (
        f"expected {len(targets) if expected.target_rows else 0} target rows, saw {len(stored)}"
    )
