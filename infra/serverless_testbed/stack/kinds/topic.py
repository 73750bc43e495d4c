"""SNS topics: deployed ones, and those a workflow creates when it runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.stack.calls import Call
from serverless_testbed.stack.resource import Context, Resource, State
from serverless_testbed.stack.stack import Stack


@dataclass(frozen=True)
class Topic(Resource):
    """An SNS topic."""

    kind = "topic"
    services = ("sns",)
    name_limit = ("SNS topic", 256)

    def arn(self, ctx: Context) -> str:
        return ctx.arn("sns", self.physical(ctx))

    def read(self, clients: Clients, ctx: Context) -> State:
        clients("sns").get_topic_attributes(TopicArn=self.arn(ctx))
        return {}

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        return [Call("sns", "create_topic", {"Name": self.physical(ctx)})]

    def delete(self, ctx: Context, current: State) -> list[Call]:
        return [Call("sns", "delete_topic", {"TopicArn": self.arn(ctx)}, gone_ok=True)]

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        return {"Type": "AWS::SNS::Topic", "TopicName": self.physical(ctx)}

    def outputs(self, ctx: Context, key: str) -> dict[str, Any]:
        return {f"{key}Arn": {"Description": f"SNS topic {self.name}", "Value": {"Ref": key}}}


@dataclass(frozen=True)
class RuntimeTopic(Topic):
    """An SNS topic the workflow creates at run time; destroy removes it."""

    kind = "runtime-topic"

    @property
    def made_at_run_time(self) -> bool:
        return True

    def outputs(self, ctx: Context, key: str) -> dict[str, Any]:
        return {
            f"{key}Arn": {
                "Description": f"SNS topic {self.name}, made at run time, NOT in this stack: "
                "delete it yourself (aws sns delete-topic --topic-arn VALUE)",
                "Value": self.arn(ctx),
            }
        }

    def teardown(self, output: Any, key: str) -> list[str]:
        return [f'aws sns delete-topic --topic-arn "{output(key + "Arn")}"']
