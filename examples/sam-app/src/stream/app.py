"""Stores each Kinesis record (a JSON order) in the table."""

import base64
import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event, context):
    for record in event["Records"]:
        order = json.loads(base64.b64decode(record["kinesis"]["data"]))
        table.put_item(Item={"id": order["id"], "source": "stream", "sequence": record["kinesis"]["sequenceNumber"]})
