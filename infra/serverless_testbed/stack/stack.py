"""A stack: the resources of one or more workflows, checked and expanded.

Expansion adds what every resource implies (each kind's `implied_by`), so workflows
declare only what they mean: each function, state machine and rule gets a role of its
own, each S3 notification a Lambda permission for the bucket. Refs are resolved here, and the
order of creation comes from the references between resources (`creation_order`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from serverless_testbed.errors import StackError as StackError  # defined with the other errors; imported from here too
from serverless_testbed.stack.resource import Context, Ref, Resource, Value

R = TypeVar("R", bound=Resource)


@dataclass(frozen=True)
class Stack:
    """Every resource by logical name, derived roles and permissions included."""

    resources: tuple[Resource, ...]

    @classmethod
    def of(cls, *groups: Iterable[Resource]) -> Stack:
        from serverless_testbed.stack.kinds import KINDS

        declared = [resource for group in groups for resource in group]
        implied = [made for resource in declared for kind in KINDS for made in kind.implied_by(resource)]
        stack = cls(tuple(declared + implied))
        stack.check()
        return stack

    def check(self) -> None:
        seen: set[str] = set()
        for resource in self.resources:
            if resource.name in seen:
                raise StackError(f"two resources are named {resource.name!r}")
            seen.add(resource.name)
        for resource in self.resources:
            for ref in resource.refs():
                if ref.resource not in seen:
                    raise StackError(f"{resource.kind} {resource.name} refers to unknown {ref.resource!r}")

    def get(self, name: str) -> Resource:
        for resource in self.resources:
            if resource.name == name:
                return resource
        raise KeyError(name)

    def bind(self, ctx: Context) -> Deployed:
        """This stack's names and ARNs as deployed in `ctx`: `stack.bind(ctx).name(TABLE)`."""
        return Deployed(self, ctx)

    def of_kind(self, kind: type[R]) -> list[R]:
        return [r for r in self.resources if type(r) is kind]

    def resolve(self, value: Value, ctx: Context) -> str:
        if isinstance(value, Ref):
            return self.get(value.resource).attribute(ctx, value.attr) + value.suffix
        return value

    def resolve_all(self, value: Any, ctx: Context) -> Any:
        """`value` with every Ref inside lists and mappings resolved."""
        if isinstance(value, Ref):
            return self.resolve(value, ctx)
        if isinstance(value, Mapping):
            return {key: self.resolve_all(item, ctx) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.resolve_all(item, ctx) for item in value]
        return value


@dataclass(frozen=True)
class Deployed:
    """A stack bound to where it is deployed: physical names and ARNs by logical name."""

    stack: Stack
    ctx: Context

    def name(self, logical: str) -> str:
        """The deployed name of the resource called `logical` in the model."""
        return self.stack.get(logical).physical(self.ctx)

    def arn(self, logical: str) -> str:
        """The ARN of the resource called `logical` in the model."""
        return self.stack.get(logical).arn(self.ctx)

    def attribute(self, logical: str, attr: str) -> str:
        """Any attribute a Ref can name (`name`, `arn`, `url`...)."""
        return self.stack.get(logical).attribute(self.ctx, attr)


def role_owner(stack: Stack, role: str) -> Resource | None:
    """The function, state machine or rule the derived role named `role` belongs to."""
    for resource in stack.resources:
        if resource.role_service and resource.role_name == role:
            return resource
    return None


def creation_order(stack: Stack) -> list[Resource]:
    """Every resource after those it depends on (`depends_on`, which AWS checks on creation)
    and, where they form no cycle, after those it refers to (`refs`: names and ARNs in
    environments, ASL and policies, which AWS does not check); otherwise in the stack's
    order. Destroy goes the other way. A cycle of `depends_on` is a StackError."""
    hard = {r.name: r.depends_on(stack) for r in stack.resources}
    soft = {r.name: {ref.resource for ref in r.refs()} - {r.name} for r in stack.resources}
    for name, needed in hard.items():
        unknown = needed - set(hard)
        if unknown:
            raise StackError(f"{stack.get(name).kind} {name} needs {', '.join(sorted(unknown))}, not in the stack")
    done: set[str] = set()
    order: list[Resource] = []
    remaining = list(stack.resources)
    while remaining:
        ready = [r for r in remaining if hard[r.name] <= done]
        if not ready:
            names = ", ".join(sorted(r.name for r in remaining))
            raise StackError(f"these resources each need another of them to exist first: {names}")
        # The first whose references all exist; with none (a cycle of references), the first ready.
        chosen = next((r for r in ready if soft[r.name] <= done), ready[0])
        order.append(chosen)
        done.add(chosen.name)
        remaining.remove(chosen)
    return order
