"""Spec, then plan: compare each resource's desired state with what the target has,
and list the API calls that close the gap. Nothing here calls AWS; the current state
comes from a `Remote` (the real one reads through boto3, tests pass a fake).

Each kind has a desired form (`serverless_testbed.stack.desired`) that the remote reads back in the
same shape, so a comparison of the two names every difference; the calls for each kind
are in `serverless_testbed.stack.calls`. Keys starting with `_` are facts about the existing resource
(an API id) and are not compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from serverless_testbed.stack.calls import CREATE, DELETE, UPDATE, Call, short
from serverless_testbed.stack.desired import State, desired_state
from serverless_testbed.stack.model import (
    Bucket,
    Context,
    Function,
    Permission,
    Queue,
    Resource,
    RestApi,
    Role,
    Rule,
    RuntimeTopic,
    StateMachine,
    Stream,
    Table,
    Topic,
)
from serverless_testbed.stack.stack import Stack

# Deploy order: what is referenced comes before what refers to it. Destroy reverses it.
# Buckets follow functions and permissions: S3 refuses a notification to a Lambda
# function that does not exist or may not be invoked by S3.
ORDER: tuple[type[Resource], ...] = (
    Role,
    Table,
    Queue,
    Topic,
    RuntimeTopic,
    Stream,
    Function,
    Permission,
    Bucket,
    StateMachine,
    Rule,
    RestApi,
)
Action = Literal["create", "update", "delete"]


class Remote(Protocol):
    """What the target already has: `describe` returns the desired-shaped state or None."""

    def describe(self, resource: Resource, stack: Stack, ctx: Context) -> State | None: ...


@dataclass(frozen=True)
class Change:
    action: Action
    kind: str
    name: str
    calls: tuple[Call, ...]
    reasons: tuple[str, ...] = ()


def plan(stack: Stack, remote: Remote, ctx: Context) -> list[Change]:
    """The changes that make the target match `stack`; empty when it already does."""
    changes: list[Change] = []
    for kind in ORDER:
        for resource in stack.of_kind(kind):
            if isinstance(resource, Stream | RuntimeTopic) and _made_at_run_time(resource):
                continue
            desired = desired_state(resource, stack, ctx)
            current = remote.describe(resource, stack, ctx)
            if current is None:
                calls = CREATE[kind](resource, stack, ctx, desired)
                changes.append(Change("create", resource.kind, resource.physical(ctx), tuple(calls)))
                continue
            reasons = tuple(_differences(desired, current))
            if reasons:
                calls = UPDATE[kind](resource, stack, ctx, desired, current)
                changes.append(Change("update", resource.kind, resource.physical(ctx), tuple(calls), reasons))
    return changes


def destroy_plan(stack: Stack, remote: Remote, ctx: Context) -> list[Change]:
    """Delete calls for every resource of `stack` the target has, in reverse order."""
    changes: list[Change] = []
    for kind in reversed(ORDER):
        for resource in stack.of_kind(kind):
            current = remote.describe(resource, stack, ctx)
            if current is not None:
                calls = DELETE[kind](resource, ctx, current)
                changes.append(Change("delete", resource.kind, resource.physical(ctx), tuple(calls)))
    return changes


def _made_at_run_time(resource: Resource) -> bool:
    return isinstance(resource, RuntimeTopic) or (isinstance(resource, Stream) and resource.created_by_workflow)


def _differences(desired: State, current: State) -> Iterator[str]:
    for key, value in desired.items():
        if key.startswith("_"):
            continue
        if current.get(key) != value:
            yield f"{key}: {short(current.get(key))} -> {short(value)}"
