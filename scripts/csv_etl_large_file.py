"""Full-size check of the CSV ETL on one large file (too slow for the test suite).

    .venv/bin/python scripts/csv_etl_large_file.py [--rows 700000] [--load-timeout SECONDS]

Starts its own embedded engine, deploys csv-etl, uploads one generated file of `--rows`
valid rows (about 73 bytes each: 700,000 rows make a 50 MB file) under source/, waits for
its execution and prints, as JSON: the outcome, the seconds it took, how many times the
load ran, and the rows found in the stage and target tables for the file's load. Every
row must be staged and transformed exactly once (or, if the run fails, none staged).
`--load-timeout` lowers the load function's timeout to make it continue in more chunks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from serverless_testbed.deploy import Deployer
from serverless_testbed.engine.embedded import EmbeddedEngine
from serverless_testbed.executions import known_executions, started_after, wait_execution
from serverless_testbed.registry import stack_for
from serverless_testbed.settings import Settings

from infra.runs.csv_etl import scheduled_attempts
from infra.workflows import csv_etl as workflow

COLUMNS = ("transaction_id", "date", "store", "product", "quantity", "unit_price", "currency")


def large_csv(rows: int, tag: str) -> bytes:
    """`rows` valid, distinct rows (plain string formatting: Faker would take minutes)."""
    lines = [",".join(COLUMNS)]
    lines += [
        f"TXL-{tag}-{i:07d},2026-{i % 12 + 1:02d}-{i % 28 + 1:02d},Store {i % 97},Product {i % 13},"
        f"{i % 9 + 1},{i % 500 + 1}.{i % 100:02d},USD"
        for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def count(clients: Any, table: str, **query: Any) -> int:
    """Items of a DynamoDB query (or a scan filter), counted page by page."""
    operation = "query" if "KeyConditionExpression" in query else "scan"
    pages = clients("dynamodb").get_paginator(operation).paginate(TableName=table, Select="COUNT", **query)
    return sum(page["Count"] for page in pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=700_000)
    parser.add_argument("--load-timeout", type=int, default=None)
    args = parser.parse_args(argv)

    settings = Settings(target="embedded", prefix=f"big{uuid.uuid4().hex[:4]}")
    engine = EmbeddedEngine(settings).start()
    try:
        deployer = Deployer.for_clients(engine.client, settings.prefix, engine.region)
        stack = stack_for(["csv-etl"])
        deployer.deploy(stack)
        clients, ctx = deployer.clients, deployer.ctx
        if args.load_timeout:
            name = stack.get(workflow.LOAD).physical(ctx)
            clients("lambda").update_function_configuration(FunctionName=name, Timeout=args.load_timeout)
            clients("lambda").get_waiter("function_updated_v2").wait(FunctionName=name)
        tag = uuid.uuid4().hex[:6]
        body = large_csv(args.rows, tag)
        key = f"{workflow.SOURCE}large-{tag}.csv"
        machine = stack.get(workflow.MACHINE).arn(ctx)
        seen = known_executions(clients, machine)
        started = time.monotonic()
        put = clients("s3").put_object(Bucket=stack.get(workflow.BUCKET).physical(ctx), Key=key, Body=body)
        arn = started_after(clients, machine, seen, timeout=60)
        execution = wait_execution(clients, arn, timeout=3600)
        seconds = time.monotonic() - started
        load_id = f"{key}#{put['ETag'].strip(chr(34))}"
        stage = count(
            clients,
            stack.get(workflow.STAGE_TABLE).physical(ctx),
            KeyConditionExpression="load_id = :l",
            ExpressionAttributeValues={":l": {"S": load_id}},
        )
        target = count(
            clients,
            stack.get(workflow.TARGET_TABLE).physical(ctx),
            FilterExpression="begins_with(transaction_id, :t)",
            ExpressionAttributeValues={":t": {"S": f"TXL-{tag}-"}},
        )
        loads = len(scheduled_attempts(execution, "LoadStage"))
        report = {
            "rows": args.rows,
            "bytes": len(body),
            "status": execution.status,
            "error": execution.error,
            "cause": (execution.cause or "")[:500],
            "path": execution.path,
            "seconds": round(seconds, 1),
            "load_invocations": loads,
            "stage_rows": stage,
            "target_rows": target,
        }
        print(json.dumps(report, indent=2))
        whole = execution.status == "SUCCEEDED" and stage == target == args.rows
        return 0 if whole or (execution.status == "FAILED" and stage == 0) else 1
    finally:
        engine.stop()


if __name__ == "__main__":
    sys.exit(main())
