"""Spec, then plan: compare each resource's desired state with what the target has,
and list the API calls that close the gap. Nothing here calls AWS; the current state
comes from a `Remote` (the real one reads through boto3, tests pass a fake).

Each kind gives its desired state (`Resource.desired`) in the shape its `read` reports,
so a comparison of the two names every difference, and the calls that create, update or
delete it. Keys starting with `_` are facts about the existing resource (an API id) and
are not compared. Resources come in creation order (`stack.creation_order`); destroy
reverses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from serverless_testbed.stack.calls import Call, short
from serverless_testbed.stack.resource import Context, Resource, State
from serverless_testbed.stack.stack import Stack, creation_order

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
    for resource in creation_order(stack):
        if resource.made_at_run_time:
            continue
        desired = resource.desired(stack, ctx)
        current = remote.describe(resource, stack, ctx)
        if current is None:
            calls = resource.create(stack, ctx, desired)
            changes.append(Change("create", resource.kind, resource.physical(ctx), tuple(calls)))
            continue
        reasons = tuple(_differences(desired, current))
        if reasons:
            calls = resource.update(stack, ctx, desired, current)
            changes.append(Change("update", resource.kind, resource.physical(ctx), tuple(calls), reasons))
    return changes


def destroy_plan(stack: Stack, remote: Remote, ctx: Context) -> list[Change]:
    """Delete calls for every resource of `stack` the target has, in reverse order."""
    changes: list[Change] = []
    for resource in reversed(creation_order(stack)):
        current = remote.describe(resource, stack, ctx)
        if current is not None:
            calls = resource.delete(ctx, current)
            changes.append(Change("delete", resource.kind, resource.physical(ctx), tuple(calls)))
    return changes


def _differences(desired: State, current: State) -> Iterator[str]:
    for key, value in desired.items():
        if key.startswith("_"):
            continue
        if current.get(key) != value:
            yield f"{key}: {short(current.get(key))} -> {short(value)}"
