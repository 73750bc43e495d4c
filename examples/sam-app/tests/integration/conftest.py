"""The deployed stack, as the tests find it on AWS: its name from AWS_SAM_STACK_NAME, everything
else from its Outputs."""

import os
import time

import boto3
import pytest

DEADLINE_S = 10


@pytest.fixture(scope="session")
def stack_outputs():
    stack_name = os.environ.get("AWS_SAM_STACK_NAME")
    if not stack_name:
        raise ValueError("set AWS_SAM_STACK_NAME to the name of the deployed stack (sam deploy --stack-name ...)")
    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output for output in stack["Outputs"]}


@pytest.fixture(scope="session")
def outputs(stack_outputs):
    return {key: output["OutputValue"] for key, output in stack_outputs.items()}


def eventually(check, what, deadline_s=DEADLINE_S):
    """check()'s first truthy answer within the deadline; fails saying what was awaited and last seen."""
    until = time.monotonic() + deadline_s
    seen = None
    while time.monotonic() < until:
        seen = check()
        if seen:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {deadline_s} s; last seen: {seen!r}")
