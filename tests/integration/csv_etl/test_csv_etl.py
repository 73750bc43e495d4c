"""Workflow 5, CSV ETL: S3 upload under source/ -> start Lambda -> state machine.

Every file ends in archive/ (loaded, transformed, announced) or error/ (rejected whole,
announced with its reason); every row of a loaded file is in the target table as the
generator expects, or in the rejected-rows report with its reasons.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.executions import known_executions, start, wait_execution
from serverless_testbed.faults import FaultsClient
from serverless_testbed.observe import drain, sns_messages
from serverless_testbed.runs import RunOptions
from serverless_testbed.stack.stack import Stack

from fixtures.csv_files import BAD_FILES, FILE_REASONS, generate_bad_file, generate_csv_file
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
from infra.workflows import csv_etl as workflow


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
    scanned = _scan(aws, stack.bind(deployer.ctx).name(workflow.TARGET_TABLE))
    mine = [item["transaction_id"]["S"] for item in scanned if item["transaction_id"]["S"].startswith("TX-61-")]
    assert sorted(mine) == sorted(expected), (
        f"expected one target row per loaded row ({len(expected)}), saw {len(mine)}"
    )
    staged = stage_rows(aws, stack.bind(deployer.ctx).name(workflow.STAGE_TABLE), load_id(key, csv_file.body))
    assert len(staged) == len(expected), f"expected {len(expected)} stage rows for the load, saw {len(staged)}"


def test_a_transient_load_failure_is_retried_and_the_run_succeeds(
    aws: Clients, deployer: Deployer, stack: Stack, capture: str, faults: FaultsClient
) -> None:
    # Fault: the load function's next invocation fails with TransientLoadError, once.
    rule = faults.inject(
        function=stack.bind(deployer.ctx).name(workflow.LOAD), fault="error", error="TransientLoadError", count=1
    )
    csv_file = generate_csv_file(40, 0.1, seed=71, name=unique("transient"))
    key = workflow.SOURCE + csv_file.name

    _, execution = upload(deployer, stack, csv_file, key=key)

    assert execution.status == "SUCCEEDED", (
        f"expected SUCCEEDED, saw {execution.status} {execution.error}: {execution.cause}"
    )
    assert execution.path == LOADED_PATH, f"a retry stays in LoadStage: expected {LOADED_PATH}, saw {execution.path}"
    attempts = scheduled_attempts(execution, "LoadStage")
    assert len(attempts) == 2, f"expected the load scheduled twice (one retry), saw {len(attempts)}"
    failures = [e["taskFailedEventDetails"]["error"] for e in execution.history if e["type"] == "TaskFailed"]
    assert failures == ["TransientLoadError"], f"expected one TransientLoadError, saw {failures}"
    assert faults.fired(rule["id"]) == 1
    problems = check_file(deployer, stack, csv_file, key, execution, captured_notices(aws, capture, [key]))
    assert not problems, "\n".join(problems)


def test_an_unexpected_error_sends_the_error_notification_and_fails(
    aws: Clients, deployer: Deployer, stack: Stack, capture: str
) -> None:
    key = workflow.SOURCE + unique("vanished")  # started by hand for a file that is not there
    payload = {"bucket": bucket_name(deployer, stack), "key": key}

    execution = wait_execution(aws, start(aws, stack.bind(deployer.ctx).arn(workflow.MACHINE), payload))
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
    machine = stack.bind(deployer.ctx).arn(workflow.MACHINE)
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


@pytest.mark.parametrize(
    "name",
    ["Q1 sales {}.csv", "Zürich Malmö {}.csv", "sales+returns {}.csv", "EXPORT {}.CSV", "mixed {}.Csv"],
    ids=["space", "non-ascii", "plus", "upper-case-extension", "mixed-case-extension"],
)
def test_a_key_s3_must_url_encode_or_with_an_upper_case_extension_is_loaded(
    aws: Clients, deployer: Deployer, stack: Stack, capture: str, name: str
) -> None:
    csv_file = generate_csv_file(30, 0.1, seed=101, name=name.format(uuid.uuid4().hex[:8]))
    key, execution = upload(deployer, stack, csv_file)

    assert execution.status == "SUCCEEDED", (
        f"expected SUCCEEDED for {key!r}, saw {execution.status} {execution.error}: {execution.cause}"
    )
    # Archive, report of rejected rows, stage and target rows, the one notification: all by the real key.
    problems = check_file(deployer, stack, csv_file, key, execution, captured_notices(aws, capture, [key]))
    assert not problems, "\n".join(problems)


def test_an_object_under_source_that_is_not_csv_is_announced_as_ignored(
    aws: Clients, deployer: Deployer, stack: Stack, capture: str
) -> None:
    machine = stack.bind(deployer.ctx).arn(workflow.MACHINE)
    before = known_executions(aws, machine)
    key = workflow.SOURCE + unique("notes + ideas").removesuffix(".csv") + ".txt"
    aws("s3").put_object(Bucket=bucket_name(deployer, stack), Key=key, Body=b"not a table")

    notices = captured_notices(aws, capture, [key])[key]

    assert len(notices) == 1, f"expected one notification about {key!r}, saw {notices}"
    notice = notices[0]
    assert (notice["outcome"], notice["reason"], notice["file"]) == ("ignored", "not-csv", key), notice
    assert notice["subject"] == "File ignored by the CSV ETL", notice
    assert read_object(aws, bucket_name(deployer, stack), key) == b"not a table", "an ignored file stays where it is"
    assert known_executions(aws, machine) - before == set(), "a file that is not CSV must start no execution"


CHUNK_ROWS, CHUNKED_FILE_ROWS = 2000, 8000  # four loads; the row setting, not the machine's speed, decides


@pytest.fixture
def small_load_chunks(aws: Clients, deployer: Deployer, stack: Stack) -> Iterator[int]:
    """The load function with ROWS_PER_INVOCATION at 2,000 for one test, so 8,000 rows need
    at least four invocations whatever the machine's speed. The deployed setting is put back."""
    name = stack.bind(deployer.ctx).name(workflow.LOAD)
    lam = aws("lambda")
    deployed = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**deployed, "ROWS_PER_INVOCATION": str(CHUNK_ROWS)}}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    yield CHUNK_ROWS
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": deployed})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)


