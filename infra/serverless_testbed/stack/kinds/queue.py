"""SQS queues; a dead-letter queue is a plain queue that another points at (`redrive_to`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.stack.calls import Call
from serverless_testbed.stack.resource import Context, Document, Ref, Resource, State, canonical_json
from serverless_testbed.stack.stack import Stack


@dataclass(frozen=True)
class Queue(Resource):
    """An SQS queue. `redrive_to`: the queue (logical name) a message goes to after
    `max_receives` failed receives."""

    visibility_timeout: int = 30
    retention_seconds: int = 1_209_600  # the maximum: rejected records are kept 14 days
    redrive_to: str | None = None
    max_receives: int = 3

    kind = "queue"
    services = ("sqs",)
    name_limit = ("SQS queue", 80)
    stateful = True

    def arn(self, ctx: Context) -> str:
        return ctx.arn("sqs", self.physical(ctx))

    def attribute(self, ctx: Context, attr: str) -> str:
        if attr == "url":
            return f"https://sqs.{ctx.region}.amazonaws.com/{ctx.account}/{self.physical(ctx)}"
        return super().attribute(ctx, attr)

    def refs(self) -> Iterator[Ref]:
        if self.redrive_to:
            yield Ref(self.redrive_to)

    def depends_on(self, stack: Stack) -> set[str]:
        return {self.redrive_to} if self.redrive_to else set()  # SQS checks the dead-letter queue exists

    def desired(self, stack: Stack, ctx: Context) -> State:
        state = {
            "VisibilityTimeout": str(self.visibility_timeout),
            "MessageRetentionPeriod": str(self.retention_seconds),
        }
        if self.redrive_to:
            state["RedrivePolicy"] = self._redrive(stack.get(self.redrive_to).arn(ctx))
        policy = self.policy(stack, ctx)
        if policy:
            state["Policy"] = canonical_json(policy)
        return state

    def policy(self, stack: Stack, ctx: Context) -> Document | None:
        """The queue's resource policy: what other resources need of it (a topic sending)."""
        statements = [
            statement
            for resource in stack.resources
            for target, statement in resource.resource_policy_statements(stack, ctx)
            if target == self.name
        ]
        return {"Version": "2012-10-17", "Statement": statements} if statements else None

    def _redrive(self, target_arn: Any) -> str:
        return json.dumps({"deadLetterTargetArn": target_arn, "maxReceiveCount": str(self.max_receives)})

    def read(self, clients: Clients, ctx: Context) -> State:
        sqs = clients("sqs")
        url = sqs.get_queue_url(QueueName=self.physical(ctx))["QueueUrl"]
        names: list[Any] = ["VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy", "Policy"]
        attributes: Any = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        state = {name: attributes.get(name) for name in names[:2]} | {"_url": url}
        if "RedrivePolicy" in attributes:
            redrive = json.loads(attributes["RedrivePolicy"])
            state["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": redrive["deadLetterTargetArn"],
                    "maxReceiveCount": str(redrive["maxReceiveCount"]),
                }
            )
        if attributes.get("Policy"):
            state["Policy"] = canonical_json(json.loads(attributes["Policy"]))
        return state

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        return [Call("sqs", "create_queue", {"QueueName": self.physical(ctx), "Attributes": desired})]

    def update(self, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
        attributes = dict(desired)
        for key in ("RedrivePolicy", "Policy"):
            if key not in desired and current.get(key):
                attributes[key] = ""  # SQS: an empty value removes it
        return [Call("sqs", "set_queue_attributes", {"QueueUrl": current["_url"], "Attributes": attributes})]

    def delete(self, ctx: Context, current: State) -> list[Call]:
        return [Call("sqs", "delete_queue", {"QueueUrl": current["_url"]}, gone_ok=True)]

    def empty(self, clients: Clients, ctx: Context) -> None:
        sqs = clients("sqs")
        sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=self.physical(ctx))["QueueUrl"])

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        props: dict[str, Any] = {
            "Type": "AWS::SQS::Queue",
            "QueueName": self.physical(ctx),
            "VisibilityTimeout": self.visibility_timeout,
            "MessageRetentionPeriod": self.retention_seconds,
        }
        if self.redrive_to:
            target = stack.get(self.redrive_to).arn(ctx)
            props["RedrivePolicy"] = {"deadLetterTargetArn": target, "maxReceiveCount": self.max_receives}
        policy = self.policy(stack, ctx)
        if policy:
            from serverless_testbed.stack.cloudformation import logical_id

            props["_extra"] = {
                f"{logical_id(self)}Policy": {
                    "Type": "AWS::SQS::QueuePolicy",
                    "Properties": {"Queues": [{"Ref": logical_id(self)}], "PolicyDocument": policy},
                }
            }
        return props

    def outputs(self, ctx: Context, key: str) -> dict[str, Any]:
        return {f"{key}Url": {"Description": f"SQS queue {self.name}", "Value": {"Ref": key}}}
