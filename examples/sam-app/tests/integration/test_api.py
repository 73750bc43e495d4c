"""API Gateway -> Lambda -> DynamoDB, through the API's URL from the stack's Outputs."""

import uuid

import boto3
import requests
from conftest import eventually


def test_a_posted_order_is_stored_and_read_back(outputs):
    order_id = f"api-{uuid.uuid4()}"
    created = requests.post(outputs["OrdersApiUrl"] + "orders", json={"id": order_id, "item": "book"}, timeout=10)
    assert created.status_code == 201, created.text
    assert created.json() == {"id": order_id}

    table = boto3.resource("dynamodb").Table(outputs["OrdersTableName"])
    stored = eventually(lambda: table.get_item(Key={"id": order_id}).get("Item"), f"order {order_id} in the table")
    assert stored["item"] == "book"

    read = requests.get(outputs["OrdersApiUrl"] + f"orders/{order_id}", timeout=10)
    assert read.status_code == 200
    assert read.json()["id"] == order_id


def test_an_unknown_order_is_404(outputs):
    response = requests.get(outputs["OrdersApiUrl"] + "orders/no-such-order", timeout=10)
    assert response.status_code == 404
