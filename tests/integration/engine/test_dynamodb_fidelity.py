"""DynamoDB and DynamoDB Streams answer as AWS does, where a pipeline would notice.

The expected answers come from AWS's documented behaviour and from LocalStack's
AWS-validated DynamoDB tests (tests/aws/services/dynamodb/test_dynamodb.py and its
snapshot, recorded against AWS): stream records, answer shapes, PartiQL, errors. They
hold on every target; the embedded engine gets there through its provider
(infra/serverless_testbed/localstack_plugins/dynamodb*.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from serverless_testbed.clients import Clients
from serverless_testbed.pytest_factories import TRUST_POLICY, Cleanup
from serverless_testbed.waiting import wait_for

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def make_table(aws: Clients, unique: Callable[[str], str], cleanup: Cleanup) -> Callable[..., str]:
    """A table keyed `id` (S); `stream=` a StreamViewType, `provisioned=True`, `gsi=` an index name on `g`
    projecting `projection` (ALL, KEYS_ONLY)."""
    ddb = aws("dynamodb")

    def make(
        stream: str | None = None, provisioned: bool = False, gsi: str | None = None, projection: str = "ALL"
    ) -> str:
        name = unique("fidelity")
        extra: dict[str, Any] = {}
        attributes = [{"AttributeName": "id", "AttributeType": "S"}]
        throughput = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        if stream:
            extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
        if provisioned:
            extra["ProvisionedThroughput"] = throughput
        else:
            extra["BillingMode"] = "PAY_PER_REQUEST"
        if gsi:
            attributes.append({"AttributeName": "g", "AttributeType": "S"})
            index: dict[str, Any] = {
                "IndexName": gsi,
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": projection},
            }
            if provisioned:
                index["ProvisionedThroughput"] = throughput
            extra["GlobalSecondaryIndexes"] = [index]
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=attributes,
            **extra,
        )
        cleanup.add(f"table {name}", lambda: ddb.delete_table(TableName=name))
        ddb.get_waiter("table_exists").wait(TableName=name)
        return name

    return make


def stream_records(aws: Clients, table: str, count: int) -> list[dict[str, Any]]:
    """The first `count` records of the table's stream (bounded wait: AWS delivers them within seconds)."""
    streams = aws("dynamodbstreams")
    arn = aws("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    seen: list[dict[str, Any]] = []

    def read() -> bool:
        seen.clear()
        for shard in shards:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            seen.extend(streams.get_records(ShardIterator=iterator)["Records"])
        return len(seen) >= count

    wait_for(read, timeout=30, what=f"{count} stream records of {table} (seen {len(seen)})")
    return seen


def error_of(call: Callable[[], Any]) -> dict[str, str]:
    """The error code and message a call answers with (it must fail)."""
    with pytest.raises(ClientError) as caught:
        call()
    return {"Code": caught.value.response["Error"]["Code"], "Message": caught.value.response["Error"]["Message"]}


# -- 7. Stream records ------------------------------------------------------------------------


def test_stream_records_leave_out_the_missing_image_and_skip_unchanged_writes(aws, make_table):
    """AWS: INSERT has no OldImage, REMOVE no NewImage, eventVersion 1.1, and writing an
    identical item again writes no record (snapshot test_batch_write_items_streaming)."""
    table = make_table(stream="NEW_AND_OLD_IMAGES")
    ddb = aws("dynamodb")
    ddb.put_item(TableName=table, Item={"id": {"S": "Fred"}})
    ddb.put_item(TableName=table, Item={"id": {"S": "Fred"}})  # identical: no record
    ddb.put_item(TableName=table, Item={"id": {"S": "Fred"}, "name": {"S": "Fred"}})
    ddb.delete_item(TableName=table, Key={"id": {"S": "Fred"}})

    records = stream_records(aws, table, 3)

    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert {r["eventVersion"] for r in records} == {"1.1"}
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert "OldImage" not in insert
    assert insert["NewImage"] == {"id": {"S": "Fred"}}
    assert modify["OldImage"] == {"id": {"S": "Fred"}}
    assert modify["NewImage"] == {"id": {"S": "Fred"}, "name": {"S": "Fred"}}
    assert "NewImage" not in remove
    assert remove["OldImage"] == {"id": {"S": "Fred"}, "name": {"S": "Fred"}}
    # AWS's sizes for these records in the snapshot: keys plus images, names and values.
    assert [r["SizeBytes"] for r in (insert, modify, remove)] == [12, 26, 20]


def test_update_item_that_creates_the_item_writes_one_insert(aws, make_table):
    """AWS: an UpdateItem on a missing key writes one INSERT with the whole new item
    (snapshot test_transact_write_items_streaming, "NonExistentKey")."""
    table = make_table(stream="NEW_AND_OLD_IMAGES")
    ddb = aws("dynamodb")
    ddb.update_item(
        TableName=table,
        Key={"id": {"S": "NonExistentKey"}},
        UpdateExpression="SET attr1 = :v",
        ExpressionAttributeValues={":v": {"S": "value1"}},
    )
    ddb.put_item(TableName=table, Item={"id": {"S": "marker"}})  # the record after it

    records = stream_records(aws, table, 2)

    assert [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]) for r in records] == [
        ("INSERT", "NonExistentKey"),
        ("INSERT", "marker"),
    ]
    assert records[0]["dynamodb"]["NewImage"] == {"id": {"S": "NonExistentKey"}, "attr1": {"S": "value1"}}


