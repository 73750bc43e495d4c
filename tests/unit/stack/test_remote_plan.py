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
from serverless_testbed.stack.stack import creation_order

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
    "list_subscriptions_by_topic": ("sns", "NotFound", 404),
}
# Listings that answer an empty list where nothing is there.
EMPTY = {
    "list_layer_versions": ("lambda", {"LayerVersions": []}),
    "list_event_source_mappings": ("lambda", {"EventSourceMappings": []}),
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
        for _ in range(times):
            if operation in EMPTY:
                service, answer = EMPTY[operation]
                self(service)
                self.stubbers[service].add_response(operation, answer)
                continue
            service, code, status = NOT_FOUND[operation]
            self(service)
            self.stubbers[service].add_client_error(operation, service_error_code=code, http_status_code=status)


@pytest.fixture
def account() -> EmptyAccount:
    return EmptyAccount()


def test_a_fresh_account_plans_every_create_in_a_valid_order(account: EmptyAccount) -> None:
    stack = stack_for(["orders", "sales"])
    first_read = {
        "role": "get_role",
        "table": "describe_table",
        "queue": "get_queue_url",
        "topic": "get_topic_attributes",
        "bucket": "head_bucket",
        "function": "get_function_configuration",
        "state-machine": "describe_state_machine",
        "rule": "describe_rule",
        "subscription": "list_subscriptions_by_topic",
        "layer": "list_layer_versions",
        "event-source-mapping": "list_event_source_mappings",
    }
    for resource in creation_order(stack):  # a stubbed client answers in the order it is asked
        account.expect(first_read[resource.kind], 1)

    changes = plan(stack, BotoRemote(account), CTX)

    assert all(change.action == "create" for change in changes)
    assert len(changes) == len(stack.resources)
    position = {change.name: index for index, change in enumerate(changes)}
    for resource in stack.resources:  # every function after its role, every rule after its state machine...
        for needed in resource.depends_on(stack):
            first = stack.get(needed).physical(CTX)
            assert position[first] < position[resource.physical(CTX)], f"{resource.name} is created before {needed}"
    for stubber in account.stubbers.values():
        stubber.assert_no_pending_responses()
    assert set(account.calls) <= set(NOT_FOUND) | set(EMPTY), f"only reads were made: {sorted(set(account.calls))}"
