"""Planning against a stubbed AWS account through the real boto3 reader (BotoRemote).

Each client is a real botocore client with a Stubber that answers every describe call
with the "not found" error AWS gives for an empty account; no call leaves the process.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from serverless_testbed.registry import stack_for
from serverless_testbed.stack.model import Context
from serverless_testbed.stack.planner import plan
from serverless_testbed.stack.remote import BotoRemote

CTX = Context(prefix="tb", account="123456789012", region="eu-west-1")
NOT_FOUND = {
    "get_role": ("iam", "NoSuchEntity", 404),
    "describe_table": ("dynamodb", "ResourceNotFoundException", 400),
    "get_queue_url": ("sqs", "AWS.SimpleQueueService.NonExistentQueue", 400),
    "get_topic_attributes": ("sns", "NotFound", 404),
    "describe_stream_summary": ("kinesis", "ResourceNotFoundException", 400),
    "head_bucket": ("s3", "404", 404),
    "get_function_configuration": ("lambda", "ResourceNotFoundException", 404),
    "get_policy": ("lambda", "ResourceNotFoundException", 404),
    "describe_state_machine": ("stepfunctions", "StateMachineDoesNotExist", 400),
    "describe_rule": ("events", "ResourceNotFoundException", 400),
}


class EmptyAccount:
    """Stubbed clients; every read is answered "not found", every call is recorded."""

    def __init__(self) -> None:
        session = boto3.Session(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x", region_name=CTX.region)
        self.clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}
        self.session = session
        self.calls: list[str] = []

    def __call__(self, service: str) -> Any:
        if service not in self.clients:
            client = self.session.client(service)
            stubber = Stubber(client)
            stubber.activate()
            self.clients[service], self.stubbers[service] = client, stubber
            client.meta.events.register("before-call.*.*", self._record)
        return self.clients[service]

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def expect(self, operation: str, times: int) -> None:
        service, code, status = NOT_FOUND[operation]
        for _ in range(times):
            self(service)
            self.stubbers[service].add_client_error(operation, service_error_code=code, http_status_code=status)


@pytest.fixture
def account() -> EmptyAccount:
    return EmptyAccount()


def test_a_fresh_account_plans_every_create_in_a_valid_order(account: EmptyAccount) -> None:
    stack = stack_for(["orders", "sales"])
    kinds = [r.kind for r in stack.resources]
    account.expect("get_role", kinds.count("role"))
    account.expect("describe_table", kinds.count("table"))
    account.expect("get_queue_url", kinds.count("queue"))
    account.expect("get_topic_attributes", kinds.count("topic"))
    account.expect("head_bucket", kinds.count("bucket"))
    account.expect("get_function_configuration", kinds.count("function"))
    account.expect("describe_state_machine", kinds.count("state-machine"))
    account.expect("describe_rule", kinds.count("rule"))

    changes = plan(stack, BotoRemote(account), CTX)

    assert all(change.action == "create" for change in changes)
    assert len(changes) == len(stack.resources)
    order = [change.kind for change in changes]
    assert order.index("function") > max(i for i, kind in enumerate(order) if kind == "role")
    assert order.index("rule") > max(i for i, kind in enumerate(order) if kind == "state-machine")
    for stubber in account.stubbers.values():
        stubber.assert_no_pending_responses()
    assert set(account.calls) <= set(NOT_FOUND), f"only reads were made: {sorted(set(account.calls))}"
