"""Event source mapping hops on a fresh, idle embedded engine: numbers to print, never assertions.

    .venv/bin/python scripts/bench_event_source_mappings.py [--records 15] [--idle 20] [--setting NAME=VALUE ...]

One Python function is mapped to an SQS queue, a Kinesis stream and a DynamoDB table's stream;
it writes the time it was invoked into a table. A record is sent, one at a time, after a pause
longer than a poll interval (so every record meets an idle mapping, as a test's first record
does) plus a random fraction of a second (so records meet the pollers at every phase of their
rate, as a test's do); its hop is the function's time minus the time it was sent (one clock).
Prints the median and slowest hop per source, and the engine's CPU (all its processes, per
cent of one core) over `--idle` seconds with no mapping, then with the three mappings idle.
`--setting` starts the engine with LocalStack settings (e.g. LocalStack's own pacing:
LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC=10, to compare).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from serverless_testbed.engine.embedded import EmbeddedEngine, engine_processes
from serverless_testbed.packaging import zip_files
from serverless_testbed.settings import Settings
from serverless_testbed.waiting import wait_for

HANDLER = """
import os, time, boto3
table = boto3.resource("dynamodb").Table(os.environ["HOPS_TABLE"])
def handler(event, context):
    now = time.time()
    for record in event["Records"]:
        ident = record.get("body") or record.get("kinesis", {}).get("partitionKey")
        ident = ident or record["dynamodb"]["Keys"]["id"]["S"]
        table.put_item(Item={"id": "hop-" + ident, "at": str(now)})
"""
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def idle_cpu_percent(engine: EmbeddedEngine, seconds: float) -> float:
    assert engine.record is not None
    pids = engine_processes(engine.record.engine_id, engine.record.root)
    before, started = cpu_seconds(pids), time.monotonic()
    time.sleep(seconds)  # the measuring window itself, not a wait for a condition
    return 100 * (cpu_seconds(pids) - before) / (time.monotonic() - started)


def table(ddb: Any, name: str, stream: bool) -> str:
    extra: dict[str, Any] = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}}
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **(extra if stream else {}),
    )
    return str(ddb.describe_table(TableName=name)["Table"].get("LatestStreamArn", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=15, help="records timed per source")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of each idle CPU measure")
    parser.add_argument("--pause", type=float, default=3.0, help="seconds between records (idle mappings)")
    parser.add_argument("--setting", action="append", default=[], help="NAME=VALUE for the engine")
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.setting)
    engine = EmbeddedEngine(Settings(target="embedded"), extra_env=settings).start()
    try:
        client = engine.client
        iam, lam, sqs, kinesis, ddb = (client(name) for name in ("iam", "lambda", "sqs", "kinesis", "dynamodb"))
        results: dict[str, Any] = {"cpu_idle_no_mappings_percent": idle_cpu_percent(engine, args.idle)}
        role = iam.create_role(RoleName="esm-bench", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        iam.put_role_policy(RoleName="esm-bench", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
        table(ddb, "esm-hops", stream=False)
        source_stream = table(ddb, "esm-source", stream=True)
        queue_url = sqs.create_queue(QueueName="esm-source")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        kinesis.create_stream(StreamName="esm-source", ShardCount=1)
        wait_for(
            lambda: (
                kinesis.describe_stream_summary(StreamName="esm-source")["StreamDescriptionSummary"]["StreamStatus"]
                == "ACTIVE"
            ),
            timeout=120,
            what="the stream to be ACTIVE",
        )
        stream_arn = kinesis.describe_stream_summary(StreamName="esm-source")["StreamDescriptionSummary"]["StreamARN"]
        lam.create_function(
            FunctionName="esm-bench",
            Runtime="python3.12",
            Role=role,
            Handler="hop.handler",
            Code={"ZipFile": zip_files({"hop.py": HANDLER})},
            Environment={"Variables": {"HOPS_TABLE": "esm-hops"}},
            Timeout=30,
        )
        wait_for(lambda: lam.get_function(FunctionName="esm-bench")["Configuration"]["State"] == "Active", timeout=60)
        for arn, extra in (
            (queue_arn, {"BatchSize": 1}),
            (stream_arn, {"StartingPosition": "LATEST", "BatchSize": 1}),
            (source_stream, {"StartingPosition": "LATEST", "BatchSize": 1}),
        ):
            uuid_ = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="esm-bench", **extra)["UUID"]
            wait_for(lambda u=uuid_: lam.get_event_source_mapping(UUID=u)["State"] == "Enabled", timeout=60)
        time.sleep(args.pause)  # let every mapping start its first poll and find nothing

        senders = {
            "sqs": lambda ident: sqs.send_message(QueueUrl=queue_url, MessageBody=ident),
            "kinesis": lambda ident: kinesis.put_record(StreamName="esm-source", Data=b"{}", PartitionKey=ident),
            "dynamodb": lambda ident: ddb.put_item(TableName="esm-source", Item={"id": {"S": ident}}),
        }
        for source, send in senders.items():
            hops = []
            for _ in range(args.records):
                ident = uuid.uuid4().hex
                sent = time.time()
                send(ident)
                item = wait_for(
                    lambda i=ident: ddb.get_item(TableName="esm-hops", Key={"id": {"S": f"hop-{i}"}}).get("Item"),
                    timeout=60,
                    interval=0.01,
                    max_interval=0.05,
                    what=f"the {source} record {ident} at the function",
                )
                hops.append(float(item["at"]["S"]) - sent)
                time.sleep(args.pause + random.random())  # an idle mapping meets the next record, at any phase
            results[f"{source}_hop_median_s"] = statistics.median(hops)
            results[f"{source}_hop_max_s"] = max(hops)
        results["cpu_idle_three_mappings_percent"] = idle_cpu_percent(engine, args.idle)
    finally:
        engine.stop()
    for key, value in results.items():
        print(f"{key:36} {value:8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