def test_binary_values_arrive_in_stream_records_as_written(aws, make_table):
    """AWS: the stream carries the same bytes GetItem returns (snapshot test_data_encoding_consistency)."""
    table = make_table(stream="NEW_AND_OLD_IMAGES")
    ddb = aws("dynamodb")
    ddb.put_item(TableName=table, Item={"id": {"S": "id1"}, "data": {"B": b"\x90"}, "set": {"BS": [b"\x01\x02"]}})

    (record,) = stream_records(aws, table, 1)

    assert ddb.get_item(TableName=table, Key={"id": {"S": "id1"}})["Item"]["data"] == {"B": b"\x90"}
    assert record["dynamodb"]["NewImage"]["data"] == {"B": b"\x90"}
    assert record["dynamodb"]["NewImage"]["set"] == {"BS": [b"\x01\x02"]}


def test_describe_stream_lists_the_shards_after_exclusive_start_shard_id(aws, make_table):
    """AWS: DescribeStream with ExclusiveStartShardId lists only later shards
    (test_dynamodb_streams_describe_with_exclusive_start_shard_id)."""
    table = make_table(stream="KEYS_ONLY")
    streams = aws("dynamodbstreams")
    arn = aws("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    assert shards, "a new stream has at least one shard"

    after_last = streams.describe_stream(StreamArn=arn, ExclusiveStartShardId=shards[-1]["ShardId"])

    assert after_last["StreamDescription"]["Shards"] == []


# -- 8. Only the fields asked for --------------------------------------------------------------


def test_writes_answer_only_what_was_asked_for(aws, make_table):
    """AWS: no ConsumedCapacity without ReturnConsumedCapacity, no ItemCollectionMetrics
    without ReturnItemCollectionMetrics, no Attributes without ReturnValues
    (snapshot test_return_values_in_put_item: `PutFirstItem` is empty)."""
    table = make_table()
    ddb = aws("dynamodb")
    key = {"id": {"S": "a"}}
    answers = {
        "put": ddb.put_item(TableName=table, Item={**key, "n": {"N": "1"}}),
        "update": ddb.update_item(
            TableName=table, Key=key, UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "2"}}
        ),
        "get": ddb.get_item(TableName=table, Key=key),
        "delete": ddb.delete_item(TableName=table, Key=key),
    }
    for what, answer in answers.items():
        answer.pop("ResponseMetadata")
        assert not {"ConsumedCapacity", "ItemCollectionMetrics"} & set(answer), (what, answer)
        if what != "get":
            assert answer == {}, (what, answer)

    asked = ddb.put_item(TableName=table, Item=key, ReturnConsumedCapacity="TOTAL", ReturnValues="ALL_OLD")
    assert asked["ConsumedCapacity"]["TableName"] == table
    assert "Attributes" not in asked  # nothing was there before
    old = ddb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD")
    assert old["Attributes"] == key


