"""Factory fixtures of the pytest plugin: each makes one resource and deletes it afterwards.

`serverless_testbed.pytest_plugin` re-exports them; they are here to keep that module short.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from serverless_testbed.clients import Clients

LOG = logging.getLogger(__name__)
ROLE_NAME = "testbed-integration-role"
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

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


class Cleanup:
    """Runs registered deletions in reverse order; failures are logged, never raised."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], Any]]] = []

    def add(self, what: str, step: Callable[[], Any]) -> None:
        """Run `step` at the end of the test; `what` names it in the log if it fails."""
        self._steps.append((what, step))

    def run(self) -> None:
        """Every registered step, last added first."""
        for what, step in reversed(self._steps):
            try:
                step()
            except Exception as err:  # noqa: BLE001 - cleanup must not hide the test's result
                LOG.warning("cleanup of %s failed: %s", what, err)


@pytest.fixture
def cleanup() -> Iterator[Cleanup]:
    """`cleanup.add("what", step)`: deletions run after the test, whatever its result."""
    steps = Cleanup()
    yield steps
    steps.run()


@pytest.fixture(scope="session")
def role_arn(aws: Clients) -> str:
    """One role for every function, state machine and rule the factories make."""
    iam = aws("iam")
    try:
        arn = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    # The factories' functions and state machines probe the engine; they are not the subject of
    # least privilege (the stack's roles are). Where IAM is enforced, a role without a policy may
    # call nothing, so this one may call anything in the emulator.
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="testbed-factories", PolicyDocument=json.dumps(ALLOW_ALL))
    return arn


@pytest.fixture
def make_function(aws: Clients, role_arn: str, unique: Callable[[str], str], cleanup: Cleanup) -> Callable[..., str]:
    """`make_function(source_file, "module.handler", env={...}, timeout=3, memory=128)` -> function name."""
    from serverless_testbed.packaging import zip_files

    lam = aws("lambda")

    def make(
        source: Path, handler: str, *, env: dict[str, str] | None = None, timeout: int = 10, memory: int = 128
    ) -> str:
        name = unique("fn")
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": zip_files({source.name: source.read_bytes()})},
            Timeout=timeout,
            MemorySize=memory,
            Environment={"Variables": env or {}},
        )
        cleanup.add(f"function {name}", lambda: lam.delete_function(FunctionName=name))
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        return name

    return make


@pytest.fixture
def make_queue(aws: Clients, unique: Callable[[str], str], cleanup: Cleanup) -> Callable[..., str]:
    """`make_queue(**attributes)` -> queue URL."""
    sqs = aws("sqs")

    def make(**attributes: str) -> str:
        url: str = sqs.create_queue(QueueName=unique("q"), Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
        cleanup.add(f"queue {url}", lambda: sqs.delete_queue(QueueUrl=url))
        return url

    return make


@pytest.fixture
def make_bucket(aws: Clients, unique: Callable[[str], str], cleanup: Cleanup) -> Callable[[], str]:
    """`make_bucket()` -> bucket name; emptied and deleted after the test."""
    from serverless_testbed.stack.kinds.bucket import empty_bucket

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
def make_state_machine(
    aws: Clients, role_arn: str, unique: Callable[[str], str], cleanup: Cleanup
) -> Callable[[dict[str, Any]], str]:
    """`make_state_machine(definition)` -> state machine ARN."""
    sfn = aws("stepfunctions")

    def make(definition: dict[str, Any]) -> str:
        arn: str = sfn.create_state_machine(name=unique("sm"), definition=json.dumps(definition), roleArn=role_arn)[
            "stateMachineArn"
        ]
        cleanup.add(f"state machine {arn}", lambda: sfn.delete_state_machine(stateMachineArn=arn))
        return arn

    return make
