"""Workflow 4, the ETL-or-streaming router, end to end on the engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.executions import Execution, execution_history, state_path
from serverless_testbed.observe import drain, sns_messages, topic_capture
from serverless_testbed.stack.stack import Stack

from fixtures.subscriptions import generate_subscriptions
from infra.runs.router import branch_sent, read_record, route, run_etl, upload_raw
from infra.workflows import router as workflow

ROUTED = {"streaming": ["PickBranch", "ChooseBranch", "RunStreaming"], "etl": ["PickBranch", "ChooseBranch", "RunEtl"]}
FAILED_BRANCH = ["ReadBranchFailure", "DidBranchFail", "BranchFailed"]
FETCHED = ["HasSeed", "ReadRequest", "FetchSubscriptionData", "DidFeedAnswer", "ListStreams", "IsStreamThere"]
STREAM_CREATED = ["CreateStream", "StartWaiting", "DescribeStream", "IsStreamActive"]
WAIT_LOOP = {"WaitForStream", "CountAttempt", "DescribeStream", "IsStreamActive"}
TOPIC_CREATED = ["PutRecord", "ListTopics", "CheckTopic", "IsTopicThere", "CreateTopic", "SubscribeByEmail", "Publish"]
BOTH_FOUND = [*FETCHED, "PutRecord", "ListTopics", "CheckTopic", "IsTopicThere", "Publish", "Streamed"]


@pytest.fixture(scope="module")
def stack(deploy: Callable[[str], Stack]) -> Stack:
    return deploy("router")


def branch_path(aws: Clients, execution: Execution) -> list[str]:
    """The states the nested branch execution went through."""
    return state_path(execution_history(aws, execution.output["execution"]))


def failed_branch_path(aws: Clients, execution: Execution) -> list[str]:
    started = [e for e in execution.history if e["type"] == "TaskSubmitted"]
    assert len(started) == 1, f"expected one nested execution, saw {len(started)}"
    return state_path(
        execution_history(aws, json.loads(started[0]["taskSubmittedEventDetails"]["output"])["ExecutionArn"])
    )


def succeeded(execution: Execution, branch: str) -> Execution:
    assert execution.status == "SUCCEEDED", (
        f"expected SUCCEEDED, saw {execution.status} {execution.error}: {execution.cause}"
    )
    assert execution.path == ROUTED[branch], f"expected the router path {ROUTED[branch]}, saw {execution.path}"
    assert execution.output["branch"] == branch, f"expected the {branch} branch's result, saw {execution.output}"
    return execution


def test_streaming_creates_the_stream_and_topic_then_finds_them(aws: Clients, deployer: Deployer, stack: Stack) -> None:
    stream, topic = stack.get(workflow.STREAM), stack.get(workflow.TOPIC)
    deployer.destroy(Stack.of([stream, topic]))  # whatever an earlier run made: this run must make them
    request = {"branch": "streaming", "country": "DE", "seed": 5, "email": "team@example.com"}

    first = succeeded(route(deployer, stack, request), "streaming")
    path = branch_path(aws, first)
    created, tail = path[: len(FETCHED) + len(STREAM_CREATED)], path[len(FETCHED) + len(STREAM_CREATED) :]
    assert created == FETCHED + STREAM_CREATED, f"expected the stream created and checked, saw {path}"
    waited, made = tail[: tail.index("PutRecord")], tail[tail.index("PutRecord") :]
    assert set(waited) <= WAIT_LOOP, f"expected only the wait loop before PutRecord, saw {waited}"
    assert made == [*TOPIC_CREATED, "Streamed"], f"expected the topic created and subscribed, saw {path}"

    subscriptions = aws("sns").list_subscriptions_by_topic(TopicArn=topic.arn(deployer.ctx))["Subscriptions"]
    endpoints = [(s["Protocol"], s["Endpoint"]) for s in subscriptions]
    assert endpoints == [("email", "team@example.com")], f"expected one email subscription, saw {endpoints}"
    assert deployer.plan(stack) == [], "deploy must leave the stream and topic the workflow made"
    deletes = {(c.kind, c.name) for c in deployer.destroy_plan(stack) if c.action == "delete"}
    made_at_run_time = {(stream.kind, stream.physical(deployer.ctx)), (topic.kind, topic.physical(deployer.ctx))}
    assert made_at_run_time <= deletes, f"expected destroy to remove {made_at_run_time}, it plans {deletes}"

    with topic_capture(aws, topic.arn(deployer.ctx)) as queue:  # subscribed once the topic exists
        second = succeeded(route(deployer, stack, request), "streaming")
        notices = sns_messages(drain(aws, queue, count=1))
    assert branch_path(aws, second) == BOTH_FOUND, f"expected stream and topic found, saw {branch_path(aws, second)}"

    output = second.output["output"]
    assert output["sequenceNumber"] != first.output["output"]["sequenceNumber"], "two puts, two sequence numbers"
    notice = notices[0]
    assert json.loads(notice["Message"]) == {"shardId": output["shardId"], "sequenceNumber": output["sequenceNumber"]}
    attributes = {name: value["Value"] for name, value in notice["MessageAttributes"].items()}
    expected_attributes = {"shardId": output["shardId"], "sequenceNumber": output["sequenceNumber"]}
    assert attributes == expected_attributes, f"expected attributes {expected_attributes}, saw {attributes}"
    assert notice["Subject"] == "Subscription prices for DE", f"expected the formatted subject, saw {notice['Subject']}"

    sent = branch_sent(aws, second.output["execution"])
    record = read_record(deployer, stack, output["shardId"], output["sequenceNumber"])
    assert record is not None, f"expected a record at {output['shardId']} {output['sequenceNumber']}"
    assert record == sent["record"], f"expected the stream to hold what was put, {sent['record']}, saw {record}"
    assert sent["record"] == sent["fetched"], "expected the fetched feed to be put as it came"
    assert sent["partition_key"] == "DE", f"expected partition key DE, saw {sent['partition_key']}"
    assert (record["country"], record["seed"], len(record["plans"])) == ("DE", 5, output["plans"]) == ("DE", 5, 15)
    assert {plan["currency"] for plan in record["plans"]} == {"EUR"}, "German prices are in euros"


def test_without_a_seed_the_feed_is_seeded_with_zero(aws: Clients, deployer: Deployer, stack: Stack) -> None:
    execution = succeeded(
        route(deployer, stack, {"branch": "streaming", "country": "JP", "email": "t@example.com"}), "streaming"
    )
    path = branch_path(aws, execution)
    assert path[:3] == ["HasSeed", "DefaultSeed", "ReadRequest"], f"expected the default seed, saw {path}"
    output = execution.output["output"]
    record = read_record(deployer, stack, output["shardId"], output["sequenceNumber"])
    assert record is not None, "expected the record in the stream"
    assert (record["country"], record["seed"]) == ("JP", 0), (
        f"expected JP seeded 0, saw {record['country']}, {record['seed']}"
    )


@pytest.mark.parametrize(("fmt", "seed"), [("jsonl", 12), ("csv", 13)])
def test_etl_curates_every_valid_row_and_rejects_the_rest(
    deployer: Deployer, stack: Stack, fmt: str, seed: int
) -> None:
    generated = generate_subscriptions(150, 0.2, seed=seed)
    execution, problems = run_etl(deployer, stack, generated, fmt)

    succeeded(execution, "etl")
    assert not problems, "\n".join(problems)
    valid = sum(item.expected.valid for item in generated)
    output = execution.output["output"]
    counts = output["counts"]
    assert (counts["total"], counts["curated"], counts["rejected"]) == (150, valid, 150 - valid), counts
    assert output["summary"] == f"150 rows: {valid} curated, {150 - valid} rejected", output["summary"]
    assert output["source"].endswith(f".{fmt}"), f"expected the raw {fmt} file as source, saw {output['source']}"


def test_without_a_choice_math_random_picks_one_of_the_branches(aws: Clients, deployer: Deployer, stack: Stack) -> None:
    raw_key = upload_raw(deployer, stack, generate_subscriptions(10, 0.0, seed=2))
    request = {"country": "FR", "seed": 1, "email": "team@example.com", "rawKey": raw_key}
    machines = {
        branch: stack.bind(deployer.ctx).arn(name)
        for branch, name in (("streaming", workflow.STREAMING), ("etl", workflow.ETL))
    }
    for _ in range(4):
        execution = route(deployer, stack, request)
        exited = [e for e in execution.history if e["type"] == "PassStateExited"]
        draw = json.loads(exited[0]["stateExitedEventDetails"]["output"])["routing"]["draw"]
        branch = "streaming" if draw <= 50 else "etl"
        succeeded(execution, branch)
        assert 1 <= draw <= 100, f"expected a draw from States.MathRandom(1, 100), saw {draw}"
        child = aws("stepfunctions").describe_execution(executionArn=execution.output["execution"])
        assert child["stateMachineArn"] == machines[branch], (
            f"draw {draw}: expected {machines[branch]}, ran {child['stateMachineArn']}"
        )


@pytest.mark.parametrize(
    ("request_", "branch", "branch_ends", "cause_says"),
    [
        (
            {"branch": "streaming", "country": "ZZ", "seed": 1, "email": "t@example.com"},
            "streaming",
            ["FetchSubscriptionData", "DidFeedAnswer", "NoSubscriptionData"],
            ["NoSubscriptionData", "answered 404 for ZZ"],
        ),
        (
            {"branch": "streaming", "country": "DE", "seed": "five", "email": "t@example.com"},
            "streaming",
            ["FetchSubscriptionData", "DidFeedAnswer", "NoSubscriptionData"],
            ["NoSubscriptionData", "answered 400", "seed must be a whole number"],
        ),
        ({"branch": "streaming", "country": "DE"}, "streaming", ["HasSeed", "DefaultSeed", "ReadRequest"], ["$.email"]),
        (
            {"branch": "etl", "rawKey": "raw/missing.jsonl"},
            "etl",
            ["TransformRawData", "ExplainFailure", "ReadFunctionError", "EtlFailed"],
            ["EtlFailed", "FileNotFoundError", "no raw subscription file", "raw/missing.jsonl"],
        ),
        ({"branch": "etl"}, "etl", ["ReadRequest"], ["States.Runtime", "$.rawKey"]),
    ],
    ids=["unknown-country", "bad-seed", "no-email", "missing-raw-file", "no-raw-key"],
)
def test_bad_input_fails_the_router_with_the_branch_error(
    aws: Clients,
    deployer: Deployer,
    stack: Stack,
    request_: dict[str, Any],
    branch: str,
    branch_ends: list[str],
    cause_says: list[str],
) -> None:
    execution = route(deployer, stack, request_)
    assert (execution.status, execution.error) == ("FAILED", "BranchFailed"), (execution.status, execution.error)
    assert execution.path == ROUTED[branch] + FAILED_BRANCH, f"expected the branch failure read, saw {execution.path}"
    missing = [text for text in cause_says if text not in (execution.cause or "")]
    assert not missing, f"expected the cause to say {missing}, it says {execution.cause}"
    path = failed_branch_path(aws, execution)
    assert path[-len(branch_ends) :] == branch_ends, f"expected the branch to end {branch_ends}, saw {path}"
    assert "PutRecord" not in path, f"a failed streaming run must put nothing, saw {path}"


def test_an_unknown_branch_fails_with_a_named_error(deployer: Deployer, stack: Stack) -> None:
    execution = route(deployer, stack, {"branch": "batch"})
    assert (execution.status, execution.error) == ("FAILED", "UnknownBranch"), (execution.status, execution.error)
    assert execution.cause == 'branch must be streaming or etl, not "batch"', execution.cause
    assert execution.path == ["PickBranch", "ChooseBranch", "UnknownBranch"], execution.path
