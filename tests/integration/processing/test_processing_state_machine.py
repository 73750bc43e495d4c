"""Workflow 3's state machine: process, then log; Retry on transient errors; Catch to ProcessingFailed."""

from __future__ import annotations

import json
import uuid
from typing import Any

from infra.clients import Clients
from infra.deploy import Deployer
from infra.executions import Execution, start, wait_execution
from infra.runs import RunOptions, runners
from infra.runs import processing as runner
from infra.stack.stack import Stack
from infra.waiting import wait_for
from infra.workflows import processing as workflow


def run(aws: Clients, names: dict[str, str], payload: Any) -> Execution:
    return wait_execution(aws, start(aws, names["machine"], payload, name=f"test-{uuid.uuid4().hex[:12]}"))


def execution_name(execution: Execution) -> str:
    return execution.arn.rsplit(":", 1)[-1]


def log_object(aws: Clients, names: dict[str, str], execution: Execution) -> dict[str, Any]:
    key = f"logs/{execution_name(execution)}/entry.json"
    entry: dict[str, Any] = json.loads(aws("s3").get_object(Bucket=names["log_bucket"], Key=key)["Body"].read())
    return entry


def failed_tasks(execution: Execution) -> list[str]:
    return [e["taskFailedEventDetails"]["error"] for e in execution.history if e["type"] == "TaskFailed"]


def test_a_good_request_is_processed_then_logged(aws: Clients, names: dict[str, str]) -> None:
    execution = run(aws, names, {"message": "Hello, Step Functions!", "requestId": "sm-good-1"})

    assert execution.status == "SUCCEEDED", f"expected SUCCEEDED, saw {execution.status}: {execution.cause}"
    assert execution.path == ["ProcessData", "LogResult", "Processed"], execution.path
    assert execution.output["result"]["reply"] == "Processed: Hello, Step Functions!", execution.output
    assert execution.output["result"]["summary"]["words"] == 3, execution.output
    key = f"logs/{execution_name(execution)}/entry.json"
    assert execution.output["log"] == {"bucket": names["log_bucket"], "key": key}, execution.output
    entry = log_object(aws, names, execution)
    assert (entry["execution"], entry["status"], entry["requestId"]) == (
        execution_name(execution), "SUCCEEDED", "sm-good-1"
    ), entry  # fmt: skip
    assert entry["result"] == execution.output["result"], f"the log holds {entry['result']}"
    assert failed_tasks(execution) == [], f"expected no failed attempt, saw {failed_tasks(execution)}"


def test_the_log_entry_also_reaches_cloudwatch_logs(aws: Clients, names: dict[str, str]) -> None:
    execution = run(aws, names, {"message": "to cloudwatch"})
    logs = aws("logs")
    group = f"/aws/lambda/{names['log_function']}"

    def logged_line() -> dict[str, Any] | None:
        events = logs.filter_log_events(logGroupName=group, filterPattern=f'"{execution_name(execution)}"')["events"]
        lines = [json.loads(e["message"]) for e in events if e["message"].lstrip().startswith("{")]
        return next((line for line in lines if line.get("execution") == execution_name(execution)), None)

    line = wait_for(logged_line, timeout=20, what=f"the log line of {execution_name(execution)} in {group}")
    assert line == log_object(aws, names, execution), f"CloudWatch has {line}"


def test_a_transient_failure_is_retried_and_the_execution_succeeds(aws: Clients, names: dict[str, str]) -> None:
    execution = run(aws, names, {"message": "fails once", "simulate": "transient-once"})

    assert execution.status == "SUCCEEDED", (
        f"expected SUCCEEDED after a retry, saw {execution.status}: {execution.cause}"
    )
    assert execution.path == ["ProcessData", "LogResult", "Processed"], execution.path
    assert failed_tasks(execution) == [workflow.TRANSIENT_ERROR], (
        f"expected one retried failure, saw {failed_tasks(execution)}"
    )
    kinds = [e["type"] for e in execution.history]
    failed_at = kinds.index("TaskFailed")
    assert kinds[failed_at + 1 : failed_at + 3] == ["TaskScheduled", "TaskStarted"], (
        f"expected the task scheduled again after the failure, saw {kinds[failed_at:]}"
    )
    marker = f"markers/{execution_name(execution)}/transient-once"
    assert aws("s3").head_object(Bucket=names["log_bucket"], Key=marker)["ContentLength"] > 0
    assert log_object(aws, names, execution)["status"] == "SUCCEEDED"


def test_a_rejected_input_is_caught_logged_and_fails_with_processing_failed(
    aws: Clients, names: dict[str, str]
) -> None:
    execution = run(aws, names, {"requestId": "sm-bad-1", "message": 42})

    assert (execution.status, execution.error) == ("FAILED", "ProcessingFailed"), (
        f"expected FAILED ProcessingFailed, saw {execution.status} {execution.error}"
    )
    assert execution.path == ["ProcessData", "LogFailure", "ProcessingFailed"], execution.path
    assert execution.cause == "'message' must be a string, got a number", f"cause: {execution.cause!r}"
    assert failed_tasks(execution) == ["InvalidRequest"], (
        f"a permanent failure must not be retried: {failed_tasks(execution)}"
    )
    entry = log_object(aws, names, execution)
    assert (entry["status"], entry["error"], entry["requestId"]) == ("FAILED", "InvalidRequest", "sm-bad-1"), entry
    assert entry["message"] == execution.cause, entry
    assert entry["input"] == {"requestId": "sm-bad-1", "message": 42}, entry


def test_an_input_that_is_not_an_object_fails_with_processing_failed(aws: Clients, names: dict[str, str]) -> None:
    execution = run(aws, names, ["not", "an", "object"])

    assert (execution.status, execution.error) == ("FAILED", "ProcessingFailed"), (
        f"saw {execution.status} {execution.error}"
    )
    assert execution.cause == "the input must be a JSON object, got an array", f"cause: {execution.cause!r}"
    assert log_object(aws, names, execution)["input"] == ["not", "an", "object"]


def test_an_unknown_simulation_is_a_permanent_failure(aws: Clients, names: dict[str, str]) -> None:
    execution = run(aws, names, {"message": "hi", "simulate": "explode"})

    assert (execution.status, execution.error) == ("FAILED", "ProcessingFailed"), (
        f"saw {execution.status} {execution.error}"
    )
    assert "'simulate' must be one of transient-once" in (execution.cause or ""), f"cause: {execution.cause!r}"


def test_the_runner_accounts_for_every_request_and_execution(deployer: Deployer, stack: Stack) -> None:
    result = runners()["processing"](deployer, stack, RunOptions(records=8, invalid_rate=0.5, seed=4))

    assert result.ok, "\n".join(result.problems)
    counts = result.counts
    assert counts["api_accepted"] + counts["api_rejected"] == counts["requests"] == 8, counts
    assert (counts["app_accepted"], counts["app_rejected"]) == (counts["api_accepted"], counts["api_rejected"]), counts
    assert counts["api_rejected"] == 4, counts
    assert counts["succeeded"] + counts["failed"] == counts["executions"] == counts["logged"], counts
    assert counts["retried"] == 1, counts
    assert result.details["api_url"] == runner.api_url(deployer, stack, runner.endpoint_of(deployer.clients))
