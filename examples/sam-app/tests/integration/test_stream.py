"""Kinesis -> Lambda -> DynamoDB."""

import json
import uuid

import boto3
from conftest import eventually


def test_a_stream_record_is_stored(outputs):
    order_id = f"stream-{uuid.uuid4()}"
    boto3.client("kinesis").put_record(
        StreamName=outputs["OrderStreamName"], Data=json.dumps({"id": order_id}).encode(), PartitionKey=order_id
    )
    table = boto3.resource("dynamodb").Table(outputs["OrdersTableName"])
    stored = eventually(lambda: table.get_item(Key={"id": order_id}).get("Item"), f"order {order_id} in the table")
    assert stored["source"] == "stream"
