"""Workflow 4, the ETL-or-streaming router.

The router picks a branch with `States.MathRandom` (an explicit `branch` in the input
wins) and runs it as a nested execution it waits for. Streaming: fetch subscription
prices (a seeded feed in place of a paid web API), find or create the Kinesis
stream and wait for it to be active, put the record, find or create the SNS topic with
an email subscription, publish the record's ShardId and SequenceNumber. ETL: a Lambda
(a Glue job's work, as a Lambda) turns a raw subscription file (JSON lines or CSV under raw/) into
curated rows, in S3 and DynamoDB, rejected rows with their reasons beside them. A branch
that fails fails the router with `BranchFailed`, the branch's own error and cause in it.
"""

from __future__ import annotations

from serverless_testbed.stack.model import (
    Bucket,
    Function,
    Ref,
    Resource,
    RuntimeTopic,
    StateMachine,
    Statement,
    Stream,
    Table,
)
from serverless_testbed.workflow import Workflow

BUCKET = "subscription-data"
TABLE = "curated-subscriptions"
STREAM = "subscription-stream"
TOPIC = "subscription-updates"
FETCH = "fetch-subscriptions"
TRANSFORM = "transform-subscriptions"
ROUTER = "etl-or-streaming"
STREAMING = "streaming-branch"
ETL = "etl-branch"
RAW, CURATED, REJECTED = "raw/", "curated/", "rejected/"


def resources() -> list[Resource]:
    return [
        Bucket(BUCKET),
        Table(TABLE, hash_key="subscriptionId"),
        Stream(STREAM, created_by_workflow=True),
        RuntimeTopic(TOPIC),
        Function(FETCH, source="router_fetch", timeout=10),
        Function(
            TRANSFORM,
            source="router_transform",
            timeout=60,
            memory=512,
            environment={"TABLE_NAME": Ref(TABLE, "name"), "CURATED_PREFIX": CURATED, "REJECTED_PREFIX": REJECTED},
            grants=(
                Statement(("s3:GetObject",), (Ref(BUCKET, suffix=f"/{RAW}*"),)),
                # Without ListBucket a missing raw file reads as AccessDenied on AWS, not NoSuchKey.
                Statement(("s3:ListBucket",), (Ref(BUCKET),)),
                Statement(("s3:PutObject",), (Ref(BUCKET, suffix=f"/{CURATED}*"), Ref(BUCKET, suffix=f"/{REJECTED}*"))),
                Statement(("dynamodb:BatchWriteItem",), (Ref(TABLE),)),
            ),
        ),
        StateMachine(
            STREAMING,
            asl="router_streaming.asl.json",
            substitutions={
                "FetchFunctionArn": Ref(FETCH),
                "StreamName": Ref(STREAM, "name"),
                "TopicName": Ref(TOPIC, "name"),
                "TopicArn": Ref(TOPIC),
            },
        ),
        StateMachine(
            ETL,
            asl="router_etl.asl.json",
            substitutions={"TransformFunctionArn": Ref(TRANSFORM), "DataBucket": Ref(BUCKET, "name")},
        ),
        StateMachine(
            ROUTER,
            asl="router.asl.json",
            substitutions={"StreamingMachineArn": Ref(STREAMING), "EtlMachineArn": Ref(ETL)},
        ),
    ]


WORKFLOW = Workflow(
    name="router",
    summary="ETL or streaming: States.MathRandom router, Kinesis and SNS on demand, a Lambda ETL",
    resources=resources,
    generator="fixtures.subscriptions:generate_subscriptions",
    runner="infra.runs.router:run",
    trigger="start-execution of the router (streaming or ETL branch)",
    renderer="fixtures.subscriptions:render_subscriptions",
    formats=("jsonl", "csv"),
)
