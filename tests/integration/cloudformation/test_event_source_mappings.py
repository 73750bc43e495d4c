"""Event source mappings at AWS's pace (localstack_plugins/event_source_mappings.py): an SQS
mapping long-polls its queue. What a mapping hands to its function stays exactly what AWS
hands: each message once, and none after the mapping is gone, even one that arrives while
its last long poll still waits. The hop times are measured, not asserted:
scripts/bench_event_source_mappings.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from serverless_testbed.clients import Clients
from serverless_testbed.waiting import wait_for

pytestmark = pytest.mark.embedded_only(reason="the embedded engine's event source mapping pacing")

HANDLER = """
import os, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    for record in event["Records"]:
        sqs.send_message(QueueUrl=os.environ["SEEN"], MessageBody=record["body"])
"""


def queue_arn(aws: Clients, url: str) -> str:
    return str(aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def test_a_message_reaches_the_function_once_and_none_after_the_mapping_is_gone(
    aws: Clients,
    tmp_path: Path,
    make_function: Callable[..., str],
    make_queue: Callable[..., str],
    receive_messages: Callable[..., list[object]],
) -> None:
    sqs, lam = aws("sqs"), aws("lambda")
    source, seen = make_queue(), make_queue()
    (tmp_path / "relay.py").write_text(HANDLER)
    function = make_function(tmp_path / "relay.py", "relay.handler", env={"SEEN": seen})
    mapping = lam.create_event_source_mapping(EventSourceArn=queue_arn(aws, source), FunctionName=function)["UUID"]
    wait_for(lambda: lam.get_event_source_mapping(UUID=mapping)["State"] == "Enabled", timeout=30, what="Enabled")

    sqs.send_message(QueueUrl=source, MessageBody="1")
    assert receive_messages(seen, 1, timeout=10) == [1]

    lam.delete_event_source_mapping(UUID=mapping)

    def gone() -> bool:
        try:
            lam.get_event_source_mapping(UUID=mapping)
        except ClientError as err:
            return err.response["Error"]["Code"] == "ResourceNotFoundException"
        return False

    wait_for(gone, timeout=30, what=f"mapping {mapping} to be deleted")
    # Its poller may still wait in a long poll: what it receives now goes back to the queue.
    sqs.send_message(QueueUrl=source, MessageBody="2")
    left = wait_for(
        lambda: sqs.receive_message(QueueUrl=source, WaitTimeSeconds=1).get("Messages"),
        timeout=30,
        what="message 2 in the source queue",
    )
    assert [message["Body"] for message in left] == ["2"]
    assert sqs.receive_message(QueueUrl=seen, WaitTimeSeconds=1).get("Messages") is None
