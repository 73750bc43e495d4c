"""A stack: the resources of one or more workflows, checked and expanded.

Expansion adds what every resource implies, so workflows declare only what they mean:
each function, state machine and rule gets a role of its own, and each S3 notification
a Lambda permission for the bucket. Refs are resolved and ASL is filled in here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from serverless_testbed.errors import StackError as StackError  # defined with the other errors; imported from here too
from serverless_testbed.stack.model import (
    Bucket,
    Context,
    Function,
    Permission,
    Ref,
    Resource,
    Role,
    Rule,
    StateMachine,
    Value,
)

R = TypeVar("R", bound=Resource)
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Stack:
    """Every resource by logical name, derived roles and permissions included."""

    resources: tuple[Resource, ...]

    @classmethod
    def of(cls, *groups: Iterable[Resource]) -> Stack:
        declared = [resource for group in groups for resource in group]
        stack = cls(tuple(declared + list(_derived(declared))))
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

    def environment(self, function: Function, ctx: Context) -> dict[str, str]:
        return {key: self.resolve(value, ctx) for key, value in sorted(function.environment.items())}

    def definition(self, machine: StateMachine, ctx: Context) -> dict[str, Any]:
        """The ASL of `machine` with every `${Key}` filled in."""
        values = {key: self.resolve(value, ctx) for key, value in machine.substitutions.items()}
        text = machine.template()

        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in values:
                raise StackError(f"{machine.asl}: no substitution for ${{{key}}} in {machine.name}")
            return values[key]

        unused = sorted(set(values) - set(_PLACEHOLDER.findall(text)))
        if unused:
            raise StackError(f"{machine.asl}: substitutions {', '.join(unused)} of {machine.name} are never used")
        definition: dict[str, Any] = json.loads(_PLACEHOLDER.sub(fill, text))
        return definition


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


def _derived(declared: list[Resource]) -> Iterable[Resource]:
    for resource in declared:
        if isinstance(resource, Function):
            yield Role(resource.role_name, service="lambda.amazonaws.com")
        elif isinstance(resource, StateMachine):
            yield Role(resource.role_name, service="states.amazonaws.com")
        elif isinstance(resource, Rule):
            yield Role(resource.role_name, service="events.amazonaws.com")
        elif isinstance(resource, Bucket):
            for notification in resource.notifications:
                yield Permission(
                    f"{resource.name}-invokes-{notification.function}",
                    function=notification.function,
                    principal="s3.amazonaws.com",
                    source_arn=Ref(resource.name),
                )


def role_owner(stack: Stack, role: Role) -> Resource | None:
    """The function, state machine or rule a derived role belongs to."""
    for resource in stack.resources:
        if getattr(resource, "role_name", None) == role.name:
            return resource
    return None


def must_exist_first(resource: Resource, stack: Stack) -> set[str]:
    """The logical names that must exist before `resource` can be created: its role, the
    function a permission is for, the permissions of the functions a bucket notifies (S3
    refuses a notification it cannot deliver), the state machine a rule starts. Other
    Refs are plain names and ARNs (in policies, environment, ASL) and order nothing."""
    needed: set[str] = set()
    if isinstance(resource, Function | StateMachine | Rule):
        needed.add(resource.role_name)
    if isinstance(resource, Permission):
        needed.add(resource.function)
    if isinstance(resource, Rule):
        needed.add(resource.target)
    if isinstance(resource, Bucket):
        needed |= {
            p.name
            for p in stack.of_kind(Permission)
            if isinstance(p.source_arn, Ref) and p.source_arn.resource == resource.name
        }
    return needed
