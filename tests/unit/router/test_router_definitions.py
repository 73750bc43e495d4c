"""The router's three state machines as written: the fields and intrinsics of the seed,
and the least-privilege policies derived from them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from serverless_testbed.registry import stack_for
from serverless_testbed.stack.model import Context, Role, RuntimeTopic, Stream
from serverless_testbed.stack.policies import policy_document

from infra.workflows import router as workflow

ASL = Path(__file__).resolve().parents[3] / "asl"
FILES = ("router.asl.json", "router_streaming.asl.json", "router_etl.asl.json")
CTX = Context(prefix="tb", account="123456789012", region="eu-west-1")


def states() -> list[dict[str, Any]]:
    return [state for name in FILES for state in json.loads((ASL / name).read_text())["States"].values()]


@pytest.mark.parametrize(
    "intrinsic", ["States.Format", "States.MathRandom", "States.StringToJson", "States.JsonToString"]
)
def test_the_seed_intrinsics_are_used(intrinsic: str) -> None:
    assert any(intrinsic + "(" in json.dumps(state) for state in states()), f"expected {intrinsic} in {FILES}"


@pytest.mark.parametrize("field", ["InputPath", "Parameters", "ResultSelector", "ResultPath", "OutputPath"])
def test_the_seed_input_and_output_fields_are_used(field: str) -> None:
    assert any(field in state for state in states()), f"expected a state with {field} in {FILES}"


def test_the_branches_are_nested_executions_the_router_waits_for() -> None:
    router = json.loads((ASL / "router.asl.json").read_text())["States"]
    resources = {router[name]["Resource"] for name in ("RunStreaming", "RunEtl")}
    assert resources == {"arn:aws:states:::states:startExecution.sync:2"}, resources


def test_the_stream_and_topic_are_made_by_the_workflow_and_removed_by_destroy() -> None:
    stack = stack_for(["router"])
    stream, topic = stack.get(workflow.STREAM), stack.get(workflow.TOPIC)
    assert isinstance(stream, Stream), stream
    assert stream.created_by_workflow, "deploy must leave the stream to the workflow"
    assert isinstance(topic, RuntimeTopic), topic


def allowed(role: str) -> dict[str, list[str]]:
    stack = stack_for(["router"])
    document = policy_document(stack, stack.get(role), CTX)  # type: ignore[arg-type]
    return {action: statement["Resource"] for statement in document["Statement"] for action in statement["Action"]}


def test_the_streaming_branch_may_touch_its_stream_and_topic_only() -> None:
    stream = "arn:aws:kinesis:eu-west-1:123456789012:stream/tb-subscription-stream"
    topic = "arn:aws:sns:eu-west-1:123456789012:tb-subscription-updates"
    fetch = "arn:aws:lambda:eu-west-1:123456789012:function:tb-fetch-subscriptions"
    assert allowed("streaming-branch-role") == {
        "kinesis:ListStreams": ["*"],  # AWS cannot scope List calls
        "kinesis:CreateStream": [stream],
        "kinesis:DescribeStreamSummary": [stream],
        "kinesis:PutRecord": [stream],
        "sns:ListTopics": ["*"],
        "sns:CreateTopic": [topic],
        "sns:Subscribe": [topic],
        "sns:Publish": [topic],
        "lambda:InvokeFunction": [fetch, f"{fetch}:*"],
    }


def test_the_router_may_start_and_follow_its_two_branches_only() -> None:
    machines = [
        f"arn:aws:states:eu-west-1:123456789012:stateMachine:tb-{name}" for name in ("etl-branch", "streaming-branch")
    ]
    granted = allowed("etl-or-streaming-role")
    assert granted["states:StartExecution"] == machines
    assert granted["states:DescribeExecution"] == [m.replace(":stateMachine:", ":execution:") + ":*" for m in machines]


def test_every_role_of_the_workflow_has_a_policy() -> None:
    stack = stack_for(["router"])
    roles = {role.name for role in stack.of_kind(Role)}
    assert roles == {
        f"{name}-role"
        for name in (workflow.FETCH, workflow.TRANSFORM, workflow.STREAMING, workflow.ETL, workflow.ROUTER)
    }
