"""The state machine's tasks: validate an order, then store it (failing once when asked, to show the Retry)."""

import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


class TransientError(Exception):
    """A failure worth retrying."""


def validate(event, context):
    if not event.get("id") or not isinstance(event.get("quantity"), int) or event["quantity"] < 1:
        raise ValueError(f"invalid order: {event}")
    return {**event, "valid": True}


def store(event, context):
    attempts = table.update_item(
        Key={"id": f"attempts#{event['id']}"},
        UpdateExpression="ADD attempts :one",
        ExpressionAttributeValues={":one": 1},
        ReturnValues="UPDATED_NEW",
    )["Attributes"]["attempts"]
    if event.get("flaky") and attempts == 1:
        raise TransientError(f"order {event['id']}: the first attempt fails")
    table.put_item(Item={"id": event["id"], "source": "state-machine", "quantity": event["quantity"]})
    return {"id": event["id"], "attempts": int(attempts)}
