"""The (action, resource) pairs IAM checks per request (infra/serverless_testbed/localstack_plugins/iam_actions.py),
as the AWS Service Authorization Reference lists them for the calls the stack makes."""

from __future__ import annotations

from typing import Any

import pytest
from serverless_testbed.errors import BadInput
from serverless_testbed.localstack_plugins.iam_actions import Authorization, Where, authorizations
from serverless_testbed.localstack_plugins.iam_mode import enforces_iam, iam_enforcement_on

WHERE = Where(region="eu-west-1", account="123456789012")
BUCKET = "arn:aws:s3:::b"
TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/t"


@pytest.mark.parametrize(
    ("prefix", "operation", "params", "expected"),
    [
        ("s3", "GetObject", {"Bucket": "b", "Key": "k/1"}, [("s3:GetObject", f"{BUCKET}/k/1")]),
        ("s3", "HeadObject", {"Bucket": "b", "Key": "k"}, [("s3:GetObject", f"{BUCKET}/k")]),
        ("s3", "GetObject", {"Bucket": "b", "Key": "k", "VersionId": "v"}, [("s3:GetObjectVersion", f"{BUCKET}/k")]),
        ("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "p/"}, [("s3:ListBucket", BUCKET)]),
        ("s3", "PutObject", {"Bucket": "b", "Key": "k"}, [("s3:PutObject", f"{BUCKET}/k")]),
        ("s3", "UploadPart", {"Bucket": "b", "Key": "k"}, [("s3:PutObject", f"{BUCKET}/k")]),
        (
            "s3",
            "CopyObject",
            {"Bucket": "b", "Key": "archive/k", "CopySource": "b/source/k"},
            [("s3:GetObject", f"{BUCKET}/source/k"), ("s3:PutObject", f"{BUCKET}/archive/k")],
        ),
        (
            "s3",
            "DeleteObjects",
            {"Bucket": "b", "Delete": {"Objects": [{"Key": "x"}, {"Key": "y"}]}},
            [("s3:DeleteObject", f"{BUCKET}/x"), ("s3:DeleteObject", f"{BUCKET}/y")],
        ),
        ("s3", "ListBuckets", {}, [("s3:ListAllMyBuckets", "arn:aws:s3:::*")]),
        ("dynamodb", "PutItem", {"TableName": "t"}, [("dynamodb:PutItem", TABLE)]),
        ("dynamodb", "Query", {"TableName": "t", "IndexName": "i"}, [("dynamodb:Query", f"{TABLE}/index/i")]),
        (
            "dynamodb",
            "BatchWriteItem",
            {"RequestItems": {"t": [], "u": []}},
            [
                ("dynamodb:BatchWriteItem", TABLE),
                ("dynamodb:BatchWriteItem", TABLE[:-1] + "u"),
            ],
        ),
        (
            "dynamodb",
            "TransactWriteItems",
            {"TransactItems": [{"Put": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "t"}}]},
            [("dynamodb:PutItem", TABLE), ("dynamodb:ConditionCheckItem", TABLE)],
        ),
        (
            "sqs",
            "SendMessageBatch",
            {"QueueUrl": "http://127.0.0.1:4566/123456789012/q"},
            [("sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:q")],
        ),
        ("sns", "Publish", {"TopicArn": "arn:aws:sns:eu-west-1:1:t"}, [("sns:Publish", "arn:aws:sns:eu-west-1:1:t")]),
        ("sns", "CreateTopic", {"Name": "t"}, [("sns:CreateTopic", "arn:aws:sns:eu-west-1:123456789012:t")]),
        (
            "kinesis",
            "PutRecord",
            {"StreamName": "s"},
            [("kinesis:PutRecord", "arn:aws:kinesis:eu-west-1:123456789012:stream/s")],
        ),
        ("kinesis", "ListStreams", {}, [("kinesis:ListStreams", "arn:aws:kinesis:eu-west-1:123456789012:*")]),
        (  # GetRecords names no stream: the iterator's stream, as an event source mapping's poller reads it
            "dynamodb",  # DynamoDB Streams signs as dynamodb
            "GetRecords",
            {"ShardIterator": "arn:aws:dynamodb:eu-west-1:1:table/t/stream/2026-12-07T03:08:30.360|1|c2Vj"},
            [("dynamodb:GetRecords", "arn:aws:dynamodb:eu-west-1:1:table/t/stream/2026-12-07T03:08:30.360")],
        ),
        (
            "lambda",
            "Invoke",
            {"FunctionName": "f"},
            [("lambda:InvokeFunction", "arn:aws:lambda:eu-west-1:123456789012:function:f")],
        ),
        (
            "lambda",
            "Invoke",
            {"FunctionName": "arn:aws:lambda:eu-west-1:1:function:f:live"},
            [("lambda:InvokeFunction", "arn:aws:lambda:eu-west-1:1:function:f:live")],
        ),
        (
            "lambda",
            "Invoke",
            {"FunctionName": "f", "Qualifier": "$LATEST"},
            [("lambda:InvokeFunction", "arn:aws:lambda:eu-west-1:123456789012:function:f:$LATEST")],
        ),
        ("states", "StartExecution", {"stateMachineArn": "arn:sm"}, [("states:StartExecution", "arn:sm")]),
        ("states", "DescribeExecution", {"executionArn": "arn:ex"}, [("states:DescribeExecution", "arn:ex")]),
        (
            "events",
            "PutEvents",
            {"Entries": [{"Source": "s"}]},
            [("events:PutEvents", "arn:aws:events:eu-west-1:123456789012:event-bus/default")],
        ),
        (
            "logs",
            "PutLogEvents",
            {"logGroupName": "/aws/lambda/f", "logStreamName": "s"},
            [("logs:PutLogEvents", "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/f:log-stream:s")],
        ),
        ("sts", "GetCallerIdentity", {}, []),
        # Not modelled: the action on "*", which only a grant of that action everywhere allows.
        ("ssm", "GetParameter", {"Name": "p"}, [("ssm:GetParameter", "*")]),
    ],
)
def test_authorizations(prefix: str, operation: str, params: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert authorizations(prefix, operation, params, WHERE) == [Authorization(a, r) for a, r in expected]


def test_the_switch() -> None:
    assert iam_enforcement_on({}) is True
    assert iam_enforcement_on({}, default=False) is False
    assert iam_enforcement_on({"TESTBED_IAM_ENFORCE": "0"}) is False
    assert iam_enforcement_on({"TESTBED_IAM_ENFORCE": "1"}, default=False) is True
    with pytest.raises(BadInput, match="TESTBED_IAM_ENFORCE='maybe' is not a switch"):
        iam_enforcement_on({"TESTBED_IAM_ENFORCE": "maybe"})


def test_which_engines_enforce() -> None:
    from serverless_testbed.engine.embedded import EmbeddedEngine

    assert enforces_iam(EmbeddedEngine(iam_enforce=True, mode="full"))
    assert not enforces_iam(EmbeddedEngine(iam_enforce=False, mode="full"))
    assert not enforces_iam(EmbeddedEngine(iam_enforce=True, mode="stock"))
    assert not enforces_iam(object())


@pytest.mark.parametrize(
    ("resource", "verdict"),
    [
        ("*", "allowed"),
        ("arn:aws:s3:::*", "allowed"),  # what AWS's own examples grant ListAllMyBuckets on
        ("arn:*:s3:::*", "allowed"),
        ("arn:aws:s3:::one-bucket", "implicit"),  # one bucket does not cover the listing of all
        ("arn:aws:s3:::one-bucket/*", "implicit"),
    ],
)
def test_an_action_without_a_resource_type_is_judged_on_the_services_namespace(resource: str, verdict: str) -> None:
    """Evaluated as the engine does (moto's IAMPolicy); AWS's policy evaluation logic: a statement
    applies to ListAllMyBuckets when its Resource covers all of S3, "*" or arn:aws:s3:::*."""
    import json

    from moto.iam.access_control import IAMPolicy
    from serverless_testbed.localstack_plugins.iam_enforcement import _evaluate

    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": resource}],
    }
    (needed,) = authorizations("s3", "ListBuckets", {}, WHERE)
    assert _evaluate([IAMPolicy(json.dumps(policy))], needed) == verdict
