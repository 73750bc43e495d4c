"""IAM roles: one per function, state machine and rule (derived), with one inline policy
holding exactly what the stack's resources say that role needs (`stack.policies`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError
from serverless_testbed.clients import Clients
from serverless_testbed.stack.answers import absent
from serverless_testbed.stack.calls import Call
from serverless_testbed.stack.policies import policy_document, trust_policy
from serverless_testbed.stack.resource import Context, Document, Resource, State, Statement, allow, canonical_json
from serverless_testbed.stack.stack import Stack

POLICY_NAME = "testbed"


@dataclass(frozen=True)
class Role(Resource):
    """An IAM role assumed by one service principal, with one inline policy: `statements`
    plus what the stack's resources grant it."""

    service: str = "lambda.amazonaws.com"
    statements: tuple[Statement, ...] = ()

    kind = "role"
    services = ("iam",)
    name_limit = ("IAM role", 64)

    def arn(self, ctx: Context) -> str:
        return f"arn:{ctx.partition}:iam::{ctx.account}:role/{self.physical(ctx)}"

    @classmethod
    def implied_by(cls, resource: Resource) -> Iterator[Resource]:
        """A role of its own for each resource that has one (`role_service`)."""
        if resource.role_service:
            yield cls(resource.role_name, service=resource.role_service)

    def trust_policy(self) -> Document:
        return {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": self.service}, "Action": "sts:AssumeRole"}],
        }

    def role_statements(self, stack: Stack, ctx: Context) -> Iterator[tuple[str, Document]]:
        for statement in self.statements:
            yield self.name, allow(statement.actions, [stack.resolve(r, ctx) for r in statement.resources])

    def desired(self, stack: Stack, ctx: Context) -> State:
        return {
            "trust": canonical_json(trust_policy(stack, self, ctx)),
            "policy": canonical_json(policy_document(stack, self, ctx)),
        }

    def read(self, clients: Clients, ctx: Context) -> State:
        iam = clients("iam")
        name = self.physical(ctx)
        found: Any = iam.get_role(RoleName=name)["Role"]
        try:
            policy: Any = iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)["PolicyDocument"]
        except ClientError as err:
            if not absent(err):
                raise
            policy = None
        return {"trust": _document(found["AssumeRolePolicyDocument"]), "policy": _document(policy) if policy else None}

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        name = self.physical(ctx)
        return [
            Call("iam", "create_role", {"RoleName": name, "AssumeRolePolicyDocument": desired["trust"]}),
            self._put_policy(name, desired),
        ]

    def update(self, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
        name = self.physical(ctx)
        calls = []
        if desired["trust"] != current.get("trust"):
            calls.append(
                Call("iam", "update_assume_role_policy", {"RoleName": name, "PolicyDocument": desired["trust"]})
            )
        if desired["policy"] != current.get("policy"):
            calls.append(self._put_policy(name, desired))
        return calls

    def delete(self, ctx: Context, current: State) -> list[Call]:
        name = self.physical(ctx)
        calls = (
            [Call("iam", "delete_role_policy", {"RoleName": name, "PolicyName": POLICY_NAME}, gone_ok=True)]
            if current.get("policy")
            else []
        )
        return [*calls, Call("iam", "delete_role", {"RoleName": name}, gone_ok=True)]

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        return {
            "Type": "AWS::IAM::Role",
            "RoleName": self.physical(ctx),
            "AssumeRolePolicyDocument": trust_policy(stack, self, ctx),
            "Policies": [{"PolicyName": POLICY_NAME, "PolicyDocument": policy_document(stack, self, ctx)}],
        }

    @staticmethod
    def _put_policy(name: str, desired: State) -> Call:
        params = {"RoleName": name, "PolicyName": POLICY_NAME, "PolicyDocument": desired["policy"]}
        return Call("iam", "put_role_policy", params)


def _document(value: str | dict[str, Any]) -> str:
    """IAM returns policy documents URL-encoded or parsed depending on the client."""
    if isinstance(value, str):
        value = json.loads(unquote(value))
    return canonical_json(value)
