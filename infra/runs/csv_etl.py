"""Run workflow 5 (CSV ETL) on generated files and account for every file and row.

A good file (options.invalid_rate of its rows bad) and one bad file (its kind chosen by
the seed), sharing the run's records between them (`bad_file_rows`), are uploaded
together under `source/`; S3 notifies the
start Lambda, which starts an execution per file. Notifications are captured through
an SQS queue subscribed to the topic for the run (created and deleted here). Then each
file is checked against its labels: where it ended (archive/ or error/, not source/),
the stage and target tables row by row, the rejected-rows report, the one notification
it must have sent, and the path its execution took.

The run id is in the file names (`run-<run>.csv`) and in every transaction id, so runs
with the same seed, one after the other or at once, load distinct rows and each finds
its own notifications.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.executions import Execution, known_executions, started_after, wait_execution
from serverless_testbed.observe import collect, sns_messages, topic_capture
from serverless_testbed.records import REJECTED, rejected_record
from serverless_testbed.runs import RunOptions, RunResult
from serverless_testbed.stack.stack import Stack

from fixtures.csv_files import BAD_FILES, CsvFile, generate_bad_file, generate_csv_file
from infra.workflows import csv_etl as workflow

LOADED_PATH = [
    "ValidateFile", "IsFileValid", "LoadStage", "ArchiveFile", "TransformToTarget", "AllRowsAccounted",
    "DescribeLoad", "NotifySuccess", "Loaded",
]  # fmt: skip
INVALID_PATH = ["ValidateFile", "IsFileValid", "MoveToError", "DescribeRejection", "NotifyInvalid", "FileInvalid"]
LISTED = 50  # rejected rows the success notification names (the load step's LISTED)


def bad_file_rows(records: int, kind: str) -> int:
    """The rows of the run's `records` that go into the bad file: about a tenth, 2 to 20
    (every kind of bad file is rejected whole from 2 rows on); none for an empty file."""
    return 0 if kind == "empty" else min(20, max(2, records // 10))


def run(deployer: Deployer, stack: Stack, options: RunOptions) -> RunResult:
    clients, ctx = deployer.clients, deployer.ctx
    run_id = options.run_id
    # Fewer than 3 records leave no rows for a bad file beside a good one: it is an empty file then.
    kind = BAD_FILES[options.seed % len(BAD_FILES)] if options.records >= 3 else "empty"
    bad_rows = bad_file_rows(options.records, kind)
    good = generate_csv_file(
        options.records - bad_rows, options.invalid_rate, options.seed, name=f"run-{run_id}.csv", run_id=run_id
    )
    bad = generate_bad_file(kind, options.seed, records=bad_rows, name=f"run-{run_id}-{kind}.csv", run_id=run_id)
    others: set[str] = set()
    progress = options.progress
    started = time.monotonic()
    with topic_capture(clients, stack.bind(ctx).arn(workflow.TOPIC)) as capture:
        # Both files are in flight together, as two uploads would be.
        keys = {csv_file.name: workflow.SOURCE + csv_file.name for csv_file in (good, bad)}
        with progress.stage("csv-etl: files uploaded, executions started", total=2, unit="files") as stage:
            arns = []
            for csv_file in (good, bad):
                arns.append(put_and_find(deployer, stack, csv_file.body, keys[csv_file.name]))
                stage.advance()
        with progress.stage("csv-etl: executions finished", total=2, unit="executions") as stage:
            finished = []
            for arn in arns:
                finished.append(wait_execution(clients, arn, timeout=300))
                stage.advance()
        uploads = [
            (csv_file, keys[csv_file.name], execution)
            for csv_file, execution in zip((good, bad), finished, strict=True)
        ]
        with progress.stage("csv-etl: notifications received", total=2, unit="messages"):
            notices = captured_notices(clients, capture, [key for _, key, _ in uploads], others=others)
    seconds = time.monotonic() - started
    problems: list[str] = []
    with progress.stage("csv-etl: files and rows checked", total=2, unit="files") as stage:
        for csv_file, key, execution in uploads:
            found = check_file(deployer, stack, csv_file, key, execution, notices)
            problems += [f"{key}: {problem}" for problem in found]
            stage.advance()
    output = uploads[0][2].output if isinstance(uploads[0][2].output, dict) else {}
    return RunResult(
        workflow="csv-etl",
        executions=[execution for _, _, execution in uploads],
        counts={
            "files": len(uploads),
            "invalid_files": sum(not csv_file.expected.valid for csv_file, _, _ in uploads),
            "rows": len(good.rows) + len(bad.rows),
            "rows_in_invalid_files": len(bad.rows),
            "loaded": int(output.get("loaded", 0)),
            "rejected": int(output.get("rejected", 0)),
            "transformed": int(output.get("transformed", 0)),
            "notifications": sum(len(found) for found in notices.values()),
            **({"other_messages": len(others)} if others else {}),
        },
        seconds=seconds,
        problems=problems,
        details={
            **{
                key: f"{csv_file.kind}: {execution.status} {execution.error or ''}".strip()
                for csv_file, key, execution in uploads
            },
            REJECTED: rejected_rows(deployer, stack, uploads),
        },
        run_id=run_id,
    )


def rejected_rows(
    deployer: Deployer, stack: Stack, uploads: list[tuple[CsvFile, str, Execution]]
) -> list[dict[str, str]]:
    """What the run saw rejected: each invalid file (moved to the error prefix, with the
    execution's cause) and each row of the rejected rows report of a loaded file."""
    found: list[dict[str, str]] = []
    bucket = bucket_name(deployer, stack)
    for _csv_file, key, execution in uploads:
        if execution.error == "CsvFileInvalid":
            moved = workflow.ERROR + key.removeprefix(workflow.SOURCE)
            found.append(rejected_record(f"file {key}", execution.cause or "", moved))
            continue
        report = workflow.ERROR + key.removeprefix(workflow.SOURCE).removesuffix(".csv") + ".rejected-rows.jsonl"
        body = read_object(deployer.clients, bucket, report)
        for entry in map(json.loads, (body or b"").decode().splitlines()):
            found.append(rejected_record(f"{key} line {entry.get('line')}", entry.get("reasons") or [], report))
    return found


def upload(deployer: Deployer, stack: Stack, csv_file: CsvFile, key: str | None = None) -> tuple[str, Execution]:
    """Start the file's run and return the key and the finished execution."""
    key = key or workflow.SOURCE + csv_file.name
    arn = put_and_find(deployer, stack, csv_file.body, key)
    return key, wait_execution(deployer.clients, arn, timeout=300)


def put_and_find(deployer: Deployer, stack: Stack, body: bytes, key: str) -> str:
    """Upload `body` to `key` and return the ARN of the execution S3 started for it."""
    clients = deployer.clients
    machine = stack.bind(deployer.ctx).arn(workflow.MACHINE)
    seen = known_executions(clients, machine)
    clients("s3").put_object(Bucket=bucket_name(deployer, stack), Key=key, Body=body)
    deadline = time.monotonic() + 60  # one bound for the whole search, however many others start
    while True:  # other files' executions may start meanwhile: take the one for this key
        arn = started_after(clients, machine, seen, timeout=max(deadline - time.monotonic(), 0.1))
        event = json.loads(clients("stepfunctions").describe_execution(executionArn=arn)["input"])
        if isinstance(event, dict) and event.get("key") == key:
            return arn
        seen.add(arn)


def bucket_name(deployer: Deployer, stack: Stack) -> str:
    return stack.bind(deployer.ctx).name(workflow.BUCKET)


def captured_notices(
    clients: Clients, capture_url: str, keys: list[str], each: int = 1, others: set[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The notifications about `keys` (`each` per key awaited, any extra ones kept too),
    as {key: [message body]}; `others` gets the ids of the other messages seen (and left)."""

    def about(message: dict[str, Any]) -> str | None:
        attributes = json.loads(message["Body"]).get("MessageAttributes") or {}
        value = attributes.get("file", {}).get("Value")
        return str(value) if value in keys else None

    def keep(message: dict[str, Any]) -> bool:
        return about(message) is not None

    first = collect(clients, capture_url, count=each * len(keys), keep=keep, timeout=60)
    extra = collect(clients, capture_url, count=0, keep=keep)  # anything sent twice
    raw = first.messages + extra.messages
    if others is not None:
        others |= first.others | extra.others
    found: dict[str, list[dict[str, Any]]] = {key: [] for key in keys}
    for message, envelope in zip(raw, sns_messages(raw), strict=True):
        found[str(about(message))].append({"subject": envelope.get("Subject"), **json.loads(envelope["Message"])})
    return found


def check_file(
    deployer: Deployer,
    stack: Stack,
    csv_file: CsvFile,
    key: str,
    execution: Execution,
    notices: dict[str, list[dict[str, Any]]],
) -> list[str]:
    """Every way the outcome of one uploaded file can differ from its labels, in words."""
    problems: list[str] = []
    sent = notices.get(key, [])
    if len(sent) != 1:
        problems.append(f"expected exactly one notification, saw {len(sent)}: {sent}")
    if csv_file.expected.valid:
        problems += _check_loaded(deployer, stack, csv_file, key, execution, sent[0] if sent else {})
    else:
        problems += _check_rejected(deployer, stack, csv_file, key, execution, sent[0] if sent else {})
    return problems


def _check_loaded(
    deployer: Deployer, stack: Stack, csv_file: CsvFile, key: str, execution: Execution, notice: dict[str, Any]
) -> list[str]:
    problems: list[str] = []
    if (execution.status, execution.path) != ("SUCCEEDED", LOADED_PATH):
        problems.append(
            f"expected SUCCEEDED via {LOADED_PATH}, saw {execution.status} via {execution.path}: {execution.cause}"
        )
    archived = workflow.ARCHIVE + key.removeprefix(workflow.SOURCE)
    problems += _placement(deployer, stack, csv_file, key, expected_at=archived, absent=[key])
    counts = {"rows": len(csv_file.rows), "loaded": len(csv_file.loaded), "rejected": len(csv_file.rejected)}
    counts["transformed"] = counts["loaded"]
    expected_notice = {
        "outcome": "loaded",
        "subject": "CSV file loaded",
        "file": key,
        "archived_as": archived,
        **counts,
    }
    seen = {name: notice.get(name) for name in expected_notice}
    if seen != expected_notice:
        problems.append(f"success notification: expected {expected_notice}, saw {seen}")
    listed = [(row.record["line"], list(row.expected.reasons)) for row in csv_file.rejected[:LISTED]]
    if [(r.get("line"), r.get("reasons")) for r in notice.get("rejected_rows") or []] != listed:
        problems.append(f"success notification lists rejected rows {notice.get('rejected_rows')}, expected {listed}")
    problems += _check_rejects_report(deployer, stack, csv_file, key, notice.get("rejects_key"))
    clients, ctx = deployer.clients, deployer.ctx
    staged = stage_rows(clients, stack.bind(ctx).name(workflow.STAGE_TABLE), load_id(key, csv_file.body))
    if len(staged) != counts["loaded"]:
        problems.append(f"stage table: expected {counts['loaded']} rows of this load, saw {len(staged)}")
    target = stack.bind(ctx).name(workflow.TARGET_TABLE)
    expected = csv_file.targets()
    stored = target_rows(clients, target, list(expected))
    lineage = {"source_file": key, "load_id": load_id(key, csv_file.body)}
    for transaction, row in expected.items():
        problems += [
            f"target {transaction}: {p}" for p in target_row_problems({**row, **lineage}, stored.get(transaction))
        ]
    loaded_ids = set(expected)
    stray = {str(row.record["fields"]["transaction_id"]).strip() for row in csv_file.rejected} - loaded_ids - {""}
    for transaction in target_rows(clients, target, sorted(stray)):
        problems.append(f"target {transaction}: a rejected row's transaction was stored")
    return problems


def _check_rejected(
    deployer: Deployer, stack: Stack, csv_file: CsvFile, key: str, execution: Execution, notice: dict[str, Any]
) -> list[str]:
    problems: list[str] = []
    codes = list(csv_file.expected.reasons)
    if (execution.status, execution.error, execution.path) != ("FAILED", "CsvFileInvalid", INVALID_PATH):
        problems.append(
            f"expected FAILED CsvFileInvalid via {INVALID_PATH}, "
            f"saw {execution.status} {execution.error} via {execution.path}"
        )
    if not (execution.cause or "").startswith(f"{key}: {codes[0]} ("):
        problems.append(f"expected the cause to name {key} and {codes[0]}, saw {execution.cause!r}")
    relative = key.removeprefix(workflow.SOURCE)
    moved = workflow.ERROR + relative
    problems += _placement(deployer, stack, csv_file, key, expected_at=moved, absent=[key, workflow.ARCHIVE + relative])
    expected_notice = {
        "outcome": "invalid",
        "subject": "CSV file rejected",
        "file": key,
        "moved_to": moved,
        "codes": codes,
    }
    seen = {name: notice.get(name) for name in expected_notice}
    if seen != expected_notice:
        problems.append(f"error notification: expected {expected_notice}, saw {seen}")
    if [reason.get("code") for reason in notice.get("reasons") or []] != codes or not all(
        reason.get("detail") for reason in notice.get("reasons") or []
    ):
        problems.append(f"error notification: expected reasons {codes} with details, saw {notice.get('reasons')}")
    clients, ctx = deployer.clients, deployer.ctx
    staged = stage_rows(clients, stack.bind(ctx).name(workflow.STAGE_TABLE), load_id(key, csv_file.body))
    if staged:
        problems.append(f"stage table: expected nothing from an invalid file, saw {len(staged)} rows")
    ids = sorted({str(row.record["fields"]["transaction_id"]) for row in csv_file.rows} - {""})
    stored = target_rows(clients, stack.bind(ctx).name(workflow.TARGET_TABLE), ids)
    if stored:
        problems.append(f"target table: expected nothing from an invalid file, saw {sorted(stored)[:5]}...")
    return problems


def _placement(
    deployer: Deployer, stack: Stack, csv_file: CsvFile, key: str, expected_at: str, absent: Iterable[str]
) -> list[str]:
    problems: list[str] = []
    found = read_object(deployer.clients, bucket_name(deployer, stack), expected_at)
    if found is None:
        problems.append(f"expected the file at {expected_at}, it is not there")
    elif found != csv_file.body:
        problems.append(f"{expected_at} does not hold the uploaded bytes")
    for elsewhere in absent:
        if read_object(deployer.clients, bucket_name(deployer, stack), elsewhere) is not None:
            problems.append(f"expected nothing at {elsewhere}, the file is still there")
    return problems


def _check_rejects_report(
    deployer: Deployer, stack: Stack, csv_file: CsvFile, key: str, reported_key: str | None
) -> list[str]:
    expected_key = workflow.ERROR + key.removeprefix(workflow.SOURCE).removesuffix(".csv") + ".rejected-rows.jsonl"
    if not csv_file.rejected:
        return [] if reported_key is None else [f"no rejected rows, yet a report was named: {reported_key}"]
    if reported_key != expected_key:
        return [f"expected the rejected rows report at {expected_key}, the notification names {reported_key}"]
    body = read_object(deployer.clients, bucket_name(deployer, stack), expected_key)
    if body is None:
        return [f"the rejected rows report {expected_key} is missing"]
    seen = {entry["line"]: entry["reasons"] for entry in map(json.loads, body.decode().splitlines())}
    expected = {row.record["line"]: list(row.expected.reasons) for row in csv_file.rejected}
    if seen != expected:
        wrong = sorted(line for line in expected.keys() | seen.keys() if seen.get(line) != expected.get(line))
        shown = [(line, expected.get(line), seen.get(line)) for line in wrong[:5]]
        return [f"rejected rows report differs at {len(wrong)} line(s); (line, expected, seen): {shown}"]
    return []


def target_row_problems(expected: dict[str, Any], stored: dict[str, Any] | None) -> list[str]:
    """How a stored target row differs from the expected one (numbers compared as Decimal)."""
    if stored is None:
        return ["expected in the target table, not there"]
    problems = []
    for name, value in expected.items():
        seen = stored.get(name)
        same = Decimal(str(value)) == seen if isinstance(seen, Decimal) else value == seen
        if not same:
            problems.append(f"{name}: expected {value!r}, saw {seen!r}")
    extra = set(stored) - set(expected)
    if extra:
        problems.append(f"unexpected attributes {sorted(extra)}")
    return problems


def load_id(key: str, body: bytes) -> str:
    """The stage table's id of one upload: its key and its ETag (the MD5 of a single-part
    upload)."""
    return f"{key}#{hashlib.md5(body).hexdigest()}"


def stage_rows(clients: Clients, table: str, load: str) -> list[dict[str, Any]]:
    paginator = clients("dynamodb").get_paginator("query")
    pages = paginator.paginate(
        TableName=table,
        KeyConditionExpression="load_id = :load",
        ExpressionAttributeValues={":load": {"S": load}},
        ConsistentRead=True,
    )
    return [_plain(item) for page in pages for item in page["Items"]]


def target_rows(clients: Clients, table: str, transactions: list[str]) -> dict[str, dict[str, Any]]:
    """The target rows of `transactions` that exist, by transaction id, as plain values."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(transactions), 100):
        keys = [{"transaction_id": {"S": t}} for t in transactions[start : start + 100]]
        request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = clients("dynamodb").batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table, []):
                found[item["transaction_id"]["S"]] = _plain(item)
            request = response.get("UnprocessedKeys") or {}
    return found


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {name: Decimal(value["N"]) if "N" in value else value.get("S") for name, value in item.items()}


def read_object(clients: Clients, bucket: str, key: str) -> bytes | None:
    try:
        body: bytes = clients("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as err:
        if err.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise
    return body


def scheduled_attempts(execution: Execution, state: str) -> list[dict[str, Any]]:
    """The task attempts (TaskScheduled or LambdaFunctionScheduled events) of `state`."""
    attempts: list[dict[str, Any]] = []
    inside = False
    for event in execution.history:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            inside = event["stateEnteredEventDetails"]["name"] == state
        elif kind.endswith("StateExited"):
            inside = False
        elif inside and kind in ("TaskScheduled", "LambdaFunctionScheduled"):
            attempts.append(event)
    return attempts
