"""Factory fixtures for integration tests: each makes a resource and deletes it afterwards."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.clients import Clients
from infra.deploy import Deployer
from infra.observe import drain
from infra.packaging import zip_files
from infra.stack.executor import empty_bucket
from infra.stack.stack import Stack
from infra.waiting import wait_for
from infra.workflows import stack_for

LOG = logging.getLogger(__name__)
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com", "events.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


class Cleanup:
    """Runs registered deletions in reverse order; failures are logged, never raised."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], Any]]] = []

    def add(self, what: str, step: Callable[[], Any]) -> None:
        self._steps.append((what, step))

    def run(self) -> None:
        for what, step in reversed(self._steps):
            try:
                step()
            except Exception as err:  # noqa: BLE001 - cleanup must not hide the test's result
                LOG.warning("cleanup of %s failed: %s", what, err)


@pytest.fixture
def cleanup() -> Iterator[Cleanup]:
    steps = Cleanup()
    yield steps
    steps.run()


@pytest.fixture(scope="session")
def role_arn(aws: Clients) -> str:
    """One role for every test function, state machine and rule of the session."""
    iam = aws("iam")
    name = "testbed-integration-role"
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    return arn


@pytest.fixture
def make_function(aws: Clients, role_arn: str, unique: Callable[[str], str], cleanup: Cleanup) -> Callable[..., str]:
    """`make_function(source_file, "module.handler", env={...}, timeout=3)` -> function name."""
    lam = aws("lambda")

    def make(source: Path, handler: str, *, env: dict[str, str] | None = None, timeout: int = 10) -> str:
        name = unique("fn")
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": zip_files({source.name: source.read_bytes()})},
            Timeout=timeout,
            Environment={"Variables": env or {}},
        )
        cleanup.add(f"function {name}", lambda: lam.delete_function(FunctionName=name))
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        return name

    return make


@pytest.fixture
def make_queue(aws: Clients, unique: Callable[[str], str], cleanup: Cleanup) -> Callable[..., str]:
    """`make_queue()` -> queue URL."""
    sqs = aws("sqs")

    def make(**attributes: str) -> str:
        url: str = sqs.create_queue(QueueName=unique("q"), Attributes=attributes)["QueueUrl"]
        cleanup.add(f"queue {url}", lambda: sqs.delete_queue(QueueUrl=url))
        return url

    return make


@pytest.fixture
def make_bucket(aws: Clients, unique: Callable[[str], str], cleanup: Cleanup) -> Callable[[], str]:
    s3 = aws("s3")

    def make() -> str:
        name = unique("bucket")
        s3.create_bucket(Bucket=name)

        def empty_and_delete() -> None:
            empty_bucket(s3, name)
            s3.delete_bucket(Bucket=name)

        cleanup.add(f"bucket {name}", empty_and_delete)
        return name

    return make


@pytest.fixture
def make_orders_table(aws: Clients, unique: Callable[[str], str], cleanup: Cleanup) -> Callable[..., str]:
    """A table keyed customerID/orderID, as in the customer-orders workflow."""
    ddb = aws("dynamodb")

    def make(stream: bool = False) -> str:
        name = unique("orders")
        extra: dict[str, Any] = {}
        if stream:
            extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        ddb.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": "customerID", "KeyType": "HASH"},
                {"AttributeName": "orderID", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "customerID", "AttributeType": "S"},
                {"AttributeName": "orderID", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
        cleanup.add(f"table {name}", lambda: ddb.delete_table(TableName=name))
        ddb.get_waiter("table_exists").wait(TableName=name)
        return name

    return make


@pytest.fixture
def make_state_machine(
    aws: Clients, role_arn: str, unique: Callable[[str], str], cleanup: Cleanup
) -> Callable[[dict[str, Any]], str]:
    sfn = aws("stepfunctions")

    def make(definition: dict[str, Any]) -> str:
        arn: str = sfn.create_state_machine(name=unique("sm"), definition=json.dumps(definition), roleArn=role_arn)[
            "stateMachineArn"
        ]
        cleanup.add(f"state machine {arn}", lambda: sfn.delete_state_machine(stateMachineArn=arn))
        return arn

    return make


@pytest.fixture
def receive_messages(aws: Clients) -> Callable[..., list[dict[str, Any]]]:
    """`receive_messages(url, count, timeout=20)` -> the bodies (parsed JSON) of `count` messages."""

    def receive(url: str, count: int, timeout: float = 20) -> list[dict[str, Any]]:
        return [json.loads(message["Body"]) for message in drain(aws, url, count=count, timeout=timeout)]

    return receive


@pytest.fixture
def wait_execution(aws: Clients) -> Callable[..., dict[str, Any]]:
    """`wait_execution(arn)` -> describe_execution once it is no longer RUNNING."""
    sfn = aws("stepfunctions")

    def wait(arn: str, timeout: float = 60) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
            return None if described["status"] == "RUNNING" else described

        return wait_for(finished, timeout=timeout, what=f"execution {arn} to finish")

    return wait


@pytest.fixture(scope="session")
def deployer(engine: Any, settings: Any) -> Deployer:
    """Deploys with the session's engine clients and the session's unique prefix."""
    return Deployer.for_clients(engine.client, settings.prefix, engine.region)


@pytest.fixture(scope="session")
def deploy(deployer: Deployer) -> Iterator[Callable[[str], Stack]]:
    """`deploy("sales")` deploys a workflow once per session and returns its stack;
    everything deployed is destroyed at the end of the session."""
    deployed: dict[str, Stack] = {}

    def make(workflow: str) -> Stack:
        if workflow not in deployed:
            stack = stack_for([workflow])
            deployer.deploy(stack)
            deployed[workflow] = stack
        return deployed[workflow]

    yield make
    for name, stack in deployed.items():
        try:
            deployer.destroy(stack)
        except Exception:
            LOG.exception("destroying workflow %s failed", name)
