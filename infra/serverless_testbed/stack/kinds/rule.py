"""EventBridge rules on the default bus starting a state machine when an event matches."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.stack.calls import Call
from serverless_testbed.stack.resource import Context, Document, Ref, Resource, State, allow, canonical_json
from serverless_testbed.stack.stack import Stack


@dataclass(frozen=True)
class Rule(Resource):
    """An EventBridge rule on the default bus starting one state machine."""

    pattern: Mapping[str, Any] = field(default_factory=dict)
    target: str = ""  # a state machine's logical name
    input_path: str | None = None

    kind = "rule"
    services = ("events",)
    name_limit = ("EventBridge rule", 64)
    role_service = "events.amazonaws.com"

    def arn(self, ctx: Context) -> str:
        return ctx.arn("events", f"rule/{self.physical(ctx)}")

    def refs(self) -> Iterator[Ref]:
        yield Ref(self.target)

    def depends_on(self, stack: Stack) -> set[str]:
        return {self.role_name, self.target}

    def role_statements(self, stack: Stack, ctx: Context) -> Iterator[tuple[str, Document]]:
        yield self.role_name, allow(["states:StartExecution"], [stack.get(self.target).arn(ctx)])

    def trust_source_arn(self, ctx: Context) -> str:
        return self.arn(ctx)

    def targets(self, stack: Stack, ctx: Context) -> list[dict[str, str]]:
        target = {"Id": "target", "Arn": stack.get(self.target).arn(ctx), "RoleArn": stack.get(self.role_name).arn(ctx)}
        if self.input_path:
            target["InputPath"] = self.input_path
        return [target]

    def desired(self, stack: Stack, ctx: Context) -> State:
        return {
            "pattern": canonical_json(stack.resolve_all(self.pattern, ctx)),
            "targets": canonical_json(self.targets(stack, ctx)),
        }

    def read(self, clients: Clients, ctx: Context) -> State:
        events = clients("events")
        name = self.physical(ctx)
        found = events.describe_rule(Name=name)
        targets: list[Any] = events.list_targets_by_rule(Rule=name)["Targets"]
        keep = ("Id", "Arn", "RoleArn", "InputPath")
        return {
            "pattern": canonical_json(json.loads(found["EventPattern"])),
            "targets": canonical_json([{k: t[k] for k in keep if k in t} for t in targets]),
        }

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        return put_rule(self.physical(ctx), {"EventPattern": desired["pattern"]}, self.targets(stack, ctx))

    def update(self, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
        return self.create(stack, ctx, desired)

    def delete(self, ctx: Context, current: State) -> list[Call]:
        return delete_rule(self.physical(ctx))

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        return {
            "Type": "AWS::Events::Rule",
            "Name": self.physical(ctx),
            "State": "ENABLED",
            "EventPattern": stack.resolve_all(self.pattern, ctx),
            "Targets": self.targets(stack, ctx),
        }


def put_rule(name: str, trigger: dict[str, Any], targets: list[dict[str, str]]) -> list[Call]:
    """Create or update rule `name` (`trigger`: its EventPattern or ScheduleExpression), enabled,
    with `targets` (EventBridge's PutRule and PutTargets both overwrite what is there)."""
    return [
        Call("events", "put_rule", {"Name": name, **trigger, "State": "ENABLED"}),
        Call("events", "put_targets", {"Rule": name, "Targets": targets}),
    ]


def delete_rule(name: str) -> list[Call]:
    """Remove rule `name`'s one target, then the rule (EventBridge refuses a rule with targets)."""
    return [
        Call("events", "remove_targets", {"Rule": name, "Ids": ["target"]}, gone_ok=True),
        Call("events", "delete_rule", {"Name": name}, gone_ok=True),
    ]
