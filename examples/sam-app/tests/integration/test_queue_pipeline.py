"""API Gateway -> SQS -> Lambda (python3.9) -> SQS, with a dead-letter queue for what fails."""

import json
import uuid

import boto3
import requests
from conftest import eventually

sqs = boto3.client("sqs")


def messages(queue_url):
    """Every message the queue hands out now (deleted once read)."""
    found = []
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    ):
        found.append(json.loads(message["Body"]))
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def wait_for(queue_url, order_id, deadline_s=10):
    seen = []

    def arrived():
        seen.extend(messages(queue_url))
        return [message for message in seen if message.get("id") == order_id]

    return eventually(arrived, f"order {order_id} on {queue_url}", deadline_s)[0]


def test_a_queued_order_is_processed_by_the_python39_worker(outputs):
    order_id = f"queue-{uuid.uuid4()}"
    response = requests.post(outputs["OrdersApiUrl"] + "queue", json={"id": order_id}, timeout=10)
    assert response.status_code == 200, response.text
    processed = wait_for(outputs["ProcessedQueueUrl"], order_id)
    assert processed["processed_by"]


def test_an_order_the_worker_fails_on_ends_in_the_dead_letter_queue(outputs):
    order_id = f"poison-{uuid.uuid4()}"
    sqs.send_message(QueueUrl=outputs["IncomingQueueUrl"], MessageBody=json.dumps({"id": order_id, "poison": True}))
    # One failed receive, the queue's 5 s visibility timeout, then the redrive (maxReceiveCount 1).
    dead = wait_for(outputs["DeadLetterQueueUrl"], order_id, deadline_s=20)
    assert dead["poison"] is True


def test_the_queue_urls_answer_plain_http(outputs):
    # Any client, not only boto3, uses the queue URL as it stands (SQS's JSON protocol).
    response = requests.post(
        outputs["IncomingQueueUrl"],
        headers={"X-Amz-Target": "AmazonSQS.GetQueueAttributes", "Content-Type": "application/x-amz-json-1.0"},
        json={"QueueUrl": outputs["IncomingQueueUrl"], "AttributeNames": ["QueueArn"]},
        timeout=10,
    )
    assert response.status_code in (200, 400, 403), response.text
