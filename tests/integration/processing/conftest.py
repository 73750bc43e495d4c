"""Workflow 3 deployed once per session, its API's URL and the FastAPI app in front of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from serverless_testbed.deploy import Deployer
from serverless_testbed.engine import Engine
from serverless_testbed.stack.stack import Stack

from fixtures.requests import FAULTS, Request, generate_requests
from infra.runs import processing as runner
from infra.workflows import processing as workflow


@pytest.fixture(scope="session")
def stack(deploy: Callable[[str], Stack]) -> Stack:
    return deploy("processing")


@pytest.fixture(scope="session")
def names(stack: Stack, deployer: Deployer, engine: Engine) -> dict[str, str]:
    ctx = deployer.ctx
    return {
        "machine": stack.bind(ctx).arn(workflow.MACHINE),
        "log_bucket": stack.bind(ctx).name(workflow.LOG_BUCKET),
        "log_function": stack.bind(ctx).name(workflow.LOG),
        "process_function": stack.bind(ctx).name(workflow.PROCESS),
        "api_url": runner.api_url(deployer, stack, engine.endpoint_url),
    }


@pytest.fixture(scope="session")
def app_url(names: dict[str, str]) -> Iterator[str]:
    """`POST {app_url}/process-data/` reaches the FastAPI app served by uvicorn in a thread."""
    with runner.serve_app(names["api_url"]) as base:
        yield base


@pytest.fixture(scope="session")
def examples() -> dict[str, Request]:
    """One generated request per outcome: "valid" and each fault of FAULTS."""
    found: dict[str, Request] = {}
    for item in generate_requests(300, 0.8, seed=23):
        assert isinstance(item, Request)
        found.setdefault(item.expected.reasons[0] if item.expected.reasons else "valid", item)
    missing = set(FAULTS) - set(found)
    assert not missing, f"the generator made no request with the fault(s) {missing}"
    return found
