"""What a target already has, read through boto3 in the planner's desired shape (each
kind's `read`), many resources at once."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from botocore.exceptions import ClientError
from serverless_testbed.clients import Clients
from serverless_testbed.stack.answers import absent
from serverless_testbed.stack.resource import Context, Resource, State
from serverless_testbed.stack.stack import Stack

# Reads in flight at once: each is one to three small requests; more would only queue at the target.
READ_THREADS = 8


class BotoRemote:
    """Reads each resource with the describe calls of its service; None when absent.

    `read_ahead` starts the reads of many resources at once (boto3 clients are thread-safe);
    `describe` then answers from them, an error raised where that resource is described."""

    def __init__(self, clients: Clients) -> None:
        self.client = clients
        self._ahead: dict[int, tuple[Resource, Future[State | None]]] = {}

    def read_ahead(self, resources: Iterable[Resource], stack: Stack, ctx: Context) -> None:
        """Read `resources` concurrently (READ_THREADS at a time) and keep each answer for
        the one `describe` of that resource; returns when all are read."""
        wanted = [resource for resource in resources if id(resource) not in self._ahead]
        for service in sorted({service for resource in wanted for service in resource.services}):
            self.client(service)  # clients are made here, one at a time: a boto3 session is not thread-safe
        with ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="describe") as pool:
            for resource in wanted:
                self._ahead[id(resource)] = (resource, pool.submit(self._read, resource, stack, ctx))

    def describe(self, resource: Resource, stack: Stack, ctx: Context) -> State | None:
        ahead = self._ahead.pop(id(resource), None)
        if ahead is not None and ahead[0] is resource:
            return ahead[1].result()  # the read's answer, or its error raised here
        return self._read(resource, stack, ctx)

    def _read(self, resource: Resource, stack: Stack, ctx: Context) -> State | None:
        try:
            return resource.read(self.client, ctx)
        except ClientError as err:
            if absent(err):
                return None
            raise
