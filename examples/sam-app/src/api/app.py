"""POST /orders stores an order; GET /orders/{id} reads it back."""

import json
import os
import uuid

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event, context):
    if event["httpMethod"] == "POST":
        order = json.loads(event.get("body") or "{}")
        order_id = order.get("id") or str(uuid.uuid4())
        table.put_item(Item={"id": order_id, "source": "api", "item": str(order.get("item", ""))})
        return {"statusCode": 201, "body": json.dumps({"id": order_id})}
    found = table.get_item(Key={"id": event["pathParameters"]["id"]}).get("Item")
    if found is None:
        return {"statusCode": 404, "body": json.dumps({"message": "no such order"})}
    return {"statusCode": 200, "body": json.dumps(found)}
