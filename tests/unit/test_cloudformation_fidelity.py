"""The engine's CloudFormation patches, their pure parts (localstack_plugins/cloudformation.py);
tests/integration/cloudformation/test_stack_fidelity.py deploys real stacks."""

from __future__ import annotations

import pytest
from serverless_testbed.localstack_plugins.cloudformation import (
    execute_api_pattern,
    missing_required,
    output_description,
    path_style_api_url,
    validation_failure,
)

pytestmark = pytest.mark.unit

ENDPOINT = "http://127.0.0.1:4566"
PATTERN = execute_api_pattern(["127.0.0.1"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # SAM's hello world output, as written for AWS.
        ("https://abc123.execute-api.us-east-1.amazonaws.com/Prod/hello/", "/_aws/execute-api/abc123/Prod/hello/"),
        # ${AWS::URLSuffix}, which the engine answers with its own host.
        ("https://abc123.execute-api.eu-central-1.127.0.0.1/Prod/hello", "/_aws/execute-api/abc123/Prod/hello"),
        # An HTTP API's $default stage: no stage in the path.
        ("https://abc123.execute-api.us-gov-west-1.amazonaws.com/", "/_aws/execute-api/abc123/"),
        ("https://abc123.execute-api.ap-southeast-4.amazonaws.com", "/_aws/execute-api/abc123/"),
        # What LocalStack's own rewrite would have made of it.
        ("https://abc123.execute-api.amazonaws.com:4566/Prod/x?q=1", "/_aws/execute-api/abc123/Prod/x?q=1"),
    ],
)
def test_execute_api_urls_are_rendered_path_style(value: str, expected: str) -> None:
    assert path_style_api_url(value, PATTERN, ENDPOINT) == ENDPOINT + expected


@pytest.mark.parametrize(
    "value",
    [
        "https://api.example.com/Prod/hello",
        "https://abc123.execute-api.us-east-1.example.com/Prod",
        "Endpoint: https://abc123.execute-api.us-east-1.amazonaws.com/Prod",
        "arn:aws:execute-api:us-east-1:000000000000:abc123/*",
        "abc123",
    ],
)
def test_other_values_are_left_alone(value: str) -> None:
    assert path_style_api_url(value, PATTERN, ENDPOINT) is None


def test_an_output_description_is_the_templates_literal_string() -> None:
    template = {
        "Outputs": {
            "Api": {"Description": "the API", "Value": "x"},
            "Bare": {"Value": "y"},
            "Computed": {"Description": {"Fn::Sub": "${AWS::Region}"}, "Value": "z"},
        }
    }
    assert output_description(template, "Api") == "the API"
    assert output_description(template, "Bare") is None
    assert output_description(template, "Computed") is None  # AWS allows a literal string only
    assert output_description(template, "Absent") is None
    assert output_description(None, "Api") is None


def test_missing_required_properties_and_awss_message() -> None:
    schema = {"required": ["Code", "Role"]}
    assert missing_required(schema, {"Code": {"ZipFile": "x"}, "Role": "arn"}) == []
    assert missing_required(schema, {"Code": {"ZipFile": "x"}, "Role": None}) == ["Role"]
    assert missing_required({}, {}) == []
    assert validation_failure("Machine", ["RoleArn"]) == (
        "Properties validation failed for resource Machine with message: #: required key [RoleArn] not found"
    )
    assert validation_failure("Fn", ["Code", "Role"]) == (
        "Properties validation failed for resource Fn with message: #: 2 schema violations found "
        "#: required key [Code] not found #: required key [Role] not found"
    )


def test_streams_are_polled_at_a_steady_rate_per_shard() -> None:
    from serverless_testbed.localstack_plugins.event_source_mappings import stream_pause

    assert stream_pause("aws:kinesis", shards=1, elapsed=0.0) == pytest.approx(1.0)
    assert stream_pause("aws:kinesis", shards=1, elapsed=0.2) == pytest.approx(0.8)
    # Shards are polled in turn: each still at the rate.
    assert stream_pause("aws:dynamodb", shards=4, elapsed=0.0) == pytest.approx(0.25)
    assert stream_pause("aws:dynamodb", shards=0, elapsed=0.0) == pytest.approx(1.0)
    assert stream_pause("aws:kinesis", shards=1, elapsed=2.0) == 0.0  # a slow poll: the next at once
