"""Workflow 3's state machine: process, then log; Retry on transient errors; Catch to ProcessingFailed."""

from __future__ import annotations

import json
import uuid
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.deploy import Deployer
from serverless_testbed.executions import Execution, start, wait_execution
from serverless_testbed.faults import FaultsClient
from serverless_testbed.runs import RunOptions, runners
from serverless_testbed.stack.stack import Stack
from serverless_testbed.waiting import wait_for

from infra.runs import processing as runner


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


def test_a_crashed_attempt_is_retried_and_the_execution_succeeds(
    aws: Clients, names: dict[str, str], faults: FaultsClient
) -> None:
    # Fault: the processing function's next invocation crashes (Runtime.ExitError), once.
    rule = faults.inject(function=names["process_function"], fault="crash", count=1)
    execution = run(aws, names, {"message": "fails once", "requestId": "sm-crash-1"})

    assert execution.status == "SUCCEEDED", (
        f"expected SUCCEEDED after a retry, saw {execution.status}: {execution.cause}"
    )
    assert execution.path == ["ProcessData", "LogResult", "Processed"], execution.path
    assert failed_tasks(execution) == ["Runtime.ExitError"], (
        f"expected one retried crash, saw {failed_tasks(execution)}"
    )
    kinds = [e["type"] for e in execution.history]
    failed_at = kinds.index("TaskFailed")
    assert kinds[failed_at + 1 : failed_at + 3] == ["TaskScheduled", "TaskStarted"], (
        f"expected the task scheduled again after the failure, saw {kinds[failed_at:]}"
    )
    assert faults.fired(rule["id"]) == 1
    entry = log_object(aws, names, execution)
    assert (entry["status"], entry["requestId"]) == ("SUCCEEDED", "sm-crash-1"), entry
    assert execution.output["result"]["reply"] == "Processed: fails once", execution.output


def test_a_function_that_keeps_timing_out_is_caught_logged_and_fails(
    aws: Clients, names: dict[str, str], faults: FaultsClient
) -> None:
    # Fault: every invocation of the processing function times out (Sandbox.Timedout).
    rule = faults.inject(function=names["process_function"], fault="timeout")
    execution = run(aws, names, {"message": "never answers", "requestId": "sm-timeout-1"})

    assert (execution.status, execution.error) == ("FAILED", "ProcessingFailed"), (
        f"expected FAILED ProcessingFailed, saw {execution.status} {execution.error}"
    )
    assert execution.path == ["ProcessData", "LogFailure", "ProcessingFailed"], execution.path
    assert failed_tasks(execution) == ["Sandbox.Timedout"] * 4, (
        f"expected the first attempt and 3 retries to time out, saw {failed_tasks(execution)}"
    )
    assert faults.fired(rule["id"]) == 4
    entry = log_object(aws, names, execution)
    assert (entry["status"], entry["error"], entry["requestId"]) == ("FAILED", "Sandbox.Timedout", "sm-timeout-1"), (
        entry
    )
    assert "Task timed out after 10.00 seconds" in entry["message"], entry
    assert entry["message"] == execution.cause, entry


def test_a_failure_that_cannot_be_logged_still_fails_with_the_original_cause(
    aws: Clients, names: dict[str, str], faults: FaultsClient
) -> None:
    # Faults: the request is bad (InvalidRequest), and S3 refuses the log function's PutObject.
    rule = faults.inject(
        service="s3", operation="PutObject", resource=names["log_bucket"], error="AccessDenied", status=403
    )
    execution = run(aws, names, {"requestId": "sm-unlogged-1", "message": 42})

    assert (execution.status, execution.error) == ("FAILED", "ProcessingFailed"), (
        f"expected FAILED ProcessingFailed, saw {execution.status} {execution.error}"
    )
    assert execution.path == ["ProcessData", "LogFailure", "ProcessingFailedUnlogged"], execution.path
    assert "'message' must be a string, got a number" in (execution.cause or ""), f"cause: {execution.cause!r}"
    assert faults.fired(rule["id"]) >= 1
    assert failed_tasks(execution) == ["InvalidRequest", "AccessDenied"], failed_tasks(execution)
    key = f"logs/{execution_name(execution)}/entry.json"
    assert not aws("s3").list_objects_v2(Bucket=names["log_bucket"], Prefix=key).get("Contents"), "nothing logged"


def test_a_log_attempt_that_crashes_is_retried(aws: Clients, names: dict[str, str], faults: FaultsClient) -> None:
    # Fault: the logging function's next invocation crashes, once.
    faults.inject(function=names["log_function"], fault="crash", count=1)
    execution = run(aws, names, {"message": "log me twice", "requestId": "sm-logretry-1"})

    assert execution.status == "SUCCEEDED", f"saw {execution.status}: {execution.cause}"
    assert execution.path == ["ProcessData", "LogResult", "Processed"], execution.path
    assert failed_tasks(execution) == ["Runtime.ExitError"], failed_tasks(execution)
    assert log_object(aws, names, execution)["requestId"] == "sm-logretry-1"


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


def test_a_failure_log_attempt_that_crashes_is_retried(
    aws: Clients, names: dict[str, str], faults: FaultsClient
) -> None:
    # Faults: the request is bad, and the logging function's next invocation crashes, once.
    faults.inject(function=names["log_function"], fault="crash", count=1)
    execution = run(aws, names, {"requestId": "sm-logretry-2", "message": ""})

    assert (execution.status, execution.error) == ("FAILED", "ProcessingFailed"), (
        f"saw {execution.status} {execution.error}"
    )
    assert execution.path == ["ProcessData", "LogFailure", "ProcessingFailed"], execution.path
    assert failed_tasks(execution) == ["InvalidRequest", "Runtime.ExitError"], failed_tasks(execution)
    entry = log_object(aws, names, execution)
    assert (entry["status"], entry["error"], entry["requestId"]) == ("FAILED", "InvalidRequest", "sm-logretry-2"), entry


def test_the_old_test_switch_is_an_unknown_field(aws: Clients, names: dict[str, str]) -> None:
    execution = run(aws, names, {"message": "hi", "simulate": "transient-once"})

    assert (execution.status, execution.error) == ("FAILED", "ProcessingFailed"), (
        f"saw {execution.status} {execution.error}"
    )
    assert "unknown field(s) simulate" in (execution.cause or ""), f"cause: {execution.cause!r}"
    assert failed_tasks(execution) == ["InvalidRequest"], failed_tasks(execution)


def test_the_runner_accounts_for_every_request_and_execution(deployer: Deployer, stack: Stack) -> None:
    result = runners()["processing"](deployer, stack, RunOptions(records=8, invalid_rate=0.5, seed=4))

    assert result.ok, "\n".join(result.problems)
    counts = result.counts
    assert counts["api_accepted"] + counts["api_rejected"] == counts["requests"] == 8, counts
    assert (counts["app_accepted"], counts["app_rejected"]) == (counts["api_accepted"], counts["api_rejected"]), counts
    assert counts["api_rejected"] == 4, counts
    assert counts["succeeded"] + counts["failed"] == counts["executions"] == counts["logged"], counts
    assert counts["retried"] == 0, counts  # no fault injected: nothing was retried
    assert result.details["api_url"] == runner.api_url(deployer, stack, runner.endpoint_of(deployer.clients))