def test_step_functions_delete_item_output_carries_no_attributes(aws, make_table, unique, cleanup, wait_execution):
    """AWS: a deleteItem task's output has no `Attributes` unless ReturnValues asks for them,
    so `$.deleteItemOutput.Attributes` does not exist (issue 13, item 8)."""
    table = make_table()
    aws("dynamodb").put_item(TableName=table, Item={"id": {"S": "o-1"}})
    definition = {
        "StartAt": "Delete",
        "States": {
            "Delete": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:deleteItem",
                "Parameters": {"TableName": table, "Key": {"id": {"S.$": "$.id"}}},
                "ResultPath": "$.deleteItemOutput",
                "End": True,
            }
        },
    }
    # A role of its own that may delete from this table (as on AWS; the engine checks it too).
    iam, sfn = aws("iam"), aws("stepfunctions")
    role = unique("delete-role")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))["Role"]["Arn"]
    cleanup.add(f"role {role}", lambda: iam.delete_role(RoleName=role))
    table_arn = aws("dynamodb").describe_table(TableName=table)["Table"]["TableArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:DeleteItem", "Resource": table_arn}],
    }
    iam.put_role_policy(RoleName=role, PolicyName="delete", PolicyDocument=json.dumps(policy))
    cleanup.add(f"policy of {role}", lambda: iam.delete_role_policy(RoleName=role, PolicyName="delete"))
    machine = sfn.create_state_machine(name=unique("delete"), definition=json.dumps(definition), roleArn=role_arn)
    cleanup.add("state machine", lambda: sfn.delete_state_machine(stateMachineArn=machine["stateMachineArn"]))
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps({"id": "o-1"}))
    result = wait_execution(execution["executionArn"])
    assert result["status"] == "SUCCEEDED", (result.get("error"), result.get("cause"))
    output = json.loads(result["output"])["deleteItemOutput"]
    assert not {"Attributes", "ConsumedCapacity", "ItemCollectionMetrics"} & set(output), output


# -- 9. PartiQL ---------------------------------------------------------------------------------


def test_partiql_insert_select_update_delete(aws, make_table):
    """AWS: the common PartiQL statements with parameters and literals (DynamoDB PartiQL reference)."""
    table = make_table()
    ddb = aws("dynamodb")

    def run(statement: str, *parameters: dict[str, Any]) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"Parameters": list(parameters)} if parameters else {}
        return list(ddb.execute_statement(Statement=statement, **kwargs)["Items"])

    assert run(f"INSERT INTO \"{table}\" VALUE {{'id': ?, 'n': 1, 'tag': 'blue'}}", {"S": "a"}) == []
    run(f"INSERT INTO \"{table}\" VALUE {{'id': 'b', 'n': 2, 'tags': <<'x', 'y'>>}}")
    duplicate = error_of(lambda: run(f"INSERT INTO \"{table}\" VALUE {{'id': 'a'}}"))
    assert duplicate["Code"] == "DuplicateItemException"

    assert run(f'SELECT * FROM "{table}" WHERE id = ?', {"S": "a"}) == [
        {"id": {"S": "a"}, "n": {"N": "1"}, "tag": {"S": "blue"}}
    ]
    assert run(f'SELECT id FROM "{table}" WHERE n = 2') == [{"id": {"S": "b"}}]
    assert sorted(
        i["id"]["S"] for i in run(f'SELECT id FROM "{table}" WHERE id IN [?, ?]', {"S": "a"}, {"S": "b"})
    ) == [
        "a",
        "b",
    ]
    assert run(f"SELECT id FROM \"{table}\" WHERE begins_with(tag, 'bl')") == [{"id": {"S": "a"}}]
    assert run(f'SELECT id FROM "{table}" WHERE tag IS MISSING') == [{"id": {"S": "b"}}]

    assert run(f'UPDATE "{table}" SET n = 5 SET tag = ? WHERE id = ?', {"S": "red"}, {"S": "a"}) == []
    assert run(f'SELECT n, tag FROM "{table}" WHERE id = ?', {"S": "a"}) == [{"n": {"N": "5"}, "tag": {"S": "red"}}]
    missing = error_of(lambda: run(f"UPDATE \"{table}\" SET n = 1 WHERE id = 'nobody'"))
    assert missing["Code"] == "ConditionalCheckFailedException"
    assert run(f'SELECT * FROM "{table}" WHERE id = ?', {"S": "nobody"}) == []

    assert run(f'DELETE FROM "{table}" WHERE id = ?', {"S": "b"}) == []
    assert ddb.get_item(TableName=table, Key={"id": {"S": "b"}}).get("Item") is None


