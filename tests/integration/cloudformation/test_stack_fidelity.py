"""A SAM or CloudFormation project's own tests, against stacks created by the engine's CloudFormation:
Outputs with their Description, API and queue URLs that answer from the host, and the required
properties AWS checks, failing the resource with AWS's message and rolling the stack back.
docs/cloudformation.md says what a test sees and why."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from serverless_testbed.clients import Clients
from serverless_testbed.pytest_factories import Cleanup
from serverless_testbed.waiting import wait_for

pytestmark = pytest.mark.embedded_only(reason="the embedded engine's CloudFormation fidelity patches")

SAM_API = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  HelloWorldFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        import json
        def handler(event, context):
            return {"statusCode": 200, "body": json.dumps({"path": event["path"], "hello": "world"})}
      Events:
        HelloWorld:
          Type: Api
          Properties:
            Path: /hello
            Method: get
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  HelloWorldApi:
    Description: "API Gateway endpoint URL for Prod stage for Hello World function"
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello/"
  HelloWorldApiBySuffix:
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/Prod/hello"
  QueueUrl:
    Description: The queue's URL
    Value: !Ref Queue
    Export:
      Name: !Sub "${AWS::StackName}-QueueUrl"
"""

NO_ROLE_STATE_MACHINE = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      DefinitionString: '{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}'
"""

NO_ROLE_NO_CODE_FUNCTION = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
"""

FINAL = ("_COMPLETE", "_FAILED")


@pytest.fixture
def create_stack(aws: Clients, cleanup: Cleanup) -> Callable[[str], dict[str, Any]]:
    """`create_stack(template)`: CreateStack as a user's tooling calls it; the stack once it settled."""
    cfn = aws("cloudformation")

    def create(template: str) -> dict[str, Any]:
        name = f"cfn-{uuid.uuid4().hex[:8]}"
        cfn.create_stack(
            StackName=name, TemplateBody=template, Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
        )
        cleanup.add(f"stack {name}", lambda: cfn.delete_stack(StackName=name))

        def settled() -> dict[str, Any] | None:
            stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
            in_progress = stack["StackStatus"].endswith("_IN_PROGRESS")
            return None if in_progress or not stack["StackStatus"].endswith(FINAL) else stack

        return wait_for(settled, timeout=60, what=f"stack {name} to settle")

    return create


def outputs_of(stack: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {output["OutputKey"]: output for output in stack.get("Outputs", [])}


def failure_reasons(aws: Clients, stack_name: str) -> dict[str, str]:
    events = aws("cloudformation").describe_stack_events(StackName=stack_name)["StackEvents"]
    return {
        event["LogicalResourceId"]: event.get("ResourceStatusReason", "")
        for event in events
        if event["ResourceStatus"].endswith("_FAILED") and event["LogicalResourceId"] != stack_name
    }


def test_outputs_keep_their_description_and_export_name(create_stack: Callable[[str], dict[str, Any]]) -> None:
    stack = create_stack(SAM_API)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    outputs = outputs_of(stack)
    assert outputs["HelloWorldApi"]["Description"] == "API Gateway endpoint URL for Prod stage for Hello World function"
    assert outputs["QueueUrl"]["Description"] == "The queue's URL"
    assert outputs["QueueUrl"]["ExportName"] == f"{stack['StackName']}-QueueUrl"
    # An output without a Description has none, as on AWS.
    assert "Description" not in outputs["HelloWorldApiBySuffix"], outputs["HelloWorldApiBySuffix"]


def test_an_api_url_from_the_outputs_answers_from_the_host(create_stack: Callable[[str], dict[str, Any]]) -> None:
    outputs = {key: output["OutputValue"] for key, output in outputs_of(create_stack(SAM_API)).items()}
    for key, path in (("HelloWorldApi", "/hello/"), ("HelloWorldApiBySuffix", "/hello")):
        response = requests.get(outputs[key], timeout=10)  # as a test written for AWS does
        assert response.status_code == 200, f"{key}={outputs[key]}: {response.status_code} {response.text}"
        assert response.json() == {"path": path, "hello": "world"}, f"{key}={outputs[key]}"


def test_a_queue_url_answers_over_http_from_the_host(create_stack: Callable[[str], dict[str, Any]]) -> None:
    queue_url = outputs_of(create_stack(SAM_API))["QueueUrl"]["OutputValue"]
    sent = requests.get(queue_url, params={"Action": "SendMessage", "MessageBody": "hi"}, timeout=10)
    assert sent.status_code == 200, f"{queue_url}: {sent.status_code} {sent.text}"
    received = requests.get(queue_url, params={"Action": "ReceiveMessage", "WaitTimeSeconds": "5"}, timeout=10)
    assert "<Body>hi</Body>" in received.text, f"{queue_url}: {received.text}"


def test_a_state_machine_without_role_arn_fails_the_stack_as_on_aws(
    aws: Clients, create_stack: Callable[[str], dict[str, Any]]
) -> None:
    stack = create_stack(NO_ROLE_STATE_MACHINE)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE", stack
    reasons = failure_reasons(aws, stack["StackName"])
    assert reasons == {
        "Machine": "Properties validation failed for resource Machine with message: #: required key [RoleArn] not found"
    }
    machines = aws("stepfunctions").list_state_machines()["stateMachines"]
    assert not [m for m in machines if m["name"].startswith(stack["StackName"])], machines


def test_a_function_without_role_and_code_names_both(
    aws: Clients, create_stack: Callable[[str], dict[str, Any]]
) -> None:
    stack = create_stack(NO_ROLE_NO_CODE_FUNCTION)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE", stack
    assert failure_reasons(aws, stack["StackName"]) == {
        "Fn": "Properties validation failed for resource Fn with message: #: 2 schema violations found "
        "#: required key [Code] not found #: required key [Role] not found"
    }


SAM_HTTP_API = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            return {"statusCode": 200, "body": "hi"}
      Events:
        Hello:
          Type: HttpApi
          Properties:
            Path: /hello
            Method: get
Outputs:
  HttpApiUrl:
    Value: !Sub "https://${ServerlessHttpApi}.execute-api.${AWS::Region}.amazonaws.com/hello"
"""


def test_an_http_api_is_not_served_here_where_aws_serves_it(
    aws: Clients, create_stack: Callable[[str], dict[str, Any]]
) -> None:
    # LocalStack 4.14.0's free build has no API Gateway v2: the stack is created with the API as a
    # placeholder (id "unknown"), and its URL, rendered path-style like a REST API's, answers 404.
    stack = create_stack(SAM_HTTP_API)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    url = outputs_of(stack)["HttpApiUrl"]["OutputValue"]
    assert url.endswith("/_aws/execute-api/unknown/hello"), url
    assert requests.get(url, timeout=10).status_code == 404
