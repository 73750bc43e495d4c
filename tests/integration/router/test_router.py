"""Workflow 4, the ETL-or-streaming router, end to end on the engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from fixtures.subscriptions import generate_subscriptions
from infra.deploy import Deployer
from infra.executions import Execution, execution_history, start, state_path, wait_execution
from infra.observe import drain, sns_messages, topic_capture
from infra.runs.router import machine, read_record, run_etl
from infra.stack.stack import Stack
from infra.workflows import router as workflow

Clients = Callable[[str], Any]
STREAMING_PATH_FIRST = ["ReadRequest", "FetchSubscriptionData", "ListStreams", "IsStreamThere", "CreateStream"]


@pytest.fixture(scope="module")
def stack(deploy: Callable[[str], Stack]) -> Stack:
    return deploy("router")


def run(aws: Clients, deployer: Deployer, stack: Stack, payload: dict[str, Any]) -> Execution:
    return wait_execution(aws, start(aws, machine(deployer, stack), payload), timeout=180)


def branch_path(aws: Clients, execution: Execution) -> list[str]:
    return state_path(execution_history(aws, execution.output["execution"]))


def test_streaming_creates_then_finds_the_stream_and_topic(aws: Clients, deployer: Deployer, stack: Stack) -> None:
    request = {"branch": "streaming", "country": "DE", "seed": 5, "email": "team@example.com"}
    first = run(aws, deployer, stack, request)
    assert first.status == "SUCCEEDED", f"expected SUCCEEDED, saw {first.status} {first.error}: {first.cause}"
    assert first.path == ["PickBranch", "ChooseBranch", "RunStreaming"]
    first_path = branch_path(aws, first)
    assert first_path[:5] == STREAMING_PATH_FIRST, first_path
    assert "CreateTopic" in first_path
    assert "SubscribeByEmail" in first_path

    topic = stack.get(workflow.TOPIC).arn(deployer.ctx)
    subscriptions = aws("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "team@example.com")]

    with topic_capture(aws, topic) as capture:
        second = run(aws, deployer, stack, request)
        notices = sns_messages(drain(aws, capture, count=1))
    second_path = branch_path(aws, second)
    assert second.status == "SUCCEEDED"
    assert "CreateStream" not in second_path, second_path
    assert "CreateTopic" not in second_path, second_path
    assert second_path[3:5] == ["IsStreamThere", "PutRecord"], second_path

    output = second.output["output"]
    published = json.loads(notices[0]["Message"])
    assert published == {"shardId": output["shardId"], "sequenceNumber": output["sequenceNumber"]}
    assert notices[0]["MessageAttributes"]["sequenceNumber"]["Value"] == output["sequenceNumber"]
    record = read_record(deployer, stack, output["shardId"], output["sequenceNumber"])
    assert record is not None, "the record is not in the stream"
    assert record["country"] == "DE"
    assert record["seed"] == 5
    assert len(record["plans"]) == output["plans"] == 15


def test_etl_curates_every_valid_row_and_rejects_the_rest(deployer: Deployer, stack: Stack) -> None:
    generated = generate_subscriptions(150, 0.2, seed=12)
    execution, problems = run_etl(deployer, stack, generated)

    assert execution.status == "SUCCEEDED", f"{execution.error}: {execution.cause}"
    assert execution.path == ["PickBranch", "ChooseBranch", "RunEtl"]
    counts = execution.output["output"]["counts"]
    assert (counts["total"], counts["curated"], counts["rejected"]) == (150, 120, 30)
    assert not problems, "\n".join(problems)


def test_without_a_choice_math_random_picks_one_of_the_branches(aws: Clients, deployer: Deployer, stack: Stack) -> None:
    request = {"country": "FR", "seed": 1, "email": "team@example.com", "rawKey": _raw_file(aws, deployer, stack)}
    executions = [run(aws, deployer, stack, request) for _ in range(4)]
    for execution in executions:
        assert execution.status == "SUCCEEDED", f"{execution.error}: {execution.cause}"
        entered = [e for e in execution.history if e["type"] == "PassStateExited"]
        draw = json.loads(entered[0]["stateExitedEventDetails"]["output"])["routing"]["draw"]
        assert 1 <= draw <= 100
        assert execution.path[-1] == ("RunStreaming" if draw <= 50 else "RunEtl"), (draw, execution.path)


def test_an_unknown_branch_fails_with_a_named_error(aws: Clients, deployer: Deployer, stack: Stack) -> None:
    execution = run(aws, deployer, stack, {"branch": "batch"})
    assert (execution.status, execution.error) == ("FAILED", "UnknownBranch")
    assert "batch" in (execution.cause or "")


def test_an_unknown_country_is_a_clear_failure_of_the_streaming_branch(
    aws: Clients, deployer: Deployer, stack: Stack
) -> None:
    execution = run(aws, deployer, stack, {"branch": "streaming", "country": "ZZ", "seed": 1, "email": "t@example.com"})
    assert execution.status == "SUCCEEDED"
    assert execution.output["output"]["plans"] == 0, "the feed answers 404 with no plans for an unknown country"


def _raw_file(aws: Clients, deployer: Deployer, stack: Stack) -> str:
    from fixtures.subscriptions import render_subscriptions

    key = f"{workflow.RAW}random-choice.jsonl"
    body = render_subscriptions(generate_subscriptions(10, 0.0, seed=2))
    aws("s3").put_object(Bucket=stack.get(workflow.BUCKET).physical(deployer.ctx), Key=key, Body=body.encode())
    return key