def test_batch_execute_statement_answers_per_statement(aws, make_table):
    """AWS: one response per statement, with the table name, the item for a read, the error
    for a statement that failed (snapshot test_dynamodb_batch_execute_statement)."""
    table = make_table()
    ddb = aws("dynamodb")
    ddb.put_item(TableName=table, Item={"id": {"S": "user01"}})

    answer = ddb.batch_execute_statement(
        Statements=[
            {"Statement": f"INSERT INTO \"{table}\" VALUE {{'id': ?}}", "Parameters": [{"S": "user02"}]},
            {"Statement": f'UPDATE "{table}" SET age = 20 WHERE id = ?', "Parameters": [{"S": "user02"}]},
            {"Statement": f'SELECT * FROM "{table}" WHERE id = ?', "Parameters": [{"S": "user01"}]},
            {"Statement": f"INSERT INTO \"{table}\" VALUE {{'id': 'user01'}}"},
        ]
    )["Responses"]

    assert answer[0] == {"TableName": table}
    assert answer[1] == {"TableName": table}
    assert answer[2]["Item"] == {"id": {"S": "user01"}}
    assert answer[3]["Error"]["Code"] == "DuplicateItem"
    item = ddb.get_item(TableName=table, Key={"id": {"S": "user02"}})["Item"]
    assert item == {"id": {"S": "user02"}, "age": {"N": "20"}}


def test_partiql_refuses_bad_statements_with_validation_errors(aws, make_table):
    """AWS: an empty parameter, a statement it cannot parse and a WHERE without the key answer
    ValidationException (HTTP 400), never an internal error."""
    table = make_table()
    ddb = aws("dynamodb")

    empty = error_of(lambda: ddb.execute_statement(Statement=f'SELECT * FROM "{table}" WHERE id = ?', Parameters=[{}]))
    garbled = error_of(lambda: ddb.execute_statement(Statement=f'SELEKT * FROM "{table}"'))
    keyless = error_of(lambda: ddb.execute_statement(Statement=f'UPDATE "{table}" SET n = 1 WHERE n = 2'))

    assert empty["Code"] == "ValidationException"
    assert "AttributeValue" in empty["Message"]
    assert garbled["Code"] == "ValidationException"
    assert keyless["Code"] == "ValidationException"


# -- 10. Table descriptions ---------------------------------------------------------------------


def test_describe_table_has_aws_shape_for_a_provisioned_table_with_an_index(aws, make_table):
    """AWS: TableId, no BillingModeSummary for a PROVISIONED table, no empty index lists,
    GSIs with IndexArn, IndexSizeBytes and ItemCount, TableClassSummary (snapshots with
    `TableId`; DescribeTable reference)."""
    table = make_table(provisioned=True, gsi="by-g")
    ddb = aws("dynamodb")

    described = ddb.describe_table(TableName=table)["Table"]

    assert UUID.match(described["TableId"]), described
    assert ddb.describe_table(TableName=table)["Table"]["TableId"] == described["TableId"]
    assert "BillingModeSummary" not in described
    assert "LocalSecondaryIndexes" not in described
    (index,) = described["GlobalSecondaryIndexes"]
    assert index["IndexArn"] == f"{described['TableArn']}/index/by-g"
    assert isinstance(index["IndexSizeBytes"], int)
    assert isinstance(index["ItemCount"], int)
    assert described["TableClassSummary"] == {"TableClass": "STANDARD"}


def test_on_demand_table_has_its_billing_mode_summary_and_no_index_lists(aws, make_table):
    """AWS: a PAY_PER_REQUEST table says so in BillingModeSummary; tables without indexes list none."""
    described = aws("dynamodb").describe_table(TableName=make_table())["Table"]

    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert not {"GlobalSecondaryIndexes", "LocalSecondaryIndexes"} & set(described)
    assert UUID.match(described["TableId"])


def test_create_table_answers_without_warm_throughput(aws, unique, cleanup):
    """AWS: CreateTable's TableDescription has no WarmThroughput (every CreateTable snapshot of
    test_dynamodb_streams / the DynamoDB-stream event source tests; UpdateTable's has it)."""
    ddb = aws("dynamodb")
    name = unique("warm")
    created = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]
    cleanup.add(f"table {name}", lambda: ddb.delete_table(TableName=name))
    assert "WarmThroughput" not in created, created


