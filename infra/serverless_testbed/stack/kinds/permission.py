"""Lambda permissions: a service (S3, API Gateway, SNS, EventBridge) may invoke a function."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.stack.calls import Call
from serverless_testbed.stack.resource import Context, Ref, Resource, State, Value
from serverless_testbed.stack.stack import Stack


@dataclass(frozen=True)
class Permission(Resource):
    """Allows a service (s3, apigateway, events, sns) to invoke a function, from one source."""

    function: str = ""
    principal: str = "s3.amazonaws.com"
    source_arn: Value = ""

    kind = "permission"
    services = ("lambda",)

    @classmethod
    def implied_by(cls, resource: Resource) -> Iterator[Resource]:
        """A permission for each function `resource` invokes (`Resource.invokes`)."""
        for name, function, principal, source_arn in resource.invokes():
            yield cls(name, function=function, principal=principal, source_arn=source_arn)

    @property
    def statement_id(self) -> str:
        return f"testbed-{self.name}"

    def arn(self, ctx: Context) -> str:
        return f"{ctx.arn('lambda', 'function:' + ctx.name(self.function))}#{self.statement_id}"

    def refs(self) -> Iterator[Ref]:
        yield Ref(self.function)
        if isinstance(self.source_arn, Ref):
            yield self.source_arn

    def depends_on(self, stack: Stack) -> set[str]:
        return {self.function}

    def desired(self, stack: Stack, ctx: Context) -> State:
        return {"Principal": self.principal, "SourceArn": stack.resolve(self.source_arn, ctx)}

    def read(self, clients: Clients, ctx: Context) -> State | None:
        policy = json.loads(clients("lambda").get_policy(FunctionName=ctx.name(self.function))["Policy"])
        for statement in policy.get("Statement", []):
            if statement.get("Sid") == self.statement_id:
                principal = statement.get("Principal", {})
                condition = statement.get("Condition", {}).get("ArnLike", {})
                return {
                    "Principal": principal.get("Service") if isinstance(principal, dict) else principal,
                    "SourceArn": condition.get("AWS:SourceArn"),
                }
        return None

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        return [Call("lambda", "add_permission", self._parameters(ctx, desired["SourceArn"]))]

    def update(self, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
        return self.delete(ctx, current) + self.create(stack, ctx, desired)

    def delete(self, ctx: Context, current: State) -> list[Call]:
        params = {"FunctionName": ctx.name(self.function), "StatementId": self.statement_id}
        return [Call("lambda", "remove_permission", params, gone_ok=True)]

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        props = self._parameters(ctx, stack.resolve(self.source_arn, ctx))
        del props["StatementId"]  # CloudFormation chooses it
        return {"Type": "AWS::Lambda::Permission", **props}

    def _parameters(self, ctx: Context, source_arn: str) -> dict[str, Any]:
        params = {
            "FunctionName": ctx.name(self.function),
            "StatementId": self.statement_id,
            "Action": "lambda:InvokeFunction",
            "Principal": self.principal,
            "SourceArn": source_arn,
        }
        if self.principal == "s3.amazonaws.com":
            params["SourceAccount"] = ctx.account  # bucket ARNs carry no account
        return params
