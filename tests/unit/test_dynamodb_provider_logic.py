"""The DynamoDB provider's pure parts: PartiQL translation, answer shapes, stream records, checks.

The engine-level behaviour is in tests/integration/engine/test_dynamodb_fidelity.py; these
pin the translations and shapes themselves, without an engine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from localstack.aws.api import CommonServiceException
from serverless_testbed.localstack_plugins import dynamodb_checks as checks
from serverless_testbed.localstack_plugins import dynamodb_partiql as partiql
from serverless_testbed.localstack_plugins import dynamodb_shapes as shapes
from serverless_testbed.localstack_plugins import dynamodb_streams as streams

pytestmark = pytest.mark.unit


def keys_of(table: str, index: str | None) -> tuple[str, str | None]:
    return ("g", None) if index else ("pk", "sk")


def expression_values(request: dict[str, Any]) -> dict[str, Any]:
    """The request with its placeholders substituted, to compare meaning, not numbering."""
    text = " | ".join(str(v) for k, v in sorted(request.items()) if k.endswith("Expression"))
    for placeholder, name in (request.get("ExpressionAttributeNames") or {}).items():
        text = text.replace(placeholder, name)
    for placeholder, value in (request.get("ExpressionAttributeValues") or {}).items():
        text = text.replace(placeholder, repr(value))
    return {"text": text, "Key": request.get("Key"), "Item": request.get("Item")}


def test_select_with_the_partition_key_is_a_query_with_a_filter_for_the_rest():
    t = partiql.translate('SELECT a, b.c FROM "t" WHERE pk = ? AND n > 3', [{"S": "p"}], keys_of)
    assert (t.operation, t.request["TableName"]) == ("Query", "t")
    assert expression_values(t.request)["text"] == "(n > {'N': '3'}) | pk = {'S': 'p'} | a, b.c"


def test_select_without_the_partition_key_is_a_scan_and_keeps_functions_in_lists_and_precedence():
    t = partiql.translate(
        "SELECT * FROM t.\"by-g\" WHERE begins_with(name, 'ab') OR x IN [1, ?] AND y IS NOT MISSING",
        [{"N": "2"}],
        keys_of,
    )
    assert (t.operation, t.request["IndexName"]) == ("Scan", "by-g")
    assert expression_values(t.request)["text"] == (
        # AND binds tighter than OR: one filter, as written
        "(begins_with ( name , {'S': 'ab'} ) OR x IN ({'N': '1'}, {'N': '2'}) AND attribute_exists(y))"
    )


def test_insert_is_a_put_that_must_not_overwrite_and_reports_a_duplicate():
    t = partiql.translate(
        "INSERT INTO t VALUE {'pk': ?, 'sk': 'b', 'tags': <<1, 2>>, 'm': {'k': [true, null]}}", [{"S": "a"}], keys_of
    )
    assert t.operation == "PutItem"
    assert t.request["Item"] == {
        "pk": {"S": "a"},
        "sk": {"S": "b"},
        "tags": {"NS": ["1", "2"]},
        "m": {"M": {"k": {"L": [{"BOOL": True}, {"NULL": True}]}}},
    }
    assert t.request["ConditionExpression"] == "attribute_not_exists(#k)"
    assert t.renames["ConditionalCheckFailedException"][0] == "DuplicateItemException"


def test_update_needs_the_whole_key_and_updates_only_an_existing_item():
    t = partiql.translate(
        "UPDATE t SET n = n + 1, s = 'x' REMOVE old WHERE pk = 'a' AND sk = 'b' AND v = 2", [], keys_of
    )
    assert t.operation == "UpdateItem"
    assert t.request["Key"] == {"pk": {"S": "a"}, "sk": {"S": "b"}}
    meaning = expression_values(t.request)["text"]
    assert meaning == "attribute_exists(pk) AND (v = {'N': '2'}) | SET n = n + {'N': '1'}, s = {'S': 'x'} REMOVE old"

    with pytest.raises(CommonServiceException, match="mandatory equality on all key attributes"):
        partiql.translate("UPDATE t SET n = 1 WHERE pk = 'a'", [], keys_of)


def test_delete_by_key():
    t = partiql.translate('DELETE FROM "t" WHERE pk = ? AND sk = ?', [{"S": "a"}, {"S": "b"}], keys_of)
    assert (t.operation, t.request) == ("DeleteItem", {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "b"}}})


@pytest.mark.parametrize(
    ("statement", "parameters", "message"),
    [
        ("SELEKT * FROM t", [], "expected SELECT"),
        ("SELECT * FROM t WHERE", [], "WHERE clause is empty"),
        ("SELECT * FROM t WHERE pk = ?", [], "parameters in request and statement"),
        ("SELECT * FROM t", [{"S": "x"}], "parameters in request and statement"),
        ("SELECT * FROM t WHERE pk = 'a' ORDER BY sk", [], "ORDER"),
        ("UPDATE t SET n = 1 WHERE pk = 'a' AND sk = 'b' RETURNING ALL NEW *", [], "RETURNING"),
        ("INSERT INTO t VALUE 'x'", [], "needs a map"),
        ("SELECT * FROM t WHERE a = 1 ; DROP", [], "unexpected"),
    ],
)
def test_what_cannot_be_translated_is_a_validation_error(statement, parameters, message):
    with pytest.raises(CommonServiceException, match=message) as caught:
        partiql.translate(statement, parameters, keys_of)
    assert caught.value.code == "ValidationException"


def test_next_token_round_trip_and_refusal():
    key = {"pk": {"S": "a"}}
    assert partiql.decode_token(partiql.encode_token(key)) == key
    with pytest.raises(CommonServiceException, match="Invalid NextToken"):
        partiql.decode_token("not-a-token")


def test_answers_lose_the_fields_not_asked_for():
    answer = {"Attributes": {}, "ConsumedCapacity": {"CapacityUnits": 1}, "ItemCollectionMetrics": {}}
    assert shapes.strip_unrequested("DeleteItem", {}, dict(answer)) == {}
    asked = {"ReturnConsumedCapacity": "TOTAL", "ReturnItemCollectionMetrics": "SIZE"}
    kept = shapes.strip_unrequested("PutItem", asked, {**answer, "Attributes": {"a": {"S": "b"}}})
    assert set(kept) == {"Attributes", "ConsumedCapacity", "ItemCollectionMetrics"}


def test_table_descriptions_in_aws_shape():
    created = datetime(2024, 1, 2, tzinfo=UTC)
    arn = "arn:aws:dynamodb:us-east-1:000000000000:table/t"
    description = {
        "TableArn": arn,
        "CreationDateTime": created,
        "BillingModeSummary": {"BillingMode": "PROVISIONED"},
        "LocalSecondaryIndexes": [],
        "GlobalSecondaryIndexes": [{"IndexName": "g"}],
    }
    shaped = shapes.shape_table(description, operation="DescribeTable", table_class=None, index_stats=lambda n: (3, 30))
    assert shaped["TableId"] == shapes.table_id(arn, created) != shapes.table_id(arn, datetime(2025, 1, 1, tzinfo=UTC))
    assert "BillingModeSummary" not in shaped
    assert "LocalSecondaryIndexes" not in shaped
    assert shaped["GlobalSecondaryIndexes"] == [
        {"IndexName": "g", "IndexArn": f"{arn}/index/g", "IndexSizeBytes": 30, "ItemCount": 3}
    ]
    assert shaped["TableClassSummary"] == {"TableClass": "STANDARD"}
    created_answer = shapes.shape_table({"TableArn": arn}, operation="CreateTable", table_class=None)
    assert "TableClassSummary" not in created_answer


def test_describe_stream_pages_after_the_exclusive_start_shard():
    answer = {"StreamDescription": {"Shards": [{"ShardId": "shardId-1"}, {"ShardId": "shardId-2"}]}}
    shaped = shapes.shape_describe_stream({"ExclusiveStartShardId": "shardId-1"}, answer)
    assert shaped["StreamDescription"]["Shards"] == [{"ShardId": "shardId-2"}]


def test_stream_records_in_aws_shape():
    record = {
        "eventName": "INSERT",
        "eventVersion": "1.0",
        "dynamodb": {
            "Keys": {"id": {"S": "Fred"}},
            "NewImage": {"id": {"S": "Fred"}, "b": {"B": "kA=="}, "m": {"M": {"bs": {"BS": ["AQI="]}}}},
            "OldImage": {},
        },
    }
    shaped = streams.aws_record(record)
    assert shaped["eventVersion"] == "1.1"
    assert "OldImage" not in shaped["dynamodb"]
    assert shaped["dynamodb"]["NewImage"]["b"] == {"B": b"\x90"}
    assert shaped["dynamodb"]["NewImage"]["m"] == {"M": {"bs": {"BS": [b"\x01\x02"]}}}
    # keys 2+4, image 2+4 + 1+1 + 1+(2+2)
    assert shaped["dynamodb"]["SizeBytes"] == 6 + 6 + 2 + 5


def test_batch_write_and_index_checks():
    schema = checks.TableSchema(keys={"id": "S"}, indexes={"ready": "ACTIVE", "building": "CREATING"})
    good = {"RequestItems": {"t": [{"PutRequest": {"Item": {"id": {"S": "a"}, "x": {"N": "1"}}}}]}}
    checks.check_batch_write(good, {"t": schema})
    for bad in (
        {"PutRequest": {"Item": {"other": {"S": "a"}}}},
        {"PutRequest": {"Item": {"id": {"N": "1"}}}},
        {"DeleteRequest": {"Key": {"id": {"S": "a"}, "x": {"N": "1"}}}},
    ):
        with pytest.raises(CommonServiceException, match=checks.KEY_MISMATCH):
            checks.check_batch_write({"RequestItems": {"t": [bad]}}, {"t": schema})
    checks.check_index({"IndexName": "ready"}, schema)
    with pytest.raises(CommonServiceException, match="does not have the specified index: nope"):
        checks.check_index({"IndexName": "nope"}, schema)
    with pytest.raises(CommonServiceException, match="backfilling global secondary index: building"):
        checks.check_index({"IndexName": "building"}, schema)
    with pytest.raises(CommonServiceException, match="exactly one of the supported datatypes"):
        checks.check_parameters([{"S": "a"}, {}])
    keys_only = checks.TableSchema(keys={"id": "S"}, indexes={"k": "ACTIVE"}, partial_global_indexes=frozenset({"k"}))
    checks.check_index({"IndexName": "k", "Select": "ALL_PROJECTED_ATTRIBUTES"}, keys_only)
    checks.check_index({"IndexName": "ready", "Select": "ALL_ATTRIBUTES"}, schema)
    with pytest.raises(CommonServiceException, match="ALL_ATTRIBUTES is not supported for global secondary index k"):
        checks.check_index({"IndexName": "k", "Select": "ALL_ATTRIBUTES"}, keys_only)
