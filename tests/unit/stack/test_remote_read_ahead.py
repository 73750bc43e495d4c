"""The reader's read-ahead: many resources read at once, each answer kept for its one
`describe`, an error raised where its resource is described (as a read in turn would).

Real botocore clients with Stubbers answering as AWS does; one resource per service,
so each client's calls come in a known order even when the reads run concurrently.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from serverless_testbed.registry import stack_for
from serverless_testbed.stack.model import Context, Queue, Table, Topic
from serverless_testbed.stack.remote import BotoRemote

from tests.unit.stack.stubbed_account import StubbedAccount

CTX = Context(prefix="tb", account="123456789012", region="eu-west-1")
STACK = stack_for()


@pytest.fixture
def account() -> StubbedAccount:
    return StubbedAccount(CTX.region)


def test_reads_ahead_answer_each_describe_and_raise_its_error_there(account: StubbedAccount) -> None:
    table, queue, topic = STACK.of_kind(Table)[0], STACK.of_kind(Queue)[0], STACK.of_kind(Topic)[0]
    url = f"https://sqs.{CTX.region}.amazonaws.com/{CTX.account}/{queue.physical(CTX)}"
    account("dynamodb")
    account.stubbers["dynamodb"].add_client_error(
        "describe_table", service_error_code="ResourceNotFoundException", http_status_code=400
    )
    account("sqs")
    account.stubbers["sqs"].add_response("get_queue_url", {"QueueUrl": url})
    account.stubbers["sqs"].add_response(
        "get_queue_attributes", {"Attributes": {"VisibilityTimeout": "30", "MessageRetentionPeriod": "1209600"}}
    )
    account("sns")
    account.stubbers["sns"].add_client_error(
        "get_topic_attributes", service_error_code="AuthorizationError", http_status_code=403
    )
    remote = BotoRemote(account)

    remote.read_ahead([table, queue, topic], STACK, CTX)

    for stubber in account.stubbers.values():
        stubber.assert_no_pending_responses()  # everything was read before any describe
    read = sorted(account.calls)
    assert read == ["DescribeTable", "GetQueueAttributes", "GetQueueUrl", "GetTopicAttributes"]
    assert remote.describe(table, STACK, CTX) is None  # missing
    assert remote.describe(queue, STACK, CTX) == {
        "VisibilityTimeout": "30",
        "MessageRetentionPeriod": "1209600",
        "_url": url,
    }
    with pytest.raises(ClientError, match="AuthorizationError"):
        remote.describe(topic, STACK, CTX)
    assert sorted(account.calls) == read  # the describes made no calls of their own


def test_a_resource_described_twice_is_read_again_the_second_time(account: StubbedAccount) -> None:
    table = STACK.of_kind(Table)[0]
    account("dynamodb")
    for _ in range(2):
        account.stubbers["dynamodb"].add_client_error(
            "describe_table", service_error_code="ResourceNotFoundException", http_status_code=400
        )
    remote = BotoRemote(account)
    remote.read_ahead([table], STACK, CTX)

    assert remote.describe(table, STACK, CTX) is None
    assert remote.describe(table, STACK, CTX) is None  # after a change the planner must see the target now

    assert account.calls == ["DescribeTable", "DescribeTable"]
    account.stubbers["dynamodb"].assert_no_pending_responses()
