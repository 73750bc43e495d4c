"""Marks each confirmed order in the orders table, from the confirmations queue.

Fed by an SQS event source mapping with ReportBatchItemFailures: a message that names no
order, or an order no longer in the table (declined and deleted), is reported as failed
alone; SQS retries it and, after the queue's maxReceiveCount, moves it to the dead-letter
queue. The update never creates an item (`attribute_exists`), so a late confirmation
cannot bring a deleted order back.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import boto3
from botocore.exceptions import ClientError
from orders_shared.confirmations import NotAConfirmation, order_key

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
DYNAMODB = boto3.client("dynamodb")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event.get("Records", []):
        try:
            DYNAMODB.update_item(
                TableName=os.environ["TABLE_NAME"],
                Key=order_key(record),
                UpdateExpression="SET confirmedAt = :at, confirmationId = :id",
                ConditionExpression="attribute_exists(orderID)",
                ExpressionAttributeValues={
                    ":at": {"S": str(record["attributes"]["SentTimestamp"])},
                    ":id": {"S": record["messageId"]},
                },
            )
        except (NotAConfirmation, ClientError) as err:
            LOG.warning(json.dumps({"messageId": record.get("messageId"), "error": str(err)}))
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
