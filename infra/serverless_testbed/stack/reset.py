"""Empty a deployed stack's data and keep its resources: what a test session on a reused
engine does to the stacks its slot kept deployed (infra/serverless_testbed/engine/reuse.py), so its tests
start from the empty tables, queues and buckets a fresh deploy gives them (each kind's `empty`).

Kept as they are: state machine executions (they cannot be deleted; coverage counts only
a session's own), log groups, and records already in Kinesis streams.
"""

from __future__ import annotations

from serverless_testbed.clients import Clients
from serverless_testbed.stack.resource import Context
from serverless_testbed.stack.stack import Stack


def reset_data(clients: Clients, stack: Stack, ctx: Context) -> dict[str, int]:
    """Empty every table, queue and bucket of `stack` (deployed in `ctx`); returns the
    items and objects deleted per resource name (queues are purged: no count)."""
    deleted: dict[str, int] = {}
    for resource in stack.resources:
        count = resource.empty(clients, ctx)
        if count is not None:
            deleted[resource.physical(ctx)] = count
    return deleted
