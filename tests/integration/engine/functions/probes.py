"""Lambda handlers that exercise the runtime; each test deploys this file as a function."""

import json
import logging
import os
import time

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def echo(event, context):
    return {"event": event, "request_id": context.aws_request_id, "pid": os.getpid()}


def slow_echo(event, context):
    time.sleep(event.get("seconds", 0.5))  # holds the worker busy, to force concurrency
    return {"pid": os.getpid()}


def fail(event, context):
    raise ValueError(f"bad order {event.get('order_id')}")


def chatty(event, context):
    print("printed line", event.get("marker"))
    logger.info("logged line %s", event.get("marker"))
    return "ok"


def sleepy(event, context):
    print("going to sleep")
    time.sleep(event["seconds"])
    return "woke up"


def crash(event, context):
    print("about to crash")
    os._exit(3)


def environment(event, context):
    return dict(os.environ)


def record(event, context):
    """Forward every event received to the SINK_QUEUE_URL queue, for tests to read back."""
    boto3.client("sqs").send_message(QueueUrl=os.environ["SINK_QUEUE_URL"], MessageBody=json.dumps(event))
    return {"recorded": True}


def table_roundtrip(event, context):
    """Write an item through boto3, read it back and return it."""
    table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    table.put_item(Item={"customerID": event["customerID"], "orderID": event["orderID"], "total": 42})
    item = table.get_item(Key={"customerID": event["customerID"], "orderID": event["orderID"]})["Item"]
    return {"customerID": item["customerID"], "orderID": item["orderID"], "total": int(item["total"])}


def check_transaction(event, context):
    return {"approved": event.get("amount", 0) < 1000, "orderID": event["orderID"]}
