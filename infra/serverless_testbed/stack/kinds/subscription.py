"""SNS subscriptions: a topic delivers to an SQS queue (which gets the queue policy that
lets the topic send) or to a Lambda function (which gets the permission)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.errors import StackError
from serverless_testbed.stack.calls import Call
from serverless_testbed.stack.resource import Context, Document, Ref, Resource, State, Value, canonical_json
from serverless_testbed.stack.stack import Stack


@dataclass(frozen=True)
class Subscription(Resource):
    """`topic` delivers to `queue` or to `function` (logical names; one of the two).

    `filter_policy` delivers only the messages it matches, judged on their message
    attributes or, with `filter_on_body`, on their JSON body; `raw` (queues only) delivers
    the message as published rather than wrapped in SNS's JSON envelope."""

    topic: str = ""
    queue: str = ""
    function: str = ""
    filter_policy: Mapping[str, Any] | None = None
    filter_on_body: bool = False
    raw: bool = False

    kind = "subscription"
    services = ("sns",)

    def __post_init__(self) -> None:
        if bool(self.queue) == bool(self.function):
            raise StackError(f"subscription {self.name}: give a queue or a function to deliver to, one of the two")
        if self.raw and self.function:
            raise StackError(f"subscription {self.name}: raw delivery is for queues (a function gets SNS's event)")

    @property
    def endpoint(self) -> str:
        return self.queue or self.function

    @property
    def protocol(self) -> str:
        return "sqs" if self.queue else "lambda"

    def arn(self, ctx: Context) -> str:
        raise StackError(f"subscription {self.name}: its ARN is SNS's to choose")

    def refs(self) -> Iterator[Ref]:
        yield Ref(self.topic)
        yield Ref(self.endpoint)

    def _permission_name(self) -> str:
        return f"{self.topic}-invokes-{self.function}"

    def invokes(self) -> Iterator[tuple[str, str, str, Value]]:
        if self.function:
            yield self._permission_name(), self.function, "sns.amazonaws.com", Ref(self.topic)

    def depends_on(self, stack: Stack) -> set[str]:
        return {self.topic, self.endpoint} | ({self._permission_name()} if self.function else set())

    def resource_policy_statements(self, stack: Stack, ctx: Context) -> Iterator[tuple[str, Document]]:
        """The queue's policy lets this topic, and nothing else, send to it (the SNS guide's
        "Subscribing an Amazon SQS queue to an Amazon SNS topic")."""
        if self.queue:
            yield (
                self.queue,
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": stack.get(self.queue).arn(ctx),
                    "Condition": {"ArnEquals": {"aws:SourceArn": stack.get(self.topic).arn(ctx)}},
                },
            )

    def _attributes(self) -> dict[str, str]:
        attributes = {
            "FilterPolicy": canonical_json(self.filter_policy) if self.filter_policy else "",
            "FilterPolicyScope": "MessageBody" if self.filter_on_body else "MessageAttributes",
        }
        if self.queue:
            attributes["RawMessageDelivery"] = "true" if self.raw else "false"
        return attributes

    def desired(self, stack: Stack, ctx: Context) -> State:
        return dict(self._attributes())

    def read(self, clients: Clients, ctx: Context) -> State | None:
        sns = clients("sns")
        topic = ctx.arn("sns", ctx.name(self.topic))
        endpoint = ctx.arn(
            "sqs" if self.queue else "lambda",
            ctx.name(self.endpoint) if self.queue else f"function:{ctx.name(self.function)}",
        )
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
            for found in page.get("Subscriptions", []):
                if found.get("Endpoint") == endpoint and found.get("Protocol") == self.protocol:
                    arn = found["SubscriptionArn"]
                    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
                    policy = attributes.get("FilterPolicy")
                    state: State = {
                        "FilterPolicy": canonical_json(json.loads(policy)) if policy else "",
                        "FilterPolicyScope": attributes.get("FilterPolicyScope") or "MessageAttributes",
                        "_arn": arn,
                    }
                    if self.queue:
                        state["RawMessageDelivery"] = attributes.get("RawMessageDelivery", "false")
                    return state
        return None

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        attributes = {key: value for key, value in self._attributes().items() if value}
        if not self.filter_policy:
            attributes.pop("FilterPolicyScope")
        params = {
            "TopicArn": stack.get(self.topic).arn(ctx),
            "Protocol": self.protocol,
            "Endpoint": stack.get(self.endpoint).arn(ctx),
            "Attributes": attributes,
            "ReturnSubscriptionArn": True,
        }
        return [Call("sns", "subscribe", params)]

    def update(self, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
        changed = {key: value for key, value in desired.items() if current.get(key) != value}
        if "FilterPolicy" in changed and not changed["FilterPolicy"]:
            return self.delete(ctx, current) + self.create(stack, ctx, desired)  # SNS refuses an empty policy
        order = sorted(changed, key=lambda key: key != "FilterPolicy")  # the policy before its scope
        return [
            Call(
                "sns",
                "set_subscription_attributes",
                {"SubscriptionArn": current["_arn"], "AttributeName": key, "AttributeValue": changed[key]},
            )
            for key in order
        ]

    def delete(self, ctx: Context, current: State) -> list[Call]:
        return [Call("sns", "unsubscribe", {"SubscriptionArn": current["_arn"]}, gone_ok=True)]

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        from serverless_testbed.stack.cloudformation import logical_id

        props: dict[str, Any] = {
            "Type": "AWS::SNS::Subscription",
            "TopicArn": {"Ref": logical_id(stack.get(self.topic))},
            "Protocol": self.protocol,
            "Endpoint": stack.get(self.endpoint).arn(ctx),
        }
        if self.filter_policy:
            props["FilterPolicy"] = dict(self.filter_policy)
            props["FilterPolicyScope"] = self._attributes()["FilterPolicyScope"]
        if self.queue:
            props["RawMessageDelivery"] = self.raw
        return props