def test_execute_transaction_of_writes_answers_an_empty_response_list(aws, make_table):
    """AWS: ExecuteTransaction with INSERTs answers `Responses: []` (snapshot
    test_dynamodb_execute_transaction), and writes every statement."""
    table = make_table()
    ddb = aws("dynamodb")
    answer = ddb.execute_transaction(
        TransactStatements=[
            {"Statement": f"INSERT INTO \"{table}\" VALUE {{'id': 'user01'}}"},
            {"Statement": f"INSERT INTO \"{table}\" VALUE {{'id': 'user02'}}"},
        ]
    )
    assert answer["Responses"] == []
    assert sorted(i["id"]["S"] for i in ddb.scan(TableName=table)["Items"]) == ["user01", "user02"]


def test_batch_write_stream_records_follow_the_requests(aws, make_table):
    """AWS: the stream records of one BatchWriteItem come in request order (snapshot
    test_batch_write_items_streaming: a REMOVE before a later MODIFY)."""
    table = make_table(stream="NEW_AND_OLD_IMAGES")
    ddb = aws("dynamodb")
    ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"id": {"S": k}}}} for k in ("a", "b")]})
    ddb.batch_write_item(
        RequestItems={
            table: [
                {"DeleteRequest": {"Key": {"id": {"S": "a"}}}},
                {"PutRequest": {"Item": {"id": {"S": "b"}, "v": {"S": "2"}}}},
            ]
        }
    )
    assert [f"{r['eventName']}:{r['dynamodb']['Keys']['id']['S']}" for r in stream_records(aws, table, 4)] == [
        "INSERT:a",
        "INSERT:b",
        "REMOVE:a",
        "MODIFY:b",
    ]


# -- 11. Errors ---------------------------------------------------------------------------------


def test_on_demand_table_with_provisioned_throughput_is_refused_in_aws_words(aws, unique):
    """AWS: ValidationException naming both capacity units (snapshot test_dynamodb_pay_per_request)."""
    error = error_of(
        lambda: aws("dynamodb").create_table(
            TableName=unique("ppr"),
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
            BillingMode="PAY_PER_REQUEST",
        )
    )
    assert error == {
        "Code": "ValidationException",
        "Message": "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits "
        "can be specified when BillingMode is PAY_PER_REQUEST",
    }


def test_describe_time_to_live_of_a_missing_table(aws, unique):
    """AWS: ResourceNotFoundException (moto's code was `ResourceNotFound`)."""
    error = error_of(lambda: aws("dynamodb").describe_time_to_live(TableName=unique("missing")))
    assert error["Code"] == "ResourceNotFoundException"


def test_batch_write_with_a_wrong_key(aws, make_table):
    """AWS: "The provided key element does not match the schema" (snapshot test_batch_write_not_matching_schema)."""
    table = make_table()
    error = error_of(
        lambda: aws("dynamodb").batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": {"wrong": {"S": "x"}}}}]}
        )
    )
    assert error == {"Code": "ValidationException", "Message": "The provided key element does not match the schema"}


def test_query_on_an_index_the_table_does_not_have(aws, make_table):
    """AWS: ValidationException "The table does not have the specified index: <name>"."""
    table = make_table(gsi="by-g")
    error = error_of(
        lambda: aws("dynamodb").query(
            TableName=table,
            IndexName="no-such-index",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "x"}},
        )
    )
    assert error == {
        "Code": "ValidationException",
        "Message": "The table does not have the specified index: no-such-index",
    }


def test_all_attributes_from_an_index_that_does_not_project_them_is_refused(aws, make_table):
    """AWS (Query API reference, Select): a global secondary index answers only what it projects,
    so ALL_ATTRIBUTES from a KEYS_ONLY one is a ValidationException (LocalStack's
    test_invalid_query_index and test_multiple_update_expressions); from an ALL one it is served."""
    ddb = aws("dynamodb")

    def query(table: str) -> Any:
        return ddb.query(
            TableName=table,
            IndexName="by-g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "x"}},
            Select="ALL_ATTRIBUTES",
        )

    keys_only = make_table(gsi="by-g", projection="KEYS_ONLY")
    assert error_of(lambda: query(keys_only)) == {
        "Code": "ValidationException",
        "Message": "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for"
        " global secondary index by-g because its projection type is not ALL",
    }
    full = make_table(gsi="by-g")
    ddb.put_item(TableName=full, Item={"id": {"S": "1"}, "g": {"S": "x"}, "more": {"N": "2"}})
    assert query(full)["Items"] == [{"id": {"S": "1"}, "g": {"S": "x"}, "more": {"N": "2"}}]
