"""IAM enforcement in the embedded engine: a role's requests are answered as AWS answers them.

A role here may read one object prefix of one bucket. The function and the state machine that
run with it are allowed exactly that, and every other call ends in the service's AccessDenied
error, as on AWS; the test's own (root) credentials stay allowed throughout.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from serverless_testbed.clients import Clients
from serverless_testbed.engine.base import Engine
from serverless_testbed.packaging import zip_files
from serverless_testbed.pytest_factories import Cleanup

from tests.integration.iam.roles import read_only, role_clients

pytestmark = pytest.mark.embedded_only(reason="IAM enforcement is the embedded engine's own (LocalStack's is paid)")

FUNCTIONS = Path(__file__).parent / "functions"


@pytest.fixture
def buckets(aws: Clients, make_bucket: Callable[[], str]) -> tuple[str, str]:
    """(granted, other): two buckets holding the same object `data.txt`."""
    granted, other = make_bucket(), make_bucket()
    for bucket in (granted, other):
        aws("s3").put_object(Bucket=bucket, Key="data.txt", Body=f"in {bucket}".encode())
    return granted, other


def denials(engine: Engine) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{engine.endpoint_url}/_testbed/iam/denials", timeout=5) as answer:
        listed: list[dict[str, Any]] = json.load(answer)["denials"]
        return listed


def test_a_function_may_make_only_the_calls_its_role_grants(
    aws: Clients,
    testbed_engine: Engine,
    make_role: Callable[[list[dict[str, Any]]], str],
    buckets: tuple[str, str],
    unique: Callable[[str], str],
    cleanup: Cleanup,
) -> None:
    granted, other = buckets
    # As AWSLambdaBasicExecutionRole: Lambda writes the function's logs with its role too.
    logs = {
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": "arn:aws:logs:*:*:*",
    }
    role = make_role([*read_only(granted), logs])
    lam = aws("lambda")
    name = unique("iam-fn")
    source = FUNCTIONS / "s3_probe.py"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="s3_probe.handler",
        Code={"ZipFile": zip_files({source.name: source.read_bytes()})},
        Timeout=30,
    )
    cleanup.add(f"function {name}", lambda: lam.delete_function(FunctionName=name))
    lam.get_waiter("function_active_v2").wait(FunctionName=name)

    answer = lam.invoke(FunctionName=name, Payload=json.dumps({"granted": granted, "other": other, "key": "data.txt"}))
    outcomes = json.loads(answer["Payload"].read())

    assert "FunctionError" not in answer, outcomes
    assert outcomes == {
        "get-granted": {"ok": f"in {granted}"},
        "put-granted": {"code": "AccessDenied", "status": 403},
        "get-other-bucket": {"code": "AccessDenied", "status": 403},
        # Without s3:ListBucket AWS does not say whether the key exists.
        "get-missing-key": {"code": "AccessDenied", "status": 403},
    }, outcomes
    refused = {(d["action"], d["resource"]) for d in denials(testbed_engine) if d["role"] == role}
    assert refused == {
        ("s3:PutObject", f"arn:aws:s3:::{granted}/written-by-function"),
        ("s3:GetObject", f"arn:aws:s3:::{other}/data.txt"),
        ("s3:ListBucket", f"arn:aws:s3:::{granted}"),
    }, refused
    # The test's own credentials are the account's root: nothing is refused to them.
    assert aws("s3").get_object(Bucket=other, Key="data.txt")["Body"].read() == f"in {other}".encode()
    with pytest.raises(ClientError, match="NoSuchKey"):
        aws("s3").get_object(Bucket=granted, Key="no-such-key")


def test_a_state_machine_task_may_make_only_the_calls_its_role_grants(
    aws: Clients,
    make_role: Callable[[list[dict[str, Any]]], str],
    buckets: tuple[str, str],
    unique: Callable[[str], str],
    cleanup: Cleanup,
    wait_execution: Callable[..., dict[str, Any]],
) -> None:
    granted, other = buckets
    role = make_role(read_only(granted))
    definition = {
        "StartAt": "Which",
        "States": {
            "Which": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.op", "StringEquals": "put", "Next": "Put"}],
                "Default": "Get",
            },
            "Get": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket.$": "$.bucket", "Key": "data.txt"},
                "ResultSelector": {"body.$": "$.Body"},
                "End": True,
            },
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                "Parameters": {"Bucket.$": "$.bucket", "Key": "written-by-task", "Body": "x"},
                "End": True,
            },
        },
    }
    sfn = aws("stepfunctions")
    machine = sfn.create_state_machine(name=unique("iam-sm"), definition=json.dumps(definition), roleArn=role)[
        "stateMachineArn"
    ]
    cleanup.add(f"state machine {machine}", lambda: sfn.delete_state_machine(stateMachineArn=machine))

    def run(op: str, bucket: str) -> dict[str, Any]:
        arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"op": op, "bucket": bucket}))[
            "executionArn"
        ]
        return wait_execution(arn)

    allowed = run("get", granted)
    assert allowed["status"] == "SUCCEEDED", allowed
    assert json.loads(allowed["output"]) == {"body": f"in {granted}"}
    for op, bucket in (("put", granted), ("get", other)):
        refused = run(op, bucket)
        said = f"{refused.get('error')} {refused.get('cause')}"
        assert refused["status"] == "FAILED", (op, bucket, refused)
        assert "AccessDenied" in said, f"expected {op} on {bucket} to be denied, saw {said}"
    objects = aws("s3").list_objects_v2(Bucket=granted).get("Contents", [])
    assert [o["Key"] for o in objects] == ["data.txt"], "the refused put wrote nothing"


@pytest.mark.parametrize(
    ("service", "call", "code", "status"),
    [
        ("dynamodb", lambda c: c.put_item(TableName="t", Item={"id": {"S": "1"}}), "AccessDeniedException", 400),
        ("sqs", lambda c: c.send_message(QueueUrl="http://x/000000000000/q", MessageBody="m"), "AccessDenied", 403),
        (
            "sns",
            lambda c: c.publish(TopicArn="arn:aws:sns:us-east-1:000000000000:t", Message="m"),
            "AuthorizationError",
            403,
        ),
        ("lambda", lambda c: c.invoke(FunctionName="f"), "AccessDeniedException", 403),
        (
            "stepfunctions",
            lambda c: c.start_execution(stateMachineArn="arn:aws:states:us-east-1:000000000000:stateMachine:m"),
            "AccessDeniedException",
            400,
        ),
        ("kinesis", lambda c: c.put_record(StreamName="s", Data=b"d", PartitionKey="p"), "AccessDeniedException", 400),
    ],
    ids=["dynamodb", "sqs", "sns", "lambda", "stepfunctions", "kinesis"],
)
def test_each_service_refuses_in_its_own_error_shape(
    aws: Clients,
    testbed_engine: Engine,
    make_role: Callable[[list[dict[str, Any]]], str],
    service: str,
    call: Callable[[Any], Any],
    code: str,
    status: int,
) -> None:
    role = make_role(read_only("nothing-else"))
    client = role_clients(aws, testbed_engine, role)(service)

    with pytest.raises(ClientError) as refused:
        call(client)

    error = refused.value.response["Error"]
    assert (error["Code"], refused.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (code, status), error
    session = role.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + "/probe"
    assert error["Message"].startswith(f"User: {session} is not authorized to perform: "), error["Message"]
