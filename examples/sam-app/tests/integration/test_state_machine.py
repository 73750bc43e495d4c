"""Step Functions: Lambda tasks, a Retry on a transient error, a Catch for invalid orders."""

import json
import uuid

import boto3
from conftest import eventually

sfn = boto3.client("stepfunctions")


def run(outputs, order):
    arn = sfn.start_execution(stateMachineArn=outputs["OrderStateMachineArn"], input=json.dumps(order))["executionArn"]

    def finished():
        execution = sfn.describe_execution(executionArn=arn)
        return execution if execution["status"] != "RUNNING" else None

    return arn, eventually(finished, f"execution {arn} finished")


def test_a_valid_order_is_stored(outputs):
    order_id = f"sfn-{uuid.uuid4()}"
    _, execution = run(outputs, {"id": order_id, "quantity": 2})
    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"]) == {"id": order_id, "attempts": 1}


def test_a_transient_failure_is_retried(outputs):
    order_id = f"sfn-{uuid.uuid4()}"
    arn, execution = run(outputs, {"id": order_id, "quantity": 1, "flaky": True})
    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"])["attempts"] == 2
    events = sfn.get_execution_history(executionArn=arn)["events"]
    failures = [event["taskFailedEventDetails"]["error"] for event in events if event["type"] == "TaskFailed"]
    assert failures == ["TransientError"]


def test_an_invalid_order_fails_the_execution(outputs):
    _, execution = run(outputs, {"id": f"sfn-{uuid.uuid4()}", "quantity": 0})
    assert execution["status"] == "FAILED"
    assert execution["error"] == "InvalidOrder"
