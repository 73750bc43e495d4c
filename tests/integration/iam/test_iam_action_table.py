"""The IAM allow/deny table: every action the workflows' functions and state machines use, judged
as AWS's policy evaluation logic judges it
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
a role allowed exactly that action on one resource may call it there; the same call on another
resource is denied (no statement allows it: implicit deny); an explicit Deny overrides the Allow;
an action the role is not granted is denied; `<service>:*` covers it in an Allow and in a Deny.
Actions without a resource type in the Service
Authorization Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/,
each service's "Actions" table: no resource type listed) are allowed by `"Resource": "*"` and by a
pattern covering the whole service (`arn:aws:s3:::*`), and not by a statement naming one resource.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from serverless_testbed.clients import Clients
from serverless_testbed.engine.base import Engine
from serverless_testbed.pytest_factories import Cleanup

from tests.integration.iam.roles import role_clients

pytestmark = pytest.mark.embedded_only(reason="IAM enforcement is the embedded engine's own (LocalStack's is paid)")

ACCOUNT, REGION = "000000000000", "us-east-1"
DENIED = {"AccessDenied", "AccessDeniedException", "AuthorizationError"}
ECHO = Path(__file__).parent / "functions" / "s3_probe.py"


@dataclass
class Target:
    """One resource of a kind: what a call names and the ARN a statement grants."""

    name: str
    arn: str


@pytest.fixture
def make_target(
    aws: Clients,
    unique: Callable[[str], str],
    cleanup: Cleanup,
    make_bucket: Callable[[], str],
    make_queue: Callable[..., str],
    make_function: Callable[..., str],
    make_state_machine: Callable[[dict[str, Any]], str],
) -> Callable[[str], Target]:
    """`make_target(kind)` -> a new resource of `kind`, made with the account's own credentials."""

    def bucket() -> Target:
        name = make_bucket()
        aws("s3").put_object(Bucket=name, Key="k", Body=b"v")
        return Target(name, f"arn:aws:s3:::{name}")

    def table() -> Target:
        name, ddb = unique("table"), aws("dynamodb")
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        cleanup.add(f"table {name}", lambda: ddb.delete_table(TableName=name))
        ddb.get_waiter("table_exists").wait(TableName=name)
        return Target(name, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}")

    def queue() -> Target:
        url = make_queue()
        return Target(url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rsplit('/', 1)[-1]}")

    def topic() -> Target:
        sns = aws("sns")
        arn: str = sns.create_topic(Name=unique("topic"))["TopicArn"]
        cleanup.add(f"topic {arn}", lambda: sns.delete_topic(TopicArn=arn))
        return Target(arn, arn)

    def stream() -> Target:
        name, kinesis = unique("stream"), aws("kinesis")
        kinesis.create_stream(StreamName=name, ShardCount=1)
        cleanup.add(f"stream {name}", lambda: kinesis.delete_stream(StreamName=name))
        kinesis.get_waiter("stream_exists").wait(StreamName=name)
        return Target(name, f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}")

    def function() -> Target:
        name = make_function(ECHO, "s3_probe.echo")
        return Target(name, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")

    def machine() -> Target:
        arn = make_state_machine({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
        return Target(arn, arn)

    def bus() -> Target:
        name, events = unique("bus"), aws("events")
        arn: str = events.create_event_bus(Name=name)["EventBusArn"]
        cleanup.add(f"event bus {name}", lambda: events.delete_event_bus(Name=name))
        return Target(name, arn)

    def log_group() -> Target:
        name, logs = unique("/probe/group"), aws("logs")
        logs.create_log_group(logGroupName=name)
        logs.create_log_stream(logGroupName=name, logStreamName="s")
        cleanup.add(f"log group {name}", lambda: logs.delete_log_group(logGroupName=name))
        return Target(name, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}")

    makers = {
        "bucket": bucket,
        "table": table,
        "queue": queue,
        "topic": topic,
        "stream": stream,
        "function": function,
        "machine": machine,
        "bus": bus,
        "log-group": log_group,
    }
    return lambda kind: makers[kind]()


@dataclass
class Case:
    """A call that needs exactly `action` on the resource `grant(target)`; `other` is an action of
    the same service the role may be granted instead (the call must then be denied)."""

    action: str
    kind: str
    call: Callable[[Any, Target], Any]
    grant: Callable[[Target], str] = lambda target: target.arn
    other: str = ""


ITEM = {"id": {"S": "1"}}
STREAMS = itertools.count()  # each allowed CreateLogStream makes a new stream
CASES = {
    "s3:GetObject": Case(
        "s3:GetObject",
        "bucket",
        lambda c, t: c.get_object(Bucket=t.name, Key="k"),
        lambda t: f"{t.arn}/*",
        "s3:PutObject",
    ),
    "s3:PutObject": Case(
        "s3:PutObject",
        "bucket",
        lambda c, t: c.put_object(Bucket=t.name, Key="new", Body=b"x"),
        lambda t: f"{t.arn}/*",
        "s3:GetObject",
    ),
    "s3:DeleteObject": Case(
        "s3:DeleteObject",
        "bucket",
        lambda c, t: c.delete_object(Bucket=t.name, Key="k"),
        lambda t: f"{t.arn}/*",
        "s3:GetObject",
    ),
    "s3:ListBucket": Case(
        "s3:ListBucket", "bucket", lambda c, t: c.list_objects_v2(Bucket=t.name), other="s3:GetObject"
    ),
    "dynamodb:PutItem": Case(
        "dynamodb:PutItem", "table", lambda c, t: c.put_item(TableName=t.name, Item=ITEM), other="dynamodb:GetItem"
    ),
    "dynamodb:GetItem": Case(
        "dynamodb:GetItem", "table", lambda c, t: c.get_item(TableName=t.name, Key=ITEM), other="dynamodb:PutItem"
    ),
    "dynamodb:DeleteItem": Case(
        "dynamodb:DeleteItem", "table", lambda c, t: c.delete_item(TableName=t.name, Key=ITEM), other="dynamodb:PutItem"
    ),
    "dynamodb:Query": Case(
        "dynamodb:Query",
        "table",
        lambda c, t: c.query(
            TableName=t.name, KeyConditionExpression="id = :v", ExpressionAttributeValues={":v": {"S": "1"}}
        ),
        other="dynamodb:Scan",
    ),
    "dynamodb:BatchWriteItem": Case(
        "dynamodb:BatchWriteItem",
        "table",
        lambda c, t: c.batch_write_item(RequestItems={t.name: [{"PutRequest": {"Item": ITEM}}]}),
        other="dynamodb:PutItem",
    ),
    "dynamodb:BatchGetItem": Case(
        "dynamodb:BatchGetItem",
        "table",
        lambda c, t: c.batch_get_item(RequestItems={t.name: {"Keys": [ITEM]}}),
        other="dynamodb:GetItem",
    ),
    "sqs:SendMessage": Case(
        "sqs:SendMessage",
        "queue",
        lambda c, t: c.send_message(QueueUrl=t.name, MessageBody="m"),
        other="sqs:ReceiveMessage",
    ),
    "sqs:SendMessageBatch": Case(
        "sqs:SendMessage",
        "queue",
        lambda c, t: c.send_message_batch(QueueUrl=t.name, Entries=[{"Id": "1", "MessageBody": "m"}]),
        other="sqs:ReceiveMessage",
    ),
    "sqs:ReceiveMessage": Case(
        "sqs:ReceiveMessage", "queue", lambda c, t: c.receive_message(QueueUrl=t.name), other="sqs:SendMessage"
    ),
    "sns:Publish": Case(
        "sns:Publish", "topic", lambda c, t: c.publish(TopicArn=t.name, Message="m"), other="sns:Subscribe"
    ),
    "sns:Subscribe": Case(
        "sns:Subscribe",
        "topic",
        lambda c, t: c.subscribe(TopicArn=t.name, Protocol="email", Endpoint="someone@example.com"),
        other="sns:Publish",
    ),
    "kinesis:PutRecord": Case(
        "kinesis:PutRecord",
        "stream",
        lambda c, t: c.put_record(StreamName=t.name, Data=b"d", PartitionKey="p"),
        other="kinesis:DescribeStreamSummary",
    ),
    "kinesis:DescribeStreamSummary": Case(
        "kinesis:DescribeStreamSummary",
        "stream",
        lambda c, t: c.describe_stream_summary(StreamName=t.name),
        other="kinesis:PutRecord",
    ),
    "lambda:InvokeFunction": Case(
        "lambda:InvokeFunction",
        "function",
        lambda c, t: c.invoke(FunctionName=t.name, Payload=b"{}"),
        other="lambda:GetFunction",
    ),
    "states:StartExecution": Case(
        "states:StartExecution",
        "machine",
        lambda c, t: c.start_execution(stateMachineArn=t.name),
        other="states:DescribeStateMachine",
    ),
    "events:PutEvents": Case(
        "events:PutEvents",
        "bus",
        lambda c, t: c.put_events(
            Entries=[{"Source": "probe", "DetailType": "d", "Detail": "{}", "EventBusName": t.name}]
        ),
        other="events:ListRules",
    ),
    "logs:CreateLogStream": Case(
        "logs:CreateLogStream",
        "log-group",
        lambda c, t: c.create_log_stream(logGroupName=t.name, logStreamName=f"new-{next(STREAMS)}"),
        lambda t: f"{t.arn}:*",
        "logs:PutLogEvents",
    ),
    "logs:PutLogEvents": Case(
        "logs:PutLogEvents",
        "log-group",
        lambda c, t: c.put_log_events(
            logGroupName=t.name, logStreamName="s", logEvents=[{"timestamp": 1, "message": "m"}]
        ),
        lambda t: f"{t.arn}:log-stream:*",
        "logs:CreateLogStream",
    ),
}
CLIENTS = {
    "bucket": "s3",
    "table": "dynamodb",
    "queue": "sqs",
    "topic": "sns",
    "stream": "kinesis",
    "function": "lambda",
    "machine": "stepfunctions",
    "bus": "events",
    "log-group": "logs",
}


def allow(action: str, resource: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def deny(action: str, resource: str) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def refused(call: Callable[[], Any]) -> str:
    """The error code a call was refused with; fails when it was not refused as AccessDenied."""
    with pytest.raises(ClientError) as error:
        call()
    code = str(error.value.response["Error"]["Code"])
    assert code in DENIED, f"expected an access denial, saw {code}: {error.value.response['Error']}"
    return code


@pytest.fixture
def as_role(
    aws: Clients, testbed_engine: Engine, make_role: Callable[[list[dict[str, Any]]], str]
) -> Callable[[list[dict[str, Any]], str], Any]:
    """`as_role(statements, service)` -> a client of `service` signed by a role allowed `statements`."""
    return lambda statements, service: role_clients(aws, testbed_engine, make_role(statements))(service)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_an_action_is_allowed_exactly_where_it_is_granted(
    case: Case, make_target: Callable[[str], Target], as_role: Callable[..., Any]
) -> None:
    granted, other = make_target(case.kind), make_target(case.kind)
    service, resource = CLIENTS[case.kind], case.grant(granted)

    client = as_role([allow(case.action, resource)], service)
    case.call(client, granted)  # allowed: succeeds
    refused(lambda: case.call(client, other))  # not granted on that resource: implicit deny

    overridden = as_role([allow(case.action, resource), deny(case.action, resource)], service)
    refused(lambda: case.call(overridden, granted))  # an explicit Deny beats the Allow

    elsewhere = as_role([allow(case.other, resource)], service)
    refused(lambda: case.call(elsewhere, granted))  # another action of the service is not this one

    prefix = case.action.split(":")[0]
    case.call(as_role([allow(f"{prefix}:*", resource)], service), granted)  # a wildcard action covers it
    everything_but = as_role([allow("*", "*"), deny(f"{prefix}:*", resource)], service)
    refused(lambda: case.call(everything_but, granted))  # and a wildcard Deny beats an Allow of everything


# Actions without a resource type, and the pattern that covers every resource of their service.
UNSCOPED = {
    "s3:ListAllMyBuckets": ("s3", lambda c: c.list_buckets(), "arn:aws:s3:::*", "arn:aws:s3:::some-bucket"),
    "sqs:ListQueues": ("sqs", lambda c: c.list_queues(), "arn:aws:sqs:*:*:*", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"),
    "sns:ListTopics": ("sns", lambda c: c.list_topics(), "arn:aws:sns:*:*:*", f"arn:aws:sns:{REGION}:{ACCOUNT}:t"),
    "dynamodb:ListTables": (
        "dynamodb",
        lambda c: c.list_tables(),
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:*",
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t",
    ),
    "states:ListStateMachines": (
        "stepfunctions",
        lambda c: c.list_state_machines(),
        "arn:aws:states:*:*:*",
        f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m",
    ),
    "kinesis:ListStreams": (
        "kinesis",
        lambda c: c.list_streams(),
        f"arn:aws:kinesis:{REGION}:{ACCOUNT}:*",
        f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/s",
    ),
    "lambda:ListFunctions": (
        "lambda",
        lambda c: c.list_functions(),
        "arn:aws:lambda:*:*:*",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f",
    ),
    "logs:DescribeLogGroups": (
        "logs",
        lambda c: c.describe_log_groups(),
        f"arn:aws:logs:{REGION}:{ACCOUNT}:*",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:g",
    ),
}


@pytest.mark.parametrize("action", UNSCOPED.keys())
def test_an_action_without_a_resource_type_is_judged_on_its_whole_service(
    action: str, as_role: Callable[..., Any]
) -> None:
    service, call, whole_service, one_resource = UNSCOPED[action]
    call(as_role([allow(action, "*")], service))
    call(as_role([allow(action, whole_service)], service))
    refused(lambda: call(as_role([allow(action, one_resource)], service)))
    refused(lambda: call(as_role([allow(action, "*"), deny(action, "*")], service)))
    refused(lambda: call(as_role([allow(action, whole_service), deny(action, whole_service)], service)))
