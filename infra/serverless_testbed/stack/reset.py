"""Empty a deployed stack's data and keep its resources: what a test session on a reused
engine does to the stacks its slot kept deployed (infra/serverless_testbed/engine/reuse.py), so its tests
start from the empty tables, queues and buckets a fresh deploy gives them.

Kept as they are: state machine executions (they cannot be deleted; coverage counts only
a session's own), log groups, and records already in Kinesis streams.
"""

from __future__ import annotations

from typing import Any

from serverless_testbed.batch_write import batch_write
from serverless_testbed.clients import Clients
from serverless_testbed.stack.executor import empty_bucket
from serverless_testbed.stack.model import Bucket, Context, Queue, Table
from serverless_testbed.stack.stack import Stack


def empty_table(dynamodb: Any, name: str, table: Table) -> int:
    """Delete every item of table `name`; returns how many."""
    keys = [table.hash_key] + ([table.range_key] if table.range_key else [])
    names = {f"#k{i}": key for i, key in enumerate(keys)}
    deleted = 0
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=name, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names, ConsistentRead=True
    )
    for page in pages:
        batch_write(dynamodb, name, [{"DeleteRequest": {"Key": key}} for key in page["Items"]])
        deleted += len(page["Items"])
    return deleted


def reset_data(clients: Clients, stack: Stack, ctx: Context) -> dict[str, int]:
    """Empty every table, queue and bucket of `stack` (deployed in `ctx`); returns the
    items and objects deleted per resource name (queues are purged: no count)."""
    bound = stack.bind(ctx)
    deleted: dict[str, int] = {}
    for resource in stack.resources:
        name = bound.name(resource.name)
        if isinstance(resource, Table):
            deleted[name] = empty_table(clients("dynamodb"), name, resource)
        elif isinstance(resource, Queue):
            sqs = clients("sqs")
            sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
        elif isinstance(resource, Bucket):
            deleted[name] = empty_bucket(clients("s3"), name)["deleted"]
    return deleted
