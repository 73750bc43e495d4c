"""Step Functions state machines from `asl/`, their role's policy derived from the ASL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.errors import StackError
from serverless_testbed.project import asl_dir
from serverless_testbed.stack.calls import Call
from serverless_testbed.stack.policies import state_machine_statements
from serverless_testbed.stack.resource import (
    Context,
    Document,
    Ref,
    Resource,
    State,
    Statement,
    Value,
    canonical_json,
)
from serverless_testbed.stack.stack import Stack

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class StateMachine(Resource):
    """A state machine from `asl/<asl>`; `${Key}` placeholders are filled from
    `substitutions`. Its role's policy is derived from the ASL itself; `grants` name the
    resources of calls whose parameters are computed at run time (BatchWriteItem's
    RequestItems), and only those."""

    asl: str = ""
    substitutions: Mapping[str, Value] = field(default_factory=dict)
    type: str = "STANDARD"
    grants: tuple[Statement, ...] = ()

    kind = "state-machine"
    services = ("stepfunctions",)
    name_limit = ("Step Functions state machine", 80)
    role_service = "states.amazonaws.com"

    def arn(self, ctx: Context) -> str:
        return ctx.arn("states", f"stateMachine:{self.physical(ctx)}")

    def template(self) -> str:
        path = asl_dir() / self.asl
        if not path.is_file():
            raise FileNotFoundError(f"state machine {self.name}: no ASL file {path}")
        return path.read_text()

    def definition(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        """The ASL with every `${Key}` filled in."""
        values = {key: stack.resolve(value, ctx) for key, value in self.substitutions.items()}
        text = self.template()

        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in values:
                raise StackError(f"{self.asl}: no substitution for ${{{key}}} in {self.name}")
            return values[key]

        unused = sorted(set(values) - set(_PLACEHOLDER.findall(text)))
        if unused:
            raise StackError(f"{self.asl}: substitutions {', '.join(unused)} of {self.name} are never used")
        definition: dict[str, Any] = json.loads(_PLACEHOLDER.sub(fill, text))
        return definition

    def refs(self) -> Iterator[Ref]:
        yield from (v for v in self.substitutions.values() if isinstance(v, Ref))
        for statement in self.grants:
            yield from (r for r in statement.resources if isinstance(r, Ref))

    def depends_on(self, stack: Stack) -> set[str]:
        return {self.role_name}

    def role_statements(self, stack: Stack, ctx: Context) -> Iterator[tuple[str, Document]]:
        declared = {
            action: [stack.resolve(r, ctx) for r in grant.resources]
            for grant in self.grants
            for action in grant.actions
        }
        for statement in state_machine_statements(self.definition(stack, ctx), ctx, declared, self.arn(ctx)):
            yield self.role_name, statement

    def trust_source_arn(self, ctx: Context) -> str:
        return ctx.arn("states", "stateMachine:*")

    def desired(self, stack: Stack, ctx: Context) -> State:
        return {
            "definition": canonical_json(self.definition(stack, ctx)),
            "roleArn": stack.get(self.role_name).arn(ctx),
            "type": self.type,
        }

    def read(self, clients: Clients, ctx: Context) -> State | None:
        found = clients("stepfunctions").describe_state_machine(stateMachineArn=self.arn(ctx))
        if found.get("status") == "DELETING":
            return None  # on its way out: to deploy it is created again (once the name is free), to destroy gone
        return {
            "definition": canonical_json(json.loads(found["definition"])),
            "roleArn": found["roleArn"],
            "type": found.get("type", "STANDARD"),
        }

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        params = {
            "name": self.physical(ctx),
            "definition": desired["definition"],
            "roleArn": desired["roleArn"],
            "type": self.type,
        }
        return [Call("stepfunctions", "create_state_machine", params)]

    def update(self, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
        if desired["type"] != current.get("type"):
            return self.delete(ctx, current) + self.create(stack, ctx, desired)
        params = {"stateMachineArn": self.arn(ctx), "definition": desired["definition"], "roleArn": desired["roleArn"]}
        return [Call("stepfunctions", "update_state_machine", params)]

    def delete(self, ctx: Context, current: State) -> list[Call]:
        return [Call("stepfunctions", "delete_state_machine", {"stateMachineArn": self.arn(ctx)}, gone_ok=True)]

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        text = json.dumps(self.definition(stack, ctx), indent=1)
        return {
            "Type": "AWS::StepFunctions::StateMachine",
            "StateMachineName": self.physical(ctx),
            "StateMachineType": self.type,
            "RoleArn": stack.get(self.role_name).arn(ctx),
            # The ASL's own ARNs (`arn:aws:states:::lambda:invoke`) in the deploying partition (cfn-lint I3042).
            "DefinitionString": text.replace('"arn:aws:', '"arn:${AWS::Partition}:'),
        }

    def outputs(self, ctx: Context, key: str) -> dict[str, Any]:
        return {f"{key}Arn": {"Description": f"state machine {self.name}", "Value": {"Ref": key}}}
