"""Workflow 2, event-driven sales ingest: S3 upload -> EventBridge -> state machine.

Every record of a file ends in exactly one place: the table (valid) or the dead-letter
queue with the reasons it was rejected for (invalid).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.stack.stack import Stack

from fixtures.sales import render_sales
from infra.runs.sales import check_outcome, upload
from infra.workflows import sales as workflow
from tests.integration.sales.records import unique_sales

RECORDS = 240
INVALID_RATE = 0.1


@pytest.fixture(scope="module")
def stack(deploy: Callable[[str], Stack]) -> Stack:
    return deploy("sales")


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_every_record_ends_in_exactly_one_place(deployer: Deployer, stack: Stack, fmt: str) -> None:
    generated = unique_sales(RECORDS, INVALID_RATE, seed=21)
    invalid = sum(not item.expected.valid for item in generated)
    assert 0.05 * RECORDS <= invalid <= 0.15 * RECORDS, f"expected about 10 % bad records, got {invalid}"

    key, execution = upload(deployer, stack, render_sales(generated, fmt), fmt)

    assert execution.status == "SUCCEEDED", (
        f"expected SUCCEEDED, saw {execution.status} {execution.error}: {execution.cause}"
    )
    assert execution.path == ["ParseFile", "ValidateAndStore", "Summarise", "AllAccountedFor", "Ingested"]
    assert execution.output == {
        "source": f"s3://{stack.bind(deployer.ctx).name(workflow.BUCKET)}/{key}",
        "format": fmt,
        "total": RECORDS,
        "stored": RECORDS - invalid,
        "rejected": invalid,
        "batches": execution.output["batches"],
        "failedBatches": 0,
        "lostBatches": 0,
        "accounted": True,
    }
    problems = check_outcome(deployer, stack, generated, execution.output["source"], execution)
    assert not problems, "\n".join(problems)


def test_uploading_the_same_file_again_stores_no_duplicates(aws: Clients, deployer: Deployer, stack: Stack) -> None:
    generated = unique_sales(60, 0.1, seed=33)
    body = render_sales(generated, "json")
    table = stack.bind(deployer.ctx).name(workflow.TABLE)
    order_ids = {str(item.record["orderId"]) for item in generated if item.expected.valid}

    outcomes = [upload(deployer, stack, body, "json", name="same-file")[1] for _ in range(2)]

    assert [e.status for e in outcomes] == ["SUCCEEDED", "SUCCEEDED"]
    for execution in outcomes:
        problems = check_outcome(deployer, stack, generated, execution.output["source"], execution)
        assert not problems, "\n".join(problems)
    items = _scan(aws, table)
    copies = [item["orderId"]["S"] for item in items if item["orderId"]["S"] in order_ids]
    assert sorted(copies) == sorted(order_ids), "each valid order must be stored exactly once"


def test_an_unreadable_file_is_dead_lettered_whole(aws: Clients, deployer: Deployer, stack: Stack) -> None:
    key, execution = upload(deployer, stack, '{"not": "an array"}', "json")

    assert (execution.status, execution.error) == ("FAILED", "SalesFileRejected"), (
        f"expected FAILED SalesFileRejected, saw {execution.status} {execution.error}"
    )
    assert execution.path == ["ParseFile", "DeadLetterTheFile", "FileRejected"]
    url = aws("sqs").get_queue_url(QueueName=stack.bind(deployer.ctx).name(workflow.QUEUE))["QueueUrl"]
    from serverless_testbed.observe import drain

    source = f"s3://{stack.bind(deployer.ctx).name(workflow.BUCKET)}/{key}"
    letters = drain(aws, url, count=1, keep=lambda m: json.loads(m["Body"]).get("source") == source)
    reasons = json.loads(letters[0]["Body"])["reasons"]
    assert reasons[0].startswith("unreadable-file:"), reasons
    assert "array" in reasons[0], reasons


def test_files_outside_the_incoming_prefix_start_nothing(aws: Clients, deployer: Deployer, stack: Stack) -> None:
    from serverless_testbed.executions import known_executions

    machine = stack.bind(deployer.ctx).arn(workflow.MACHINE)
    before = known_executions(aws, machine)
    # The stray object goes first: by the time the incoming file's execution has
    # finished, an execution the stray object wrongly started would be listed too.
    aws("s3").put_object(Bucket=stack.bind(deployer.ctx).name(workflow.BUCKET), Key="elsewhere/x.json", Body=b"[]")
    _key, execution = upload(deployer, stack, render_sales(unique_sales(5, 0, seed=1), "json"), "json")
    after = known_executions(aws, machine)
    assert after - before == {execution.arn}, "only the file under incoming/ starts an execution"


def _scan(aws: Clients, table: str) -> list[dict[str, Any]]:
    paginator = aws("dynamodb").get_paginator("scan")
    return [item for page in paginator.paginate(TableName=table, ConsistentRead=True) for item in page["Items"]]
