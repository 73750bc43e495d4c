"""Run workflow 4 (ETL-or-streaming router) with both branches forced, and check them.

Streaming: the record read back from the Kinesis stream (from outside the state
machine) must be the feed the fetch function serves. ETL: every raw row must be
curated as the generator expects, or rejected with exactly its reasons.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from fixtures.records import Generated
from fixtures.subscriptions import expected_curated, generate_subscriptions, render_subscriptions
from infra.deploy import Deployer
from infra.executions import Execution, start, wait_execution
from infra.runs import RunOptions, RunResult
from infra.stack.stack import Stack
from infra.workflows import router as workflow

COUNTRIES = ("US", "GB", "DE", "FR", "IN", "JP", "BR", "CA")


def run(deployer: Deployer, stack: Stack, options: RunOptions) -> RunResult:
    started = time.monotonic()
    country = COUNTRIES[options.seed % len(COUNTRIES)]
    streaming, stream_problems = run_streaming(deployer, stack, country, options.seed)
    generated = generate_subscriptions(options.records, options.invalid_rate, options.seed)
    etl, etl_problems = run_etl(deployer, stack, generated)
    counts = {"streamed": int(streaming.succeeded), "rows": len(generated)}
    if isinstance(etl.output, dict):
        counts |= {k: int(etl.output["output"]["counts"][k]) for k in ("curated", "rejected")}
    return RunResult("router", [streaming, etl], counts, time.monotonic() - started, stream_problems + etl_problems)


def machine(deployer: Deployer, stack: Stack) -> str:
    return stack.get(workflow.ROUTER).arn(deployer.ctx)


def run_streaming(deployer: Deployer, stack: Stack, country: str, seed: int) -> tuple[Execution, list[str]]:
    payload = {"branch": "streaming", "country": country, "seed": seed, "email": f"data-team+{seed}@example.com"}
    execution = wait_execution(
        deployer.clients, start(deployer.clients, machine(deployer, stack), payload), timeout=180
    )
    if not execution.succeeded:
        return execution, [f"streaming: {execution.status} {execution.error}: {execution.cause}"]
    output = execution.output["output"]
    record = read_record(deployer, stack, output["shardId"], output["sequenceNumber"])
    problems = []
    if record is None:
        problems.append(f"streaming: no record {output['sequenceNumber']} in {output['shardId']}")
    elif record.get("country") != country or len(record.get("plans", [])) != output["plans"]:
        problems.append(f"streaming: the stream holds {record!r:.200}, not the {country} feed")
    return execution, problems


def read_record(deployer: Deployer, stack: Stack, shard_id: str, sequence_number: str) -> dict[str, Any] | None:
    """The record at (shard, sequence number), read with the Kinesis API."""
    kinesis = deployer.clients("kinesis")
    iterator = kinesis.get_shard_iterator(
        StreamName=stack.get(workflow.STREAM).physical(deployer.ctx),
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


def run_etl(deployer: Deployer, stack: Stack, generated: list[Generated]) -> tuple[Execution, list[str]]:
    clients, ctx = deployer.clients, deployer.ctx
    bucket = stack.get(workflow.BUCKET).physical(ctx)
    key = f"{workflow.RAW}subscriptions-{uuid.uuid4().hex[:8]}.jsonl"
    clients("s3").put_object(Bucket=bucket, Key=key, Body=render_subscriptions(generated).encode())
    payload = {"branch": "etl", "rawKey": key}
    execution = wait_execution(clients, start(clients, machine(deployer, stack), payload), timeout=180)
    if not execution.succeeded:
        return execution, [f"etl: {execution.status} {execution.error}: {execution.cause}"]
    return execution, check_etl(deployer, stack, generated, execution.output["output"]["counts"])


def check_etl(deployer: Deployer, stack: Stack, generated: list[Generated], counts: dict[str, Any]) -> list[str]:
    """Row by row: curated rows as expected in S3 and DynamoDB, rejected rows with their reasons."""
    clients, ctx = deployer.clients, deployer.ctx
    s3, bucket = clients("s3"), stack.get(workflow.BUCKET).physical(ctx)

    def lines(key: str) -> list[dict[str, Any]]:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        return [json.loads(line) for line in body.splitlines() if line]

    curated = {row["sourceLine"]: row for row in lines(counts["curatedKey"])}
    rejected = {row["line"]: row for row in lines(counts["rejectedKey"])}
    table = stack.get(workflow.TABLE).physical(ctx)
    problems = []
    for line, item in enumerate(generated, start=1):
        if item.expected.valid:
            row = curated.get(line)
            want = expected_curated(item.record)
            if row is None:
                problems.append(f"etl line {line}: valid but not curated")
            elif {k: row[k] for k in want} != want:
                problems.append(f"etl line {line}: curated {row}, expected {want}")
            else:
                stored = clients("dynamodb").get_item(
                    TableName=table, Key={"subscriptionId": {"S": item.record["subscriptionId"]}}
                )
                if stored.get("Item", {}).get("priceUsd", {}).get("S") != want["priceUsd"]:
                    problems.append(f"etl line {line}: not in {table} as curated")
        elif line not in rejected:
            problems.append(f"etl line {line}: invalid ({item.expected.reasons}) but not rejected")
        elif rejected[line]["reasons"] != list(item.expected.reasons):
            problems.append(
                f"etl line {line}: rejected for {rejected[line]['reasons']}, expected {item.expected.reasons}"
            )
    if len(curated) + len(rejected) != len(generated):
        problems.append(f"etl: {len(curated)} curated + {len(rejected)} rejected != {len(generated)} rows")
    return problems
