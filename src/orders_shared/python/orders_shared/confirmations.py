"""An order confirmation as it reaches a queue from the orders topic (raw delivery: the SNS
message attributes become the SQS message's attributes)."""

from __future__ import annotations

from typing import Any


class NotAConfirmation(ValueError):
    """A message on the confirmations queue that names no order."""


def order_key(record: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The orders table key of the order an SQS record confirms."""
    attributes = record.get("messageAttributes") or {}
    try:
        customer = attributes["customerID"]["stringValue"]
        order = attributes["orderID"]["stringValue"]
    except (KeyError, TypeError) as err:
        raise NotAConfirmation(f"message {record.get('messageId')} names no customerID and orderID") from err
    return {"customerID": {"S": customer}, "orderID": {"S": order}}
