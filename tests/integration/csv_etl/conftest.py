"""The csv-etl suites' shared fixtures: the deployed workflow, and a queue that captures its
notifications for a whole module."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.observe import topic_capture
from serverless_testbed.stack.stack import Stack

from infra.workflows import csv_etl as workflow


@pytest.fixture(scope="module")
def stack(deploy: Callable[[str], Stack]) -> Stack:
    return deploy("csv-etl")


@pytest.fixture(scope="module")
def capture(aws: Clients, deployer: Deployer, stack: Stack) -> Iterator[str]:
    """An SQS queue subscribed to the notification topic for the whole module."""
    with topic_capture(aws, stack.bind(deployer.ctx).arn(workflow.TOPIC)) as url:
        yield url
