"""Workflow 5, CSV ETL: S3 upload under source/ -> start Lambda -> state machine.

Every file ends in archive/ (loaded, transformed, announced) or error/ (rejected whole,
announced with its reason); every row of a loaded file is in the target table as the
generator expects, or in the rejected-rows report with its reasons.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fixtures.csv_files import BAD_FILES, FILE_REASONS, generate_bad_file, generate_csv_file
from infra.deploy import Deployer
from infra.executions import known_executions, start, wait_execution
from infra.observe import drain, sns_messages, topic_capture
from infra.runs import RunOptions
from infra.runs.csv_etl import (
    INVALID_PATH,
    LOADED_PATH,
    bucket_name,
    captured_notices,
    check_file,
    load_id,
    read_object,
    run,
    scheduled_attempts,
    stage_rows,
    upload,
)
from infra.stack.stack import Stack
from infra.workflows import csv_etl as workflow

Clients = Callable[[str], Any]


@pytest.fixture(scope="module")
def stack(deploy: Callable[[str], Stack]) -> Stack:
    return deploy("csv-etl")


@pytest.fixture(scope="module")
def capture(aws: Clients, deployer: Deployer, stack: Stack) -> Iterator[str]:
    """An SQS queue subscribed to the notification topic for the whole module."""
    with topic_capture(aws, stack.get(workflow.TOPIC).arn(deployer.ctx)) as url:
        yield url


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}.csv"


def test_a_valid_file_is_loaded_row_by_row_archived_and_announced_once(
    aws: Clients, deployer: Deployer, stack: Stack, capture: str
) -> None:
    csv_file = generate_csv_file(600, 0.1, seed=41, name=unique("valid"))
    assert csv_file.expected.valid
    assert len(csv_file.rejected) == 60

    key, execution = upload(deployer, stack, csv_file)
    notices = captured_notices(aws, capture, [key])

    assert execution.status == "SUCCEEDED", (
        f"expected SUCCEEDED, saw {execution.status} {execution.error}: {execution.cause}"
    )
    assert execution.path == LOADED_PATH, f"expected {LOADED_PATH}, saw {execution.path}"
    assert {name: execution.output[name] for name in ("rows", "loaded", "rejected", "transformed")} == {
        "rows": 600, "loaded": 540, "rejected": 60, "transformed": 540,
    }, execution.output  # fmt: skip
    # Row by row against the generator's expected target rows, the archive, the report
    # of rejected rows and the one notification (see check_file for each check).
    problems = check_file(deployer, stack, csv_file, key, execution, notices)
    assert not problems, "\n".join(problems)
    assert [notice["outcome"] for notice in notices[key]] == ["loaded"], notices


@pytest.mark.parametrize("kind", BAD_FILES)
def test_a_bad_file_goes_to_error_with_one_notification_and_loads_nothing(
    aws: Clients, deployer: Deployer, stack: Stack, capture: str, kind: str
) -> None:
    csv_file = generate_bad_file(kind, seed=50 + BAD_FILES.index(kind), name=unique(kind))

    key, execution = upload(deployer, stack, csv_file)
    notices = captured_notices(aws, capture, [key])

    assert (execution.status, execution.error) == ("FAILED", "CsvFileInvalid"), (
        f"expected FAILED CsvFileInvalid, saw {execution.status} {execution.error}: {execution.cause}"
    )
    assert execution.path == INVALID_PATH, f"expected {INVALID_PATH}, saw {execution.path}"
    notice = notices[key][0]
    assert (notice["codes"], notice["file"]) == ([FILE_REASONS[kind]], key), notice
    problems = check_file(deployer, stack, csv_file, key, execution, notices)
    assert not problems, "\n".join(problems)


def test_the_same_file_uploaded_twice_leaves_no_duplicate_rows(
    aws: Clients, deployer: Deployer, stack: Stack, capture: str
) -> None:
    csv_file = generate_csv_file(80, 0.1, seed=61, name=unique("twice"))
    key = workflow.SOURCE + csv_file.name
    for attempt in (1, 2):
        _, execution = upload(deployer, stack, csv_file, key=key)
        problems = check_file(deployer, stack, csv_file, key, execution, captured_notices(aws, capture, [key]))
        assert not problems, f"upload {attempt}:\n" + "\n".join(problems)

    expected = csv_file.targets()
    scanned = _scan(aws, stack.get(workflow.TARGET_TABLE).physical(deployer.ctx))
    mine = [item["transaction_id"]["S"] for item in scanned if item["transaction_id"]["S"].startswith("TX-61-")]
    assert sorted(mine) == sorted(expected), (
        f"expected one target row per loaded row ({len(expected)}), saw {len(mine)}"
    )
    staged = stage_rows(aws, stack.get(workflow.STAGE_TABLE).physical(deployer.ctx), load_id(key, csv_file.body))
    assert len(staged) == len(expected), f"expected {len(expected)} stage rows for the load, saw {len(staged)}"


def test_a_transient_load_failure_is_retried_and_the_run_succeeds(
    aws: Clients, deployer: Deployer, stack: Stack, capture: str
) -> None:
    csv_file = generate_csv_file(40, 0.1, seed=71, name=unique("transient"))
    key = workflow.SOURCE + csv_file.name
    bucket = bucket_name(deployer, stack)
    aws("s3").put_object(Bucket=bucket, Key=workflow.FAILURE_MARKER, Body=key.encode())

    _, execution = upload(deployer, stack, csv_file, key=key)

    assert execution.status == "SUCCEEDED", (
        f"expected SUCCEEDED, saw {execution.status} {execution.error}: {execution.cause}"
    )
    assert execution.path == LOADED_PATH, f"a retry stays in LoadStage: expected {LOADED_PATH}, saw {execution.path}"
    attempts = scheduled_attempts(execution, "LoadStage")
    assert len(attempts) == 2, f"expected the load scheduled twice (one retry), saw {len(attempts)}"
    failures = [e["taskFailedEventDetails"]["error"] for e in execution.history if e["type"] == "TaskFailed"]
    assert failures == ["TransientLoadError"], f"expected one TransientLoadError, saw {failures}"
    assert read_object(aws, bucket, workflow.FAILURE_MARKER) is None, "the load must consume the marker"
    problems = check_file(deployer, stack, csv_file, key, execution, captured_notices(aws, capture, [key]))
    assert not problems, "\n".join(problems)


def test_an_unexpected_error_sends_the_error_notification_and_fails(
    aws: Clients, deployer: Deployer, stack: Stack, capture: str
) -> None:
    key = workflow.SOURCE + unique("vanished")  # started by hand for a file that is not there
    payload = {"bucket": bucket_name(deployer, stack), "key": key}

    execution = wait_execution(aws, start(aws, stack.get(workflow.MACHINE).arn(deployer.ctx), payload))
    notice = captured_notices(aws, capture, [key])[key]

    assert (execution.status, execution.error) == ("FAILED", "CsvEtlFailed"), (
        f"saw {execution.status} {execution.error}"
    )
    assert execution.path == ["ValidateFile", "DescribeFailure", "NotifyFailure", "EtlFailed"], execution.path
    assert len(notice) == 1, f"expected one error notification, saw {notice}"
    assert (notice[0]["outcome"], notice[0]["file"]) == ("failed", key), notice
    assert "NoSuchKey" in notice[0]["error"] + notice[0]["cause"], f"expected the S3 error named, saw {notice[0]}"
    assert notice[0]["cause"] in (execution.cause or ""), (notice[0]["cause"], execution.cause)


def test_only_csv_files_under_source_start_the_workflow(
    aws: Clients, deployer: Deployer, stack: Stack, capture: str
) -> None:
    machine = stack.get(workflow.MACHINE).arn(deployer.ctx)
    bucket = bucket_name(deployer, stack)
    before = known_executions(aws, machine)
    # The strays go first: by the time the real file's execution has finished, any
    # execution they wrongly started would be listed too.
    aws("s3").put_object(Bucket=bucket, Key="elsewhere/" + unique("stray"), Body=b"x")
    aws("s3").put_object(Bucket=bucket, Key=workflow.SOURCE + "notes.txt", Body=b"x")
    csv_file = generate_csv_file(5, 0, seed=81, name=unique("only"))
    key, execution = upload(deployer, stack, csv_file)
    captured_notices(aws, capture, [key])
    after = known_executions(aws, machine)
    assert after - before == {execution.arn}, f"expected only {key} to start an execution, saw {after - before}"


def test_the_runner_accounts_for_every_file_and_row(deployer: Deployer, stack: Stack) -> None:
    result = run(deployer, stack, RunOptions(records=120, invalid_rate=0.2, seed=9))

    assert result.ok, "\n".join(result.problems)
    assert result.counts == {
        "files": 2, "invalid_files": 1, "rows": 120, "loaded": 96, "rejected": 24, "transformed": 96,
        "notifications": 2,
    }, result.counts  # fmt: skip
    assert [e.status for e in result.executions] == ["SUCCEEDED", "FAILED"]


def test_notifications_are_json_naming_the_file(aws: Clients, deployer: Deployer, stack: Stack, capture: str) -> None:
    """The raw envelope a subscriber sees: subject, attributes and a JSON message."""
    csv_file = generate_bad_file("empty", seed=91, name=unique("raw"))
    key, _ = upload(deployer, stack, csv_file)

    def about_this_file(message: dict[str, Any]) -> bool:
        return json.loads(message["Body"]).get("MessageAttributes", {}).get("file", {}).get("Value") == key

    envelope = sns_messages(drain(aws, capture, count=1, keep=about_this_file))[0]
    assert envelope["Subject"] == "CSV file rejected", envelope
    assert envelope["MessageAttributes"]["outcome"]["Value"] == "invalid", envelope
    message = json.loads(envelope["Message"])
    assert (message["reasons"][0]["code"], message["moved_to"]) == ("empty-file", "error/" + csv_file.name), message


def _scan(aws: Clients, table: str) -> list[dict[str, Any]]:
    paginator = aws("dynamodb").get_paginator("scan")
    return [item for page in paginator.paginate(TableName=table, ConsistentRead=True) for item in page["Items"]]
