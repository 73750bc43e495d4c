"""Workflow 2 on files real users make: odd key names, CSV values with line breaks, and a
second file that reuses order ids already stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.observe import drain
from serverless_testbed.stack.stack import Stack

from fixtures.sales import COLUMNS, render_sales
from infra.runs.sales import check_outcome, upload
from infra.workflows import sales as workflow
from tests.integration.sales.records import unique_sales


@pytest.fixture(scope="module")
def stack(deploy: Callable[[str], Stack]) -> Stack:
    return deploy("sales")


def _letters(aws: Clients, deployer: Deployer, stack: Stack, source: str, count: int) -> list[dict[str, Any]]:
    url = aws("sqs").get_queue_url(QueueName=stack.bind(deployer.ctx).name(workflow.QUEUE))["QueueUrl"]
    keep = lambda m: json.loads(m["Body"]).get("source") == source  # noqa: E731
    letters = drain(aws, url, count=count, keep=keep, timeout=60) + drain(aws, url, count=0, keep=keep)
    return [json.loads(m["Body"]) for m in letters]


def _item(aws: Clients, deployer: Deployer, stack: Stack, order_id: str) -> dict[str, Any] | None:
    table = stack.bind(deployer.ctx).name(workflow.TABLE)
    found: dict[str, Any] | None = (
        aws("dynamodb").get_item(TableName=table, Key={"orderId": {"S": order_id}}, ConsistentRead=True).get("Item")
    )
    return found


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_key_with_a_space_a_non_ascii_character_and_a_plus_is_read(
    deployer: Deployer, stack: Stack, fmt: str
) -> None:
    generated = unique_sales(30, 0.1, seed=51)

    key, execution = upload(deployer, stack, render_sales(generated, fmt), fmt, name="März sales+q1 2026")

    assert key == f"incoming/März sales+q1 2026.{fmt}"
    assert execution.status == "SUCCEEDED", f"expected SUCCEEDED, saw {execution.status} {execution.cause}"
    bucket = stack.bind(deployer.ctx).name(workflow.BUCKET)
    assert execution.output["source"] == f"s3://{bucket}/{key}"
    problems = check_outcome(deployer, stack, generated, execution.output["source"], execution)
    assert not problems, "\n".join(problems)


def test_a_quoted_csv_value_with_a_line_break_is_one_record(aws: Clients, deployer: Deployer, stack: Stack) -> None:
    first, second, third = (str(item.record["orderId"]) for item in unique_sales(3, 0, seed=52))
    header = ",".join(COLUMNS)
    body = (
        f"{header}\r\n"
        f"{first},2026-01-02,CUST-1,P-1001,north,1,2.50\r\n"
        f'{second},2026-01-02,"CUST-2\r\nsecond floor",P-1001,north,2,2.50\r\n'
        f'{third},"2026-01-02,CUST-3,P-1001,north,3,2.50\r\n'  # a quote that never closes: this line alone
        f"{third},2026-01-03,CUST-3,P-1002,south,3,2.50\r\n"
    )

    _key, execution = upload(deployer, stack, body, "csv")

    assert execution.status == "SUCCEEDED", f"expected SUCCEEDED, saw {execution.status} {execution.cause}"
    assert (execution.output["total"], execution.output["stored"], execution.output["rejected"]) == (4, 3, 1)
    stored = _item(aws, deployer, stack, second)
    assert stored is not None
    assert stored["customerId"] == {"S": "CUST-2\r\nsecond floor"}
    assert stored["sourceLine"] == {"N": "2"}, "a record is numbered by the line it starts on"
    later = _item(aws, deployer, stack, third)
    assert later is not None
    assert later["sourceLine"] == {"N": "5"}
    letters = _letters(aws, deployer, stack, execution.output["source"], 1)
    assert [(letter["line"], letter["reasons"]) for letter in letters] == [(4, ["malformed-line"])]


def test_a_second_file_reusing_stored_order_ids_is_refused_for_those_and_a_reupload_stays_idempotent(
    aws: Clients, deployer: Deployer, stack: Stack
) -> None:
    original = unique_sales(20, 0, seed=53)
    later = unique_sales(20, 0, seed=54)
    reused = [str(item.record["orderId"]) for item in original[:5]]
    for item, order_id in zip(later, reused, strict=False):
        item.record["orderId"] = order_id

    first_key, first = upload(deployer, stack, render_sales(original, "json"), "json", name=f"orders-{reused[0]}")
    _key, second = upload(deployer, stack, render_sales(later, "csv"), "csv")
    _again_key, again = upload(deployer, stack, render_sales(original, "json"), "json", name=f"orders-{reused[0]}")

    assert [e.status for e in (first, second, again)] == ["SUCCEEDED"] * 3
    assert (second.output["stored"], second.output["rejected"]) == (15, 5), second.output
    assert (again.output["stored"], again.output["rejected"]) == (20, 0), "the same file again is idempotent"
    letters = _letters(aws, deployer, stack, second.output["source"], 5)
    assert sorted((letter["line"], tuple(letter["reasons"])) for letter in letters) == [
        (line, ("duplicate-order",)) for line in range(1, 6)
    ]
    assert {letter["record"]["orderId"] for letter in letters} == set(reused)
    for order_id, item in zip(reused, original, strict=False):
        stored = _item(aws, deployer, stack, order_id)
        assert stored is not None
        assert stored["sourceFile"] == {"S": first.output["source"]}, "the first file's order stays"
        assert stored["customerId"] == {"S": item.record["customerId"]}
    assert first_key == _again_key
