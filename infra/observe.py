"""Seeing what a workflow sent: SNS messages captured through an SQS subscription,
and messages drained from a queue, with bounded polling."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from infra.errors import WaitTimeout
from infra.waiting import wait_for

Clients = Callable[[str], Any]


@contextmanager
def topic_capture(clients: Clients, topic_arn: str) -> Iterator[str]:
    """A temporary SQS queue subscribed (raw delivery off) to `topic_arn`; yields its URL
    and removes both the subscription and the queue afterwards."""
    sqs, sns = clients("sqs"), clients("sns")
    url = sqs.create_queue(QueueName=f"capture-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, ReturnSubscriptionArn=True)
    try:
        yield url
    finally:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
        sqs.delete_queue(QueueUrl=url)


def sns_messages(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The SNS envelopes (Message, Subject, MessageAttributes...) of captured SQS messages."""
    return [json.loads(message["Body"]) for message in raw]


def drain(
    clients: Clients,
    url: str,
    *,
    count: int,
    timeout: float = 30,
    keep: Callable[[dict[str, Any]], bool] = lambda message: True,
) -> list[dict[str, Any]]:
    """Receive until `count` messages accepted by `keep` arrived; they are deleted, the
    others are left for their owners. Fails naming how many arrived of how many."""
    sqs = clients("sqs")
    kept: dict[str, dict[str, Any]] = {}

    def receive_batch() -> int:
        """One receive: keep and delete ours, hand the others back; how many arrived."""
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        ).get("Messages", [])
        mine = [message for message in batch if keep(message)]
        for message in mine:
            kept[message["MessageId"]] = message
        if mine:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(mine)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        others = [message for message in batch if not keep(message)]
        if others:  # give the messages of other runs back at once
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(others)
            ]
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
        return len(mine)

    def enough() -> bool:
        # Read while messages of ours keep coming, then wait (with backoff) for more.
        while receive_batch() and len(kept) < count:
            pass
        return len(kept) >= count

    try:
        wait_for(enough, timeout=timeout, interval=0.05, max_interval=0.5, what=f"{count} messages on {url}")
    except WaitTimeout as err:
        raise WaitTimeout(f"expected {count} messages on {url}, {len(kept)} arrived") from err
    return list(kept.values())
