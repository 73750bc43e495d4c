"""Schedules: an EventBridge rule with a schedule expression that starts a state machine
or invokes a function (EventBridge's "rules that run on a schedule")."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.errors import StackError
from serverless_testbed.stack.calls import Call
from serverless_testbed.stack.kinds.rule import delete_rule, put_rule
from serverless_testbed.stack.resource import Context, Document, Ref, Resource, State, Value, allow, canonical_json
from serverless_testbed.stack.stack import Stack

# EventBridge's two forms: rate(value unit) and cron(six fields) (EventBridge user guide,
# "Creating an Amazon EventBridge rule that runs on a schedule").
_EXPRESSION = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))$")


@dataclass(frozen=True)
class Schedule(Resource):
    """Every `expression` (`rate(5 minutes)`, `cron(0 6 * * ? *)`), start `state_machine` or
    invoke `function` (logical names; one of the two) with `input` as the event."""

    expression: str = "rate(1 hour)"
    state_machine: str = ""
    function: str = ""
    input: Mapping[str, Any] | None = None

    kind = "schedule"
    services = ("events",)
    name_limit = ("EventBridge rule", 64)

    def __post_init__(self) -> None:
        if bool(self.state_machine) == bool(self.function):
            raise StackError(f"schedule {self.name}: give a state machine or a function to run, one of the two")
        if not _EXPRESSION.match(self.expression):
            raise StackError(
                f"schedule {self.name}: {self.expression!r} is not an EventBridge schedule expression "
                "(rate(5 minutes) or cron(minutes hours day-of-month month day-of-week year))"
            )
        rate = re.match(r"^rate\((\d+) (\w+)\)$", self.expression)
        if rate and (int(rate.group(1)) == 1) == rate.group(2).endswith("s"):
            raise StackError(
                f"schedule {self.name}: {self.expression!r}: EventBridge wants the unit singular for 1 "
                "and plural above (rate(1 minute), rate(5 minutes))"
            )
        if rate and int(rate.group(1)) == 0:
            raise StackError(f"schedule {self.name}: {self.expression!r}: the rate must be at least 1")

    @property
    def target(self) -> str:
        return self.state_machine or self.function

    def arn(self, ctx: Context) -> str:
        return ctx.arn("events", f"rule/{self.physical(ctx)}")

    def refs(self) -> Iterator[Ref]:
        yield Ref(self.target)

    @property
    def role_service(self) -> str | None:  # type: ignore[override]
        """EventBridge starts an execution with a role of the schedule's own..."""
        return "events.amazonaws.com" if self.state_machine else None

    def invokes(self) -> Iterator[tuple[str, str, str, Value]]:
        """...and invokes a function by the function's resource policy."""
        if self.function:
            yield self._permission_name(), self.function, "events.amazonaws.com", Ref(self.name)

    def _permission_name(self) -> str:
        return f"{self.name}-invokes-{self.function}"

    def depends_on(self, stack: Stack) -> set[str]:
        return {self.target, self.role_name if self.state_machine else self.function}

    def role_statements(self, stack: Stack, ctx: Context) -> Iterator[tuple[str, Document]]:
        if self.state_machine:
            yield self.role_name, allow(["states:StartExecution"], [stack.get(self.state_machine).arn(ctx)])

    def trust_source_arn(self, ctx: Context) -> str:
        return self.arn(ctx)

    def targets(self, stack: Stack, ctx: Context) -> list[dict[str, str]]:
        target = {"Id": "target", "Arn": stack.get(self.target).arn(ctx)}
        if self.state_machine:
            target["RoleArn"] = stack.get(self.role_name).arn(ctx)
        if self.input is not None:
            target["Input"] = canonical_json(self.input)
        return [target]

    def desired(self, stack: Stack, ctx: Context) -> State:
        return {"expression": self.expression, "targets": canonical_json(self.targets(stack, ctx))}

    def read(self, clients: Clients, ctx: Context) -> State:
        events = clients("events")
        name = self.physical(ctx)
        found = events.describe_rule(Name=name)
        targets: list[Any] = events.list_targets_by_rule(Rule=name)["Targets"]
        keep = ("Id", "Arn", "RoleArn", "Input")
        listed = [
            {k: (canonical_json(json.loads(t[k])) if k == "Input" else t[k]) for k in keep if k in t} for t in targets
        ]
        return {"expression": found.get("ScheduleExpression"), "targets": canonical_json(listed)}

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        return put_rule(self.physical(ctx), {"ScheduleExpression": self.expression}, self.targets(stack, ctx))

    def update(self, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
        return self.create(stack, ctx, desired)

    def delete(self, ctx: Context, current: State) -> list[Call]:
        return delete_rule(self.physical(ctx))

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        return {
            "Type": "AWS::Events::Rule",
            "Name": self.physical(ctx),
            "State": "ENABLED",
            "ScheduleExpression": self.expression,
            "Targets": self.targets(stack, ctx),
        }
