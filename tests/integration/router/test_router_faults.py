"""Workflow 4, the router and its two branches, when a function, Kinesis or the branch itself
fails: faults injected from outside the code (infra/serverless_testbed/faults.py) drive each Retry and Catch rule.

What a user checks each time: a cured fault leaves the outcome of a run without it (every
row curated or rejected; the feed put in the stream once); a fault no Retry cures fails the
router with the branch's error named, and nothing half-written.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.executions import Execution, execution_history, start, state_path, wait_execution
from serverless_testbed.faults import FaultsClient
from serverless_testbed.stack.stack import Stack
from serverless_testbed.waiting import wait_for

from fixtures.subscriptions import expected_curated, generate_subscriptions
from infra.runs.router import branch_sent, machine, route, run_etl, upload_raw
from infra.workflows import router as workflow

FAILED_BRANCH = ["ReadBranchFailure", "DidBranchFail", "BranchFailed"]
STOPPED_BRANCH = ["ReadBranchFailure", "DidBranchFail", "BranchStopped"]


@pytest.fixture(scope="module")
def stack(deploy: Callable[[str], Stack]) -> Stack:
    return deploy("router")


def name_of(deployer: Deployer, stack: Stack, logical: str) -> str:
    return stack.bind(deployer.ctx).name(logical)


def branch_failures(aws: Clients, branch_arn: str) -> list[str]:
    return [
        e["taskFailedEventDetails"]["error"] for e in execution_history(aws, branch_arn) if e["type"] == "TaskFailed"
    ]


def child_of(execution: Execution) -> str:
    """The ARN of the nested branch execution the router started."""
    submitted = [e for e in execution.history if e["type"] == "TaskSubmitted"]
    assert len(submitted) == 1, f"expected one nested execution, saw {len(submitted)}"
    arn: str = json.loads(submitted[0]["taskSubmittedEventDetails"]["output"])["ExecutionArn"]
    return arn


def records_of_seed(aws: Clients, stream: str, seed: int) -> list[dict[str, Any]]:
    """Every record in the stream (all shards, from the start) whose feed has `seed`; none
    when the stream does not exist (the branch creates it at run time)."""
    kinesis = aws("kinesis")
    try:
        shards = kinesis.list_shards(StreamName=stream)["Shards"]
    except kinesis.exceptions.ResourceNotFoundException:
        return []
    found = []
    for shard in shards:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            for record in page["Records"]:
                data = json.loads(record["Data"])
                data = json.loads(data) if isinstance(data, str) else data  # see read_record
                if isinstance(data, dict) and data.get("seed") == seed:
                    found.append(data)
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return found


# ---- the ETL branch -------------------------------------------------------------------------


def test_a_crashed_transform_is_retried_and_every_row_curated_or_rejected_once(
    aws: Clients, deployer: Deployer, stack: Stack, faults: FaultsClient
) -> None:
    # Fault: the transform function's next invocation crashes (Runtime.ExitError).
    rule = faults.inject(function=name_of(deployer, stack, workflow.TRANSFORM), fault="crash", count=1)
    generated = generate_subscriptions(60, 0.2, seed=71)

    execution, problems = run_etl(deployer, stack, generated)

    assert execution.status == "SUCCEEDED", f"saw {execution.status} {execution.error}: {execution.cause}"
    assert not problems, "\n".join(problems)
    assert branch_failures(aws, execution.output["execution"]) == ["Runtime.ExitError"]
    assert faults.fired(rule["id"]) == 1


def test_a_transform_throttled_for_good_fails_the_router_naming_the_error_and_curates_nothing(
    aws: Clients, deployer: Deployer, stack: Stack, faults: FaultsClient
) -> None:
    # Fault: Lambda throttles every invocation of the transform (429 TooManyRequestsException):
    # the Retry gives up after 3 retries; the cause is Lambda's text, not a function's JSON.
    rule = faults.inject(function=name_of(deployer, stack, workflow.TRANSFORM), fault="throttle")
    generated = generate_subscriptions(20, 0.0, seed=72)
    raw_key = upload_raw(deployer, stack, generated)

    execution = route(deployer, stack, {"branch": "etl", "rawKey": raw_key})

    assert (execution.status, execution.error) == ("FAILED", "BranchFailed"), (execution.status, execution.error)
    assert execution.path == ["PickBranch", "ChooseBranch", "RunEtl", *FAILED_BRANCH], execution.path
    child = child_of(execution)
    assert state_path(execution_history(aws, child)) == [
        "ReadRequest", "TransformRawData", "ExplainFailure", "KeepCause", "EtlFailed",
    ]  # fmt: skip
    assert branch_failures(aws, child) == ["Lambda.TooManyRequestsException"] * 4
    assert faults.fired(rule["id"]) == 4
    cause = execution.cause or ""
    assert "EtlFailed" in cause, cause
    assert "Lambda.TooManyRequestsException" in cause, cause
    assert raw_key in cause, f"the cause must name the file: {cause}"
    bucket = name_of(deployer, stack, workflow.BUCKET)
    stem = raw_key.removeprefix(workflow.RAW).rsplit(".", 1)[0]
    written = aws("s3").list_objects_v2(Bucket=bucket, Prefix=workflow.CURATED + stem).get("KeyCount", 0)
    assert written == 0, f"a transform that never ran wrote {written} curated file(s)"
    table = name_of(deployer, stack, workflow.TABLE)
    ids = [expected_curated(item.record)["subscriptionId"] for item in generated]
    stored = [i for i in ids if aws("dynamodb").get_item(TableName=table, Key={"subscriptionId": {"S": i}}).get("Item")]
    assert stored == [], f"a transform that never ran stored {stored}"


# ---- the streaming branch ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "where", "error"),
    [
        ({"function": workflow.FETCH, "fault": "crash"}, "FetchSubscriptionData", "Runtime.ExitError"),
        (
            {
                "service": "kinesis",
                "operation": "PutRecord",
                "resource": workflow.STREAM,
                "error": "ProvisionedThroughputExceededException",
            },
            "PutRecord",
            "Kinesis.ProvisionedThroughputExceededException",
        ),
    ],
    ids=["fetch-crashes", "put-record-throttled"],
)
def test_a_streaming_fault_a_retry_cures_puts_the_feed_in_the_stream_once(
    aws: Clients, deployer: Deployer, stack: Stack, faults: FaultsClient, rule: dict[str, Any], where: str, error: str
) -> None:
    named = {k: name_of(deployer, stack, v) if k in ("function", "resource") else v for k, v in rule.items()}
    installed = faults.inject(**named, count=1)
    seed = random.randrange(10**6, 10**9)  # this test's records are the ones with this seed
    request = {"branch": "streaming", "country": "DE", "seed": seed, "email": "team@example.com"}

    execution = route(deployer, stack, request)

    assert execution.status == "SUCCEEDED", f"saw {execution.status} {execution.error}: {execution.cause}"
    child = execution.output["execution"]
    assert branch_failures(aws, child) == [error], branch_failures(aws, child)
    assert faults.fired(installed["id"]) == 1
    path = state_path(execution_history(aws, child))
    assert path.count(where) == 1, f"a retry stays in {where}: {path}"
    sent = branch_sent(aws, child)
    records = records_of_seed(aws, name_of(deployer, stack, workflow.STREAM), seed)
    assert records == [sent["fetched"]], f"expected the fetched feed in the stream once, saw {len(records)} record(s)"
    assert (records[0]["country"], records[0]["seed"]) == ("DE", seed)


# ---- the router -----------------------------------------------------------------------------------


def test_a_branch_stopped_by_hand_fails_the_router_saying_it_was_aborted_and_puts_nothing(
    aws: Clients, deployer: Deployer, stack: Stack, faults: FaultsClient
) -> None:
    # Fault: the feed answers slowly (5 s, within its 10 s timeout); meanwhile an operator stops the
    # branch. LocalStack 4.14.0 aborts an execution once its running task returns: a task that timed
    # out instead would fail the branch first.
    faults.inject(function=name_of(deployer, stack, workflow.FETCH), fault="latency", latency_ms=5_000, count=1)
    seed = random.randrange(10**6, 10**9)
    request = {"branch": "streaming", "country": "FR", "seed": seed, "email": "team@example.com"}
    sfn = aws("stepfunctions")
    arn = start(aws, machine(deployer, stack), request)

    def branch_started() -> str | None:
        submitted = [e for e in execution_history(aws, arn) if e["type"] == "TaskSubmitted"]
        return json.loads(submitted[0]["taskSubmittedEventDetails"]["output"])["ExecutionArn"] if submitted else None

    child = wait_for(branch_started, timeout=30, what=f"router {arn} to start its branch")
    sfn.stop_execution(executionArn=child, error="Operator.Stopped", cause="stopped by hand")
    execution = wait_execution(aws, arn, timeout=60)

    assert (execution.status, execution.error) == ("FAILED", "BranchStopped"), (
        execution.status,
        execution.error,
        execution.cause,
    )
    assert execution.path == ["PickBranch", "ChooseBranch", "RunStreaming", *STOPPED_BRANCH], execution.path
    assert execution.cause == f"branch execution {child} ended ABORTED", execution.cause
    assert "PutRecord" not in state_path(execution_history(aws, child)), "a stopped branch must put nothing"
    assert records_of_seed(aws, name_of(deployer, stack, workflow.STREAM), seed) == []
