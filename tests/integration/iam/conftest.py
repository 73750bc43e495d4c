"""What the IAM enforcement tests share: they skip where enforcement is off, and make roles."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.engine.base import Engine
from serverless_testbed.localstack_plugins.iam_mode import enforces_iam
from serverless_testbed.pytest_factories import Cleanup

from tests.integration.iam.roles import TRUST


@pytest.fixture(autouse=True)
def _enforcing(testbed_engine: Engine) -> None:
    if not enforces_iam(testbed_engine):
        pytest.skip("IAM enforcement is off in this engine (TESTBED_IAM_ENFORCE=0)")


@pytest.fixture
def make_role(aws: Clients, unique: Callable[[str], str], cleanup: Cleanup) -> Callable[[list[dict[str, Any]]], str]:
    """`make_role(statements)` -> the ARN of a role whose only policy is `statements`."""
    iam = aws("iam")

    def make(statements: list[dict[str, Any]]) -> str:
        name = unique("iam-probe")
        arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        document = {"Version": "2012-10-17", "Statement": statements}
        iam.put_role_policy(RoleName=name, PolicyName="probe", PolicyDocument=json.dumps(document))

        def delete() -> None:
            iam.delete_role_policy(RoleName=name, PolicyName="probe")
            iam.delete_role(RoleName=name)

        cleanup.add(f"role {name}", delete)
        return arn

    return make
