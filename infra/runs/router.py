"""Run workflow 4 (ETL-or-streaming router) with both branches forced, and check them.

Streaming: the record read back from the Kinesis stream (from outside the state
machine, at the ShardId and SequenceNumber the branch reports) must be the document the
branch put, which must be the feed the fetch function answered. ETL: every raw row must
be curated as the generator expects (in S3 and in DynamoDB), or rejected with exactly
its reasons. The run id is in every subscription id (and in the raw file's name), so
runs with the same seed curate distinct rows.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.executions import Execution, execution_history, start, wait_execution
from serverless_testbed.progress import amount
from serverless_testbed.records import REJECTED, Generated, rejected_record
from serverless_testbed.runs import RunOptions, RunResult
from serverless_testbed.stack.stack import Stack

from fixtures.subscriptions import expected_curated, generate_subscriptions, line_of, render_subscriptions
from infra.workflows import router as workflow

COUNTRIES = ("US", "GB", "DE", "FR", "IN", "JP", "BR", "CA")


def run(deployer: Deployer, stack: Stack, options: RunOptions) -> RunResult:
    """Streaming for one country, then ETL on `options.records` generated rows."""
    started = time.monotonic()
    country = COUNTRIES[options.seed % len(COUNTRIES)]
    with options.progress.stage(f"router: streaming branch ({country} feed to Kinesis and SNS)"):
        streaming, stream_problems = run_streaming(deployer, stack, country, options.seed)
    generated = generate_subscriptions(options.records, options.invalid_rate, options.seed, run_id=options.run_id)
    rejected: list[dict[str, str]] = []
    with options.progress.stage(f"router: ETL branch on {amount(len(generated), 'rows')}, rows checked"):
        etl, etl_problems = run_etl(
            deployer, stack, generated, name=f"subscriptions-{options.run_id}", rejected=rejected
        )
    counts = {"rows": len(generated), "streamed": int(streaming.succeeded and not stream_problems)}
    if etl.succeeded:
        counts |= {name: int(etl.output["output"]["counts"][name]) for name in ("curated", "rejected")}
    problems = stream_problems + etl_problems
    seconds = time.monotonic() - started
    details = {REJECTED: rejected}
    return RunResult("router", [streaming, etl], counts, seconds, problems, details, run_id=options.run_id)


def machine(deployer: Deployer, stack: Stack) -> str:
    """The router's ARN."""
    return stack.bind(deployer.ctx).arn(workflow.ROUTER)


def route(deployer: Deployer, stack: Stack, payload: dict[str, Any], timeout: float = 120) -> Execution:
    """Start the router with `payload` and wait for it (and so for its branch)."""
    return wait_execution(deployer.clients, start(deployer.clients, machine(deployer, stack), payload), timeout)


def run_streaming(deployer: Deployer, stack: Stack, country: str, seed: int) -> tuple[Execution, list[str]]:
    payload = {"branch": "streaming", "country": country, "seed": seed, "email": f"data-team+{seed}@example.com"}
    execution = route(deployer, stack, payload)
    if not execution.succeeded:
        return execution, [f"streaming: {execution.status} {execution.error}: {execution.cause}"]
    output = execution.output["output"]
    sent = branch_sent(deployer.clients, execution.output["execution"])
    record = read_record(deployer, stack, output["shardId"], output["sequenceNumber"])
    problems = []
    if record is None:
        problems.append(f"streaming: no record {output['sequenceNumber']} in {output['shardId']}")
    elif record != sent["record"]:
        problems.append(f"streaming: the stream holds {record!r:.200}, the branch put {sent['record']!r:.200}")
    if sent["record"] != sent["fetched"] or sent["record"].get("country") != country:
        problems.append(f"streaming: the branch put {sent['record']!r:.200}, not the {country} feed it fetched")
    if sent["partition_key"] != country:
        problems.append(f"streaming: partition key {sent['partition_key']!r}, expected {country!r}")
    return execution, problems


def branch_sent(clients: Clients, branch_arn: str) -> dict[str, Any]:
    """What the streaming branch execution `branch_arn` sent, from its history: the feed
    the fetch function answered, the record (and partition key) it put, what it published."""
    sent: dict[str, Any] = {}
    for event in execution_history(clients, branch_arn):
        if event["type"] == "TaskScheduled":
            details = event["taskScheduledEventDetails"]
            if details["resource"] == "putRecord":
                params = json.loads(details["parameters"])
                sent["record"] = json.loads(params["Data"])
                sent["partition_key"] = params["PartitionKey"]
            elif details["resource"] == "publish":
                sent["published"] = json.loads(details["parameters"])
        elif event["type"] == "TaskSucceeded":
            details = event["taskSucceededEventDetails"]
            if (details["resourceType"], details["resource"]) == ("lambda", "invoke"):
                sent["fetched"] = json.loads(json.loads(details["output"])["Payload"]["body"])
    missing = {"record", "partition_key", "fetched", "published"} - set(sent)
    if missing:
        raise LookupError(f"the history of {branch_arn} shows no {', '.join(sorted(missing))}")
    return sent


