"""Seeing what a workflow sent: SNS messages captured through an SQS subscription,
and messages drained from a queue, with bounded polling."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.errors import WaitTimeout
from serverless_testbed.waiting import wait_for


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


@dataclass
class Collected:
    """The messages a drain took (accepted by its `keep`, and deleted), and how many other
    messages it saw and left in the queue for their owners."""

    messages: list[dict[str, Any]]
    others: set[str]  # the MessageIds of the other messages

    @property
    def foreign(self) -> int:
        """How many other messages were seen (and left in the queue)."""
        return len(self.others)


def drain(
    clients: Clients,
    url: str,
    *,
    count: int,
    timeout: float = 30,
    keep: Callable[[dict[str, Any]], bool] = lambda message: True,
    visibility: int = 5,
) -> list[dict[str, Any]]:
    """Receive until `count` messages accepted by `keep` arrived; they are deleted, the
    others are left for their owners. Fails naming how many arrived of how many."""
    return collect(clients, url, count=count, timeout=timeout, keep=keep, visibility=visibility).messages


def collect(
    clients: Clients,
    url: str,
    *,
    count: int,
    timeout: float = 30,
    keep: Callable[[dict[str, Any]], bool] = lambda message: True,
    visibility: int = 5,
    on_kept: Callable[[int], None] | None = None,
    strict: bool = True,
) -> Collected:
    """Receive until `count` messages accepted by `keep` arrived, whatever else the queue holds.

    Every receive hides what it takes for `visibility` seconds: ours are deleted, the
    others are not touched and reappear for their owners when that time is up. So a sweep
    walks past any number of other messages instead of being handed the same ten at the
    head of the queue again; should one of them reappear during the sweep (the queue holds
    more than a `visibility` worth of receives), the next receives hide for twice as long.
    Fails naming how many of ours arrived and how many others were seen; with `strict=False`
    answers what arrived by then instead (the caller compares it with what it expected).
    `on_kept` hears how many of ours arrived so far, after each receive that brought some.
    """
    sqs = clients("sqs")
    kept: dict[str, dict[str, Any]] = {}
    foreign: set[str] = set()
    hide = max(1, visibility)
    deadline = time.monotonic() + timeout

    def ours(message: dict[str, Any]) -> bool:
        try:
            return keep(message)
        except (ValueError, KeyError, TypeError, AttributeError):  # a body `keep` cannot read is someone else's
            return False

    def sweep() -> bool:
        """Receive until the queue shows nothing more or ours are complete; whether they are."""
        nonlocal hide
        seen_now: set[str] = set()
        while (len(kept) < count or count == 0) and time.monotonic() < deadline:
            batch: list[dict[str, Any]] = sqs.receive_message(  # type: ignore[assignment]
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=hide,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            mine = [message for message in batch if ours(message)]
            for message in mine:
                kept[message["MessageId"]] = message
            if mine:
                entries: list[Any] = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(mine)]
                sqs.delete_message_batch(QueueUrl=url, Entries=entries)
                if on_kept is not None:
                    on_kept(len(kept))
            others = {message["MessageId"] for message in batch} - {message["MessageId"] for message in mine}
            if others & seen_now:  # back before the sweep ended: hide longer, but never past the timeout
                hide = min(hide * 2, max(1, int(timeout)))
            seen_now |= others
            foreign.update(others)
        return len(kept) >= count

    try:
        wait_for(sweep, timeout=timeout, interval=0.05, max_interval=0.5, what=f"{count} messages on {url}")
    except WaitTimeout as err:
        if not strict:
            return Collected(list(kept.values()), foreign)
        raise WaitTimeout(
            f"expected {count} messages on {url}, {len(kept)} arrived"
            f" ({len(foreign)} other message(s) seen and left in the queue)"
        ) from err
    return Collected(list(kept.values()), foreign)
