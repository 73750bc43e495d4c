"""Processes one queued order (python3.9): forwards it to the processed queue, or fails it."""

import json
import os

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    for record in event["Records"]:
        order = json.loads(record["body"])
        if order.get("poison"):
            raise ValueError(f"cannot process order {order.get('id')}")
        order["processed_by"] = context.function_name
        sqs.send_message(QueueUrl=os.environ["PROCESSED_QUEUE_URL"], MessageBody=json.dumps(order))
