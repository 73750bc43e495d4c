"""Lambda handlers that exercise the runtime; each test deploys this file as a function."""

import importlib
import json
import logging
import os
import sys
import time
from decimal import Decimal

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def echo(event, context):
    return {"event": event, "request_id": context.aws_request_id, "pid": os.getpid()}


def slow_echo(event, context):
    time.sleep(event.get("seconds", 0.5))  # holds the worker busy, to force concurrency
    return {"event": event, "pid": os.getpid()}


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


def raw_bytes(event, context):
    """AWS's Python runtime passes bytes through unencoded."""
    return bytes(event["bytes"])


def decimals(event, context):
    """What boto3 hands back from DynamoDB: numbers as Decimal; and a non-ASCII string."""
    return {
        "total": Decimal("42"),
        "price": Decimal("3.14159"),
        "big": Decimal("12345678901234567890.000000000001"),
        "exp": Decimal("1E+2"),
        "nan": Decimal("NaN"),
        "city": "Zürich",
    }


def nested_bytes(event, context):
    return {"blob": b"abc"}


def sized(event, context):
    """A string result whose JSON encoding is exactly `event["bytes"]` bytes long."""
    return "A" * (event["bytes"] - 2)


def table_item(event, context):
    """An item read back through the boto3 resource API, returned as is (Decimal numbers)."""
    table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    key = {"customerID": event["customerID"], "orderID": event["orderID"]}
    table.put_item(Item={**key, "total": Decimal("19.90"), "quantity": 3})
    return table.get_item(Key=key)["Item"]


def interpreter(event, context):
    """Which Python runs the function, and which of `event["modules"]` it can import."""
    importable = {}
    for name in event.get("modules", []):
        try:
            importlib.import_module(name)
            importable[name] = True
        except ImportError:
            importable[name] = False
    return {"version": list(sys.version_info[:2]), "importable": importable}


def url_echo(event, context):
    """A function URL handler: answers what it was asked."""
    body = {
        "path": event["rawPath"],
        "query": event["rawQueryString"],
        "method": event["requestContext"]["http"]["method"],
    }
    return {"statusCode": 201, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def own_file(event, context):
    """Where the code is: the working directory, `__file__`, and LAMBDA_TASK_ROOT."""
    with open("probes.py") as relative, open(__file__) as by_module:
        same = relative.read() == by_module.read()
    task_root = os.path.join(os.environ["LAMBDA_TASK_ROOT"], "probes.py")
    return {"same": same, "cwd": os.getcwd(), "task_root_readable": os.path.exists(task_root)}


def print_megabytes(event, context):
    """Print event["mb"] MB in numbered lines of 1 KB, as a chatty function does."""
    for block in range(event["mb"]):
        sys.stdout.write("".join(f"{block * 1024 + n:08d} {'x' * 1014}\n" for n in range(1024)))
    return event["mb"]