def test_a_file_too_large_for_one_invocation_is_loaded_in_chunks_exactly_once(
    aws: Clients, deployer: Deployer, stack: Stack, capture: str, small_load_chunks: int
) -> None:
    # Duplicate ids (a row fault of the generator) point back across chunk boundaries.
    csv_file = generate_csv_file(CHUNKED_FILE_ROWS, 0.05, seed=111, name=unique("chunked"))
    key, execution = upload(deployer, stack, csv_file)

    assert execution.status == "SUCCEEDED", (
        f"expected SUCCEEDED, saw {execution.status} {execution.error}: {execution.cause}"
    )
    loads = [state for state in execution.path if state == "LoadStage"]
    chunks = -(-CHUNKED_FILE_ROWS // small_load_chunks)
    assert len(loads) >= chunks, f"expected {chunks} or more loads of {small_load_chunks} rows, saw {execution.path}"
    caught = [e["taskFailedEventDetails"]["error"] for e in execution.history if e["type"] == "TaskFailed"]
    assert set(caught) == {"LoadContinues"}, f"expected only LoadContinues, saw {caught}"
    # Apart from LoadStage repeated (through ContinueLoad), the path is a loaded file's; every row is checked.
    collapsed = [state for state, _ in itertools.groupby(s for s in execution.path if s != "ContinueLoad")]
    problems = check_file(
        deployer,
        stack,
        csv_file,
        key,
        dataclasses.replace(execution, path=collapsed),
        captured_notices(aws, capture, [key]),
    )
    assert not problems, "\n".join(problems)
    parts = aws("s3").list_objects_v2(Bucket=bucket_name(deployer, stack), Prefix=workflow.ERROR + csv_file.name)
    leftovers = [found["Key"] for found in parts.get("Contents", []) if ".part-" in found["Key"]]
    assert leftovers == [], f"the report parts must be joined and deleted, saw {leftovers}"


def test_discarding_a_failed_load_deletes_its_stage_rows_and_report_parts(
    aws: Clients, deployer: Deployer, stack: Stack
) -> None:
    """What the failure path after LoadStage runs (DiscardStage), on rows a load left."""
    table = stack.bind(deployer.ctx).name(workflow.STAGE_TABLE)
    bucket = bucket_name(deployer, stack)
    load = f"{workflow.SOURCE}{unique('failed')}#0123abcd"
    rejects_key = workflow.ERROR + unique("failed").removesuffix(".csv") + ".rejected-rows.jsonl"
    staged = [{"PutRequest": {"Item": {"load_id": {"S": load}, "line": {"N": str(line)}}}} for line in range(2, 1_202)]
    for start_at in range(0, len(staged), 25):
        aws("dynamodb").batch_write_item(RequestItems={table: staged[start_at : start_at + 25]})
    aws("s3").put_object(Bucket=bucket, Key=rejects_key + ".part-00000", Body=b"{}\n")
    other = f"{workflow.SOURCE}{unique('kept')}#4567ef"
    aws("dynamodb").put_item(TableName=table, Item={"load_id": {"S": other}, "line": {"N": "2"}})

    answer = aws("lambda").invoke(
        FunctionName=stack.bind(deployer.ctx).name(workflow.DISCARD),
        Payload=json.dumps({"bucket": bucket, "load_id": load, "rejects_key": rejects_key}).encode(),
    )
    result = json.loads(answer["Payload"].read())

    assert "FunctionError" not in answer, result
    assert result == {"load_id": load, "discarded": 1_200}, result
    assert stage_rows(aws, table, load) == [], "every stage row of the failed load must be gone"
    assert len(stage_rows(aws, table, other)) == 1, "another load's rows must stay"
    assert read_object(aws, bucket, rejects_key + ".part-00000") is None, "report parts must be gone"


def test_the_runner_accounts_for_every_file_and_row(deployer: Deployer, stack: Stack) -> None:
    result = run(deployer, stack, RunOptions(records=120, invalid_rate=0.2, seed=9))

    assert result.ok, "\n".join(result.problems)
    # The 120 records: 12 in the bad file (truncated rows, for seed 9), 108 in the good one (22 of them bad).
    assert result.counts == {
        "files": 2, "invalid_files": 1, "rows": 120, "rows_in_invalid_files": 12, "loaded": 86, "rejected": 22,
        "transformed": 86, "notifications": 2,
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
