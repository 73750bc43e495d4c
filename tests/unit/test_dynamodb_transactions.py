"""TransactWriteItems in the embedded engine's DynamoDB (moto-ext, patched by
infra/serverless_testbed/localstack_plugins/dynamodb_transactions.py): all or nothing, as AWS documents it,
with a rollback that restores only the touched items and their stream records.

Runs moto's backend in process (moto's own `mock_aws`), with the patch installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb import models as backend_module
from serverless_testbed.localstack_plugins import dynamodb_transactions

pytestmark = pytest.mark.unit
CONDITION = "attribute_not_exists(pk) OR src = :src"


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(
        backend_module.DynamoDBBackend, "transact_write_items", backend_module.DynamoDBBackend.transact_write_items
    )
    dynamodb_transactions.install(backend_module)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield client


def put(pk: str, src: str, n: int = 1) -> dict[str, Any]:
    item = {"pk": {"S": pk}, "sk": {"N": str(n)}, "src": {"S": src}}
    return {
        "Put": {
            "TableName": "t",
            "Item": item,
            "ConditionExpression": CONDITION,
            "ExpressionAttributeValues": {":src": {"S": src}},
        }
    }


def items(client: Any) -> dict[str, str]:
    return {i["pk"]["S"]: i["src"]["S"] for i in client.scan(TableName="t")["Items"]}


def stream_events(client: Any) -> list[str]:
    """The table's stream records as moto keeps them (moto-ext serves no DynamoDB Streams API here)."""
    table = backend_module.dynamodb_backends["123456789012"]["us-east-1"].get_table("t")
    return [f"{r.record['eventName']}:{r.record['dynamodb']['Keys']['pk']['S']}" for r in table.stream_shard.items]


def cancelled(client: Any, transact: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(ClientError) as raised:
        client.transact_write_items(TransactItems=transact)
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException", raised.value.response
    return [reason["Code"] for reason in raised.value.response["CancellationReasons"]]


def test_a_transaction_whose_conditions_hold_writes_every_item_and_its_stream_records(ddb: Any) -> None:
    ddb.transact_write_items(TransactItems=[put("a", "f1"), put("b", "f1"), put("c", "f1")])
    assert items(ddb) == {"a": "f1", "b": "f1", "c": "f1"}
    assert stream_events(ddb) == ["INSERT:a", "INSERT:b", "INSERT:c"]


def test_one_failed_condition_cancels_all_with_a_reason_per_item_and_leaves_no_trace(ddb: Any) -> None:
    ddb.put_item(TableName="t", Item={"pk": {"S": "b"}, "sk": {"N": "1"}, "src": {"S": "other"}})
    reasons = cancelled(ddb, [put("a", "f1"), put("b", "f1"), put("c", "f1")])
    assert reasons == ["None", "ConditionalCheckFailed", "None"]
    assert items(ddb) == {"b": "other"}, "the items written before the failed one must be rolled back"
    assert stream_events(ddb) == ["INSERT:b"], "a cancelled transaction leaves no stream records"


def test_a_cancelled_overwrite_and_update_restore_the_items_as_they_were(ddb: Any) -> None:
    ddb.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "src": {"S": "f1"}, "n": {"N": "1"}})
    ddb.put_item(TableName="t", Item={"pk": {"S": "u"}, "sk": {"N": "1"}, "src": {"S": "f1"}, "n": {"N": "1"}})
    ddb.put_item(TableName="t", Item={"pk": {"S": "z"}, "sk": {"N": "1"}, "src": {"S": "other"}})
    update = {
        "Update": {
            "TableName": "t",
            "Key": {"pk": {"S": "u"}, "sk": {"N": "1"}},
            "UpdateExpression": "SET n = n + :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }
    reasons = cancelled(ddb, [put("a", "f1"), update, put("z", "f1")])
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    got = {i["pk"]["S"]: i for i in ddb.scan(TableName="t")["Items"]}
    assert got["u"]["n"] == {"N": "1"}, f"the update must be undone, saw {got['u']}"
    assert got["a"]["n"] == {"N": "1"}, f"the overwrite must be undone, saw {got['a']}"
    assert stream_events(ddb) == ["INSERT:a", "INSERT:u", "INSERT:z"]


def test_the_same_item_twice_is_refused_as_aws_does(ddb: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=[put("a", "f1"), put("a", "f1")])
    assert raised.value.response["Error"]["Code"] == "ValidationException", raised.value.response
    assert items(ddb) == {}


def test_a_rollback_touches_only_the_items_of_the_transaction(ddb: Any) -> None:
    """The table is not copied and put back: items written meanwhile by others stay."""
    ddb.batch_write_item(
        RequestItems={
            "t": [
                {"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "sk": {"N": "1"}, "src": {"S": "x"}}}} for i in range(25)
            ]
        }
    )
    ddb.put_item(TableName="t", Item={"pk": {"S": "b"}, "sk": {"N": "1"}, "src": {"S": "other"}})
    assert cancelled(ddb, [put("a", "f1"), put("b", "f1")]) == ["None", "ConditionalCheckFailed"]
    assert len(items(ddb)) == 26
    assert "a" not in items(ddb)
