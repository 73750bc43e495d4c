"""Kinesis data streams."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.stack.calls import Call
from serverless_testbed.stack.resource import Context, Resource, State
from serverless_testbed.stack.stack import Stack


@dataclass(frozen=True)
class Stream(Resource):
    """A Kinesis data stream. `created_by_workflow`: the workflow makes it at run time,
    so deploy leaves it alone and destroy removes it."""

    shards: int = 1
    created_by_workflow: bool = False

    kind = "stream"
    services = ("kinesis",)
    name_limit = ("Kinesis stream", 128)
    stateful = True

    def arn(self, ctx: Context) -> str:
        return ctx.arn("kinesis", f"stream/{self.physical(ctx)}")

    @property
    def made_at_run_time(self) -> bool:
        return self.created_by_workflow

    def read(self, clients: Clients, ctx: Context) -> State:
        clients("kinesis").describe_stream_summary(StreamName=self.physical(ctx))
        return {}

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        name = self.physical(ctx)
        return [
            Call(
                "kinesis",
                "create_stream",
                {"StreamName": name, "ShardCount": self.shards},
                waiter="stream_exists",
                waiter_params={"StreamName": name},
            )
        ]

    def delete(self, ctx: Context, current: State) -> list[Call]:
        name = self.physical(ctx)
        return [
            Call(
                "kinesis",
                "delete_stream",
                {"StreamName": name, "EnforceConsumerDeletion": True},
                waiter="stream_not_exists",
                waiter_params={"StreamName": name},
                gone_ok=True,
            )
        ]

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        return {"Type": "AWS::Kinesis::Stream", "Name": self.physical(ctx), "ShardCount": self.shards}

    def outputs(self, ctx: Context, key: str) -> dict[str, Any]:
        if not self.created_by_workflow:
            return {f"{key}Name": {"Description": f"Kinesis stream {self.name}", "Value": {"Ref": key}}}
        return {
            f"{key}Name": {
                "Description": f"Kinesis stream {self.name}, made at run time, NOT in this stack: "
                "delete it yourself (aws kinesis delete-stream --enforce-consumer-deletion --stream-name VALUE)",
                "Value": self.physical(ctx),
            }
        }

    def teardown(self, output: Any, key: str) -> list[str]:
        if not self.created_by_workflow:
            return []
        return [f'aws kinesis delete-stream --enforce-consumer-deletion --stream-name "{output(key + "Name")}"']
