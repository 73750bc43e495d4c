"""Run workflow 2 (sales ingest) on generated sales files and account for every record.

A JSON file and a CSV file, sharing the run's records between them (`--records 5` sends
3 and 2; a file that would be empty is not sent), are uploaded under `incoming/`;
S3 -> EventBridge starts an execution for each. Afterwards every valid
order must be in the table (from that file) and every invalid one in the dead-letter
queue with exactly its expected reasons: nothing lost, nothing twice.

Each file's order ids carry the run id and the format (`S-<run>-<fmt>-<seed>-<n>`): the
two files of a run, and the files of runs with the same seed, never share an order id,
and the run's dead letters are told apart from anything else in the queue.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote_plus

from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.executions import Execution, known_executions, map_items, started_after, wait_execution
from serverless_testbed.observe import collect
from serverless_testbed.progress import QUIET, Progress, Stage
from serverless_testbed.records import REJECTED, Generated, rejected_record
from serverless_testbed.runs import RunOptions, RunResult, split
from serverless_testbed.stack.stack import Stack

from fixtures.sales import generate_sales, render_sales
from infra.workflows import sales as workflow

FORMATS = ("json", "csv")


def run(deployer: Deployer, stack: Stack, options: RunOptions, formats: tuple[str, ...] = FORMATS) -> RunResult:
    started = time.monotonic()
    executions: list[Execution] = []
    problems: list[str] = []
    counts = {"records": 0, "stored": 0, "rejected": 0}
    others: set[str] = set()
    rejected: list[dict[str, str]] = []
    for fmt, records in zip(formats, split(options.records, len(formats)), strict=True):
        if not records:
            continue
        run_id = f"{options.run_id}-{fmt}"
        generated = generate_sales(records, options.invalid_rate, options.seed, run_id=run_id)
        execution, file_problems, summary = ingest_file(
            deployer,
            stack,
            generated,
            fmt,
            name=f"sales-{options.run_id}",
            others=others,
            rejected=rejected,
            progress=options.progress,
        )
        executions.append(execution)
        problems.extend(f"{fmt}: {problem}" for problem in file_problems)
        counts["records"] += len(generated)
        counts["stored"] += int(summary.get("stored", 0))
        counts["rejected"] += int(summary.get("rejected", 0))
    if others:
        counts["other_messages"] = len(others)
    seconds = time.monotonic() - started
    return RunResult("sales", executions, counts, seconds, problems, {REJECTED: rejected}, run_id=options.run_id)


def upload(
    deployer: Deployer, stack: Stack, body: str, fmt: str, name: str | None = None, progress: Progress = QUIET
) -> tuple[str, Execution]:
    """Upload a sales file under incoming/ and return its key and finished execution
    (`progress` sees the upload, then the batches of its Distributed Map validated)."""
    clients, ctx = deployer.clients, deployer.ctx
    bucket = stack.bind(ctx).name(workflow.BUCKET)
    machine = stack.bind(ctx).arn(workflow.MACHINE)
    key = f"{workflow.INCOMING}{name or 'sales-' + uuid.uuid4().hex[:8]}.{fmt}"
    with progress.stage(f"sales {fmt}: file uploaded, execution started"):
        known = known_executions(clients, machine)
        clients("s3").put_object(Bucket=bucket, Key=key, Body=body.encode())
        arn = started_for(clients, machine, known, key)
    batches = -(-_lines(body, fmt) // _batch_size(stack))  # the parse step's batches: the Map's items
    with progress.stage(f"sales {fmt}: batches validated and stored", total=batches, unit="batches") as stage:

        def watch() -> None:
            counted = map_items(clients, arn)
            if counted is not None:
                stage.update(completed=counted[0])

        execution = wait_execution(clients, arn, timeout=300, watch=watch)
        watch()
        return key, execution


def _batch_size(stack: Stack) -> int:
    """How many records the parse step puts in one Map item (its BATCH_SIZE)."""
    parse = stack.get(workflow.PARSE)
    return int(getattr(parse, "environment", {}).get("BATCH_SIZE", 250))


def _lines(body: str, fmt: str) -> int:
    """The records of a sales file (a CSV file's header is not one)."""
    if fmt == "csv":
        return max(body.count("\n") - 1, 0) + (0 if body.endswith("\n") else 1)
    try:
        return len(json.loads(body))
    except (ValueError, TypeError):
        return 0


def started_for(clients: Clients, machine: str, known: set[str], key: str, timeout: float = 60) -> str:
    """The ARN of the execution S3 -> EventBridge started for `key` (other uploads, of other
    runs, may start theirs meanwhile: each is looked at once)."""
    sfn = clients("stepfunctions")
    deadline = time.monotonic() + timeout
    seen = set(known)
    while True:
        arn = started_after(clients, machine, seen, timeout=max(deadline - time.monotonic(), 0.1))
        named = _object_key(json.loads(sfn.describe_execution(executionArn=arn)["input"]))
        if named == key or (isinstance(named, str) and unquote_plus(named) == key):  # events URL-encode keys
            return arn
        seen.add(arn)


def _object_key(event: Any) -> Any:
    """The S3 object key an EventBridge S3 event names (None for any other input)."""
    detail = event.get("detail") if isinstance(event, dict) else None
    return detail.get("object", {}).get("key") if isinstance(detail, dict) else None


def ingest_file(
    deployer: Deployer,
    stack: Stack,
    generated: list[Generated],
    fmt: str,
    name: str | None = None,
    others: set[str] | None = None,
    rejected: list[dict[str, str]] | None = None,
    progress: Progress = QUIET,
) -> tuple[Execution, list[str], dict[str, Any]]:
    """Upload `generated` as one file and check where each record ended; `others` gets the
    ids of the other messages met (and left) in the dead-letter queue, `rejected` a row per
    dead letter of this file."""
    _clients, ctx = deployer.clients, deployer.ctx
    bucket = stack.bind(ctx).name(workflow.BUCKET)
    key, execution = upload(deployer, stack, render_sales(generated, fmt), fmt, name, progress)
    source = f"s3://{bucket}/{key}"
    summary = execution.output if isinstance(execution.output, dict) else {}
    if not execution.succeeded:
        return execution, [f"execution {execution.status} {execution.error}: {execution.cause}"], summary
    problems = check_outcome(
        deployer, stack, generated, source, execution, others=others, rejected=rejected, progress=progress
    )
    if summary.get("total") != len(generated):
        problems.append(f"summary counts {summary.get('total')} records, the file has {len(generated)}")
    return execution, problems, summary


def check_outcome(
    deployer: Deployer,
    stack: Stack,
    generated: list[Generated],
    source: str,
    execution: Execution,
    others: set[str] | None = None,
    rejected: list[dict[str, str]] | None = None,
    progress: Progress = QUIET,
) -> list[str]:
    """Every record of `source`, as ingested by `execution`, in exactly one place with the
    expected reasons. (Uploading a file twice is two ingests: each dead-letters its own.)
    Other messages in the dead-letter queue are left there; `others` gets their ids;
    `rejected` a row per dead letter (line, order and reasons)."""
    clients, ctx = deployer.clients, deployer.ctx
    problems: list[str] = []
    invalid = {line: item for line, item in enumerate(generated, start=1) if not item.expected.valid}
    valid = {line: item for line, item in enumerate(generated, start=1) if item.expected.valid}
    queue = stack.bind(ctx).attribute(workflow.QUEUE, "name")
    url = clients("sqs").get_queue_url(QueueName=queue)["QueueUrl"]

    name = execution.arn.rsplit(":", 1)[-1]

    def mine(message: dict[str, Any]) -> bool:
        body = json.loads(message["Body"])
        return bool(body.get("source") == source and body.get("execution") == name)

    fmt = source.rsplit(".", 1)[-1]
    with progress.stage(f"sales {fmt}: dead letters received", total=len(invalid), unit="records") as stage:
        first = collect(
            clients, url, count=len(invalid), keep=mine, timeout=60, on_kept=lambda n: stage.update(completed=n)
        )
        extra = collect(clients, url, count=0, keep=mine)  # anything dead-lettered twice
    letters = [json.loads(m["Body"]) for m in first.messages + extra.messages]
    if others is not None:
        others |= first.others | extra.others
    by_line: dict[int, list[dict[str, Any]]] = {}
    fmt = source.rsplit(".", 1)[-1]
    for letter in sorted(letters, key=lambda letter: int(letter["line"])):
        by_line.setdefault(int(letter["line"]), []).append(letter)
        if rejected is not None:
            order = (letter.get("record") or {}).get("orderId") if isinstance(letter.get("record"), dict) else None
            what = f"{fmt} line {letter['line']}" + (f", order {order}" if order else "")
            rejected.append(rejected_record(what, letter.get("reasons") or [], "dead-letter queue"))
    for line, item in invalid.items():
        seen = by_line.pop(line, [])
        if len(seen) != 1:
            problems.append(f"line {line}: expected 1 dead letter, saw {len(seen)}")
        elif sorted(seen[0]["reasons"]) != sorted(item.expected.reasons):
            problems.append(
                f"line {line}: expected reasons {sorted(item.expected.reasons)}, saw {sorted(seen[0]['reasons'])}"
            )
    for line in sorted(by_line):
        problems.append(f"line {line}: valid, yet dead-lettered with {by_line[line][0]['reasons']}")
    with progress.stage(f"sales {fmt}: stored orders read", total=len(valid), unit="records") as stage:
        stored = _stored_items(
            clients, stack.bind(ctx).name(workflow.TABLE), [i.record["orderId"] for i in valid.values()], stage
        )
    for line, item in valid.items():
        found = stored.get(str(item.record["orderId"]))
        if found is None:
            problems.append(f"line {line}: valid order {item.record['orderId']} is not in the table")
        elif found.get("sourceFile", {}).get("S") != source or found.get("sourceLine", {}).get("N") != str(line):
            problems.append(f"line {line}: the table holds order {item.record['orderId']} from another file or line")
    return problems


def _stored_items(clients: Any, table: str, order_ids: list[Any], stage: Stage) -> dict[str, dict[str, Any]]:
    """The table's items of `order_ids`, by order id: BatchGetItem of 100 keys, four at a time."""
    dynamodb = clients("dynamodb")
    unique = sorted({str(order_id) for order_id in order_ids})

    def read(keys: list[str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: Any = {table: {"Keys": [{"orderId": {"S": oid}} for oid in keys], "ConsistentRead": True}}
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            items += response["Responses"].get(table, [])
            request = response.get("UnprocessedKeys") or {}
        stage.advance(len(keys))
        return items

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="read-stored") as pool:
        chunks = pool.map(read, [unique[start : start + 100] for start in range(0, len(unique), 100)])
        return {item["orderId"]["S"]: item for chunk in chunks for item in chunk}
