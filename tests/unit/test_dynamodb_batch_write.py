"""BatchWriteItem in the embedded engine's DynamoDB (moto-ext, patched by
infra/serverless_testbed/localstack_plugins/dynamodb_batch_write.py): requests applied in order, so stream
records follow them, and one key twice in a batch refused as AWS refuses it.

Runs moto's request handler in process (moto's own `mock_aws`), with the patch installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb import models as backend_module
from moto.dynamodb import responses as responses_module
from serverless_testbed.localstack_plugins import dynamodb_batch_write

pytestmark = pytest.mark.unit


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    handler = responses_module.DynamoHandler
    monkeypatch.setattr(handler, "batch_write_item", handler.batch_write_item)
    monkeypatch.delattr(responses_module, "_testbed_batch_write", raising=False)
    dynamodb_batch_write.install(responses_module)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield client


def put(pk: str, **extra: str) -> dict[str, Any]:
    return {"PutRequest": {"Item": {"pk": {"S": pk}, **{k: {"S": v} for k, v in extra.items()}}}}


def delete(pk: str) -> dict[str, Any]:
    return {"DeleteRequest": {"Key": {"pk": {"S": pk}}}}


def stream_events() -> list[str]:
    table = backend_module.dynamodb_backends["123456789012"]["us-east-1"].get_table("t")
    return [f"{r.record['eventName']}:{r.record['dynamodb']['Keys']['pk']['S']}" for r in table.stream_shard.items]


def test_requests_are_applied_in_order_and_their_stream_records_follow(ddb: Any) -> None:
    ddb.batch_write_item(RequestItems={"t": [put("a"), put("b")]})
    ddb.batch_write_item(RequestItems={"t": [put("c"), delete("a"), put("b", v="2")]})
    assert stream_events() == ["INSERT:a", "INSERT:b", "INSERT:c", "REMOVE:a", "MODIFY:b"]


@pytest.mark.parametrize(
    "requests",
    [[put("a"), put("a", v="other")], [put("a"), delete("a")], [delete("a"), delete("a")]],
    ids=["two puts of one key", "a put and a delete of one key", "two deletes of one key"],
)
def test_one_key_twice_in_a_batch_is_refused_and_nothing_written(ddb: Any, requests: list[dict[str, Any]]) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.batch_write_item(RequestItems={"t": requests})
    error = raised.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("ValidationException", dynamodb_batch_write.DUPLICATES)
    assert ddb.scan(TableName="t")["Items"] == []