def read_record(deployer: Deployer, stack: Stack, shard_id: str, sequence_number: str) -> dict[str, Any] | None:
    """The record at (shard, sequence number), read with the Kinesis API."""
    kinesis = deployer.clients("kinesis")
    iterator = kinesis.get_shard_iterator(
        StreamName=stack.bind(deployer.ctx).name(workflow.STREAM),
        ShardId=shard_id,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=sequence_number,
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator, Limit=1)["Records"]
    if not records or records[0]["SequenceNumber"] != sequence_number:
        return None
    data = json.loads(records[0]["Data"])
    if isinstance(data, str):
        # LocalStack 4.14.0 stores an aws-sdk task's string blob JSON-encoded once more;
        # AWS stores the string's own bytes. Either way the same document comes back.
        data = json.loads(data)
    record: dict[str, Any] = data
    return record


def upload_raw(
    deployer: Deployer, stack: Stack, generated: list[Generated], fmt: str = "jsonl", name: str | None = None
) -> str:
    """Write the generated rows as a raw file `raw/<name>.<suffix>` (a fresh name by default); its key."""
    suffix = "csv" if fmt == "csv" else "jsonl"
    key = f"{workflow.RAW}{name or 'subscriptions-' + uuid.uuid4().hex[:8]}.{suffix}"
    body = render_subscriptions(generated, fmt).encode()
    deployer.clients("s3").put_object(Bucket=stack.bind(deployer.ctx).name(workflow.BUCKET), Key=key, Body=body)
    return key


def run_etl(
    deployer: Deployer,
    stack: Stack,
    generated: list[Generated],
    fmt: str = "jsonl",
    name: str | None = None,
    rejected: list[dict[str, str]] | None = None,
) -> tuple[Execution, list[str]]:
    """Upload the rows (as `name`, see `upload_raw`), route them to the ETL branch, check
    every row's outcome (`rejected` gets a row per rejected line)."""
    raw_key = upload_raw(deployer, stack, generated, fmt, name)
    execution = route(deployer, stack, {"branch": "etl", "rawKey": raw_key})
    if not execution.succeeded:
        return execution, [f"etl: {execution.status} {execution.error}: {execution.cause}"]
    return execution, check_etl(deployer, stack, generated, execution.output["output"]["counts"], fmt, rejected)


def check_etl(
    deployer: Deployer,
    stack: Stack,
    generated: list[Generated],
    counts: dict[str, Any],
    fmt: str = "jsonl",
    rejected_rows: list[dict[str, str]] | None = None,
) -> list[str]:
    """Row by row: curated rows as expected in S3 and DynamoDB, rejected rows with their reasons."""
    clients, ctx = deployer.clients, deployer.ctx
    s3, bucket = clients("s3"), stack.bind(ctx).name(workflow.BUCKET)

    def lines(key: str) -> list[dict[str, Any]]:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        return [json.loads(line) for line in body.splitlines() if line]

    curated = {row["sourceLine"]: row for row in lines(counts["curatedKey"])}
    rejected = {row["line"]: row for row in lines(counts["rejectedKey"])}
    if rejected_rows is not None:
        for line, entry in sorted(rejected.items()):
            rejected_rows.append(rejected_record(f"line {line}", entry.get("reasons") or [], counts["rejectedKey"]))
    table = stack.bind(ctx).name(workflow.TABLE)
    problems = []
    for index, item in enumerate(generated):
        line = line_of(index, fmt)
        if item.expected.valid:
            want = expected_curated(item.record)
            row = curated.get(line)
            if row is None:
                problems.append(f"etl line {line}: valid but not curated")
                continue
            if {name: row.get(name) for name in want} != want:
                problems.append(f"etl line {line}: curated {row}, expected {want}")
            key = {"subscriptionId": {"S": want["subscriptionId"]}}
            item_stored = clients("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", {})
            stored = {name: value.get("S", value.get("N")) for name, value in item_stored.items()}
            if {name: stored.get(name) for name in want} != want or stored.get("sourceLine") != str(line):
                problems.append(f"etl line {line}: {table} holds {stored}, expected {want} from line {line}")
        elif line not in rejected:
            problems.append(f"etl line {line}: invalid ({', '.join(item.expected.reasons)}) but not rejected")
        elif rejected[line]["reasons"] != list(item.expected.reasons):
            problems.append(
                f"etl line {line}: rejected for {rejected[line]['reasons']}, expected {list(item.expected.reasons)}"
            )
    if len(curated) + len(rejected) != len(generated):
        problems.append(f"etl: {len(curated)} curated + {len(rejected)} rejected != {len(generated)} rows")
    return problems
