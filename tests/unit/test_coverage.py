"""State machine coverage (infra/serverless_testbed/coverage.py) from ASL and execution histories.

`coverage_histories/parallel_map_retry_catch.json` is a real LocalStack 4.14.0 history: a
Parallel state (a Pass branch, and an inline Map whose Choice sends 1 to `One` and the rest
to `Other`, three iterations interleaved), then an aws-sdk task that fails (an injected
fault), is retried by its second Retry rule, fails again and is caught.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from serverless_testbed.coverage import KINDS, Coverage, Model, collect, evaluate, path_value, report, table

ROOT = Path(__file__).resolve().parents[2]
RECORDED = json.loads((Path(__file__).parent / "coverage_histories" / "parallel_map_retry_catch.json").read_text())


def test_a_model_lists_every_state_transition_rule_and_branch() -> None:
    model = Model.from_asl(RECORDED["definition"])
    assert list(model.states) == ["P", "B1", "M", "C", "One", "Other", "L", "Caught"]
    assert model.transitions == ("P -> L", "C Choices[0] -> One", "C Default -> Other")
    assert model.retries == ("L Retry[0]", "L Retry[1]")
    assert model.catches == ("L Catch[0] -> Caught",)
    assert model.branches == ("P Branches[0]", "P Branches[1]", "M ItemProcessor")


def test_a_recorded_history_covers_what_the_execution_did() -> None:
    coverage = Coverage(Model.from_asl(RECORDED["definition"]))
    coverage.add_history(RECORDED["history"])

    document = coverage.to_json()
    assert document["executions"] == 1
    assert document["states"]["items"] == {
        "P": 1, "B1": 1, "M": 1, "C": 3, "One": 1, "Other": 2, "L": 1, "Caught": 1
    }  # fmt: skip
    assert document["transitions"]["items"] == {"P -> L": 1, "C Choices[0] -> One": 1, "C Default -> Other": 2}
    # SQS.SQSException: the first rule names another error, States.ALL retries it once, then the Catch.
    assert document["retries"]["items"] == {"L Retry[0]": 0, "L Retry[1]": 1}
    assert document["catches"]["items"] == {"L Catch[0] -> Caught": 1}
    assert document["branches"]["items"] == {"P Branches[0]": 1, "P Branches[1]": 1, "M ItemProcessor": 3}
    assert coverage.summary() == {
        "states": (8, 8), "transitions": (3, 3), "retries": (1, 2), "catches": (1, 1), "branches": (3, 3)
    }  # fmt: skip
    assert coverage.uncovered("retries") == ["L Retry[0]"]


def events(*chain: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """A history whose events follow each other on one chain."""
    history = []
    for number, (kind, details) in enumerate(chain, start=1):
        event: dict[str, Any] = {"id": number, "previousEventId": number - 1, "type": kind}
        if details:
            event["details" + "EventDetails"] = details
        history.append(event)
    return history


TASK_ASL = {
    "StartAt": "Work",
    "States": {
        "Work": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Retry": [{"ErrorEquals": ["Transient"]}, {"ErrorEquals": ["States.TaskFailed"]}],
            "Catch": [
                {"ErrorEquals": ["Permanent"], "Next": "Rejected"},
                {"ErrorEquals": ["States.ALL"], "Next": "Broken"},
            ],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
        "Rejected": {"Type": "Fail"},
        "Broken": {"Type": "Fail"},
    },
}


def test_each_retry_is_the_first_rule_matching_its_error_and_the_catch_the_one_taken() -> None:
    history = events(
        ("ExecutionStarted", {}),
        ("TaskStateEntered", {"name": "Work"}),
        ("TaskScheduled", {}),
        ("TaskFailed", {"error": "Transient"}),
        ("TaskScheduled", {}),
        ("TaskFailed", {"error": "Other"}),
        ("TaskScheduled", {}),
        ("TaskFailed", {"error": "Permanent"}),
        ("TaskStateExited", {"name": "Work"}),
        ("FailStateEntered", {"name": "Rejected"}),
        ("ExecutionFailed", {}),
    )
    coverage = Coverage(Model.from_asl(TASK_ASL))
    coverage.add_history(history)
    assert coverage.to_json()["retries"]["items"] == {"Work Retry[0]": 1, "Work Retry[1]": 1}
    assert coverage.to_json()["catches"]["items"] == {"Work Catch[0] -> Rejected": 1, "Work Catch[1] -> Broken": 0}
    # A caught exit is a Catch, not the Next transition.
    assert coverage.to_json()["transitions"]["items"] == {"Work -> Done": 0}


def test_a_failure_no_rule_handles_counts_neither_as_retry_nor_catch() -> None:
    history = events(
        ("ExecutionStarted", {}),
        ("TaskStateEntered", {"name": "Work"}),
        ("TaskScheduled", {}),
        ("TaskFailed", {"error": "Transient"}),
        ("ExecutionFailed", {}),
    )
    coverage = Coverage(Model.from_asl(TASK_ASL))
    coverage.add_history(history)
    assert coverage.summary()["retries"] == (0, 2)
    assert coverage.summary()["catches"] == (0, 2)


@pytest.mark.parametrize(
    ("rule", "data", "holds"),
    [
        ({"Variable": "$.a", "IsPresent": True}, {"a": None}, True),
        ({"Variable": "$.a", "IsPresent": False}, {"b": 1}, True),
        ({"Variable": "$.a.b[1]", "NumericEquals": 2}, {"a": {"b": [1, 2]}}, True),
        ({"Variable": "$.a", "NumericLessThanEquals": 50}, {"a": 51}, False),
        ({"Variable": "$.a", "NumericEqualsPath": "$.b"}, {"a": 3, "b": 3}, True),
        ({"Variable": "$.a", "NumericEqualsPath": "$.c"}, {"a": 3}, False),
        ({"Variable": "$.a", "StringEquals": "x"}, {"a": 1}, False),
        ({"Variable": "$.a", "StringMatches": '{"errorMessage"*'}, {"a": '{"errorMessage": "x"}'}, True),
        ({"Variable": "$.a", "BooleanEquals": True}, {"a": 1}, False),
        ({"Variable": "$.t", "TimestampLessThan": "2026-01-01T00:00:00Z"}, {"t": "2025-06-01T00:00:00Z"}, True),
        ({"And": [{"Variable": "$.a", "IsPresent": True}, {"Variable": "$.a", "StringEquals": "etl"}]}, {}, False),
        ({"Or": [{"Variable": "$.a", "IsNull": True}, {"Variable": "$.b", "IsString": True}]}, {"b": "s"}, True),
        ({"Not": {"Variable": "$.a", "IsPresent": True}}, {}, True),
    ],
)
def test_choice_rules_evaluate_as_step_functions_does(rule: dict[str, Any], data: Any, holds: bool) -> None:
    assert evaluate(rule, data) is holds


def test_paths_that_are_not_there_are_missing_not_null() -> None:
    assert path_value({"a": None}, "$.a") is None
    assert path_value({"a": None}, "$.b") is not None
    assert path_value([1, 2], "$[1]") == 2
    assert path_value({"a": 1}, "$") == {"a": 1}


@pytest.mark.parametrize("asl", sorted(p.name for p in (ROOT / "asl").glob("*.asl.json")))
def test_every_workflow_definition_has_a_model(asl: str) -> None:
    model = Model.from_asl((ROOT / "asl" / asl).read_text())
    assert model.states, f"{asl}: no states"
    for key in model.transitions + model.catches:
        target = key.rsplit(" -> ", 1)[1]
        assert target in model.states, f"{asl}: {key} leads to no state"


def test_the_table_has_one_line_per_machine_and_the_report_names_what_is_uncovered() -> None:
    covered = Coverage(Model.from_asl(RECORDED["definition"]))
    covered.add_history(RECORDED["history"])
    untouched = Coverage(Model.from_asl(TASK_ASL))
    lines = table({"probe": covered, "task": untouched}).splitlines()
    assert lines[0].split() == ["machine", "executions", *KINDS]
    assert lines[1].split() == ["probe", "1", "8/8", "3/3", "1/2", "1/1", "3/3"]
    assert lines[2].split() == ["task", "0", "0/4", "0/1", "0/2", "0/2", "0/0"]
    document = report({"probe": covered, "task": untouched})
    assert document["probe"]["uncovered"]["retries"] == ["L Retry[0]"]
    assert document["task"]["uncovered"]["states"] == ["Work", "Done", "Rejected", "Broken"]


def test_the_child_executions_of_a_map_run_are_covered_but_not_counted_as_executions() -> None:
    """An engine that lists a map run's children (the embedded one): their histories count
    toward the states inside the map, the executions stay the parents'."""
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Inner",
                    "States": {"Inner": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    parent = [
        {"id": 1, "type": "ExecutionStarted"},
        {"id": 2, "previousEventId": 0, "type": "MapStateEntered", "stateEnteredEventDetails": {"name": "Each"}},
        {"id": 3, "previousEventId": 2, "type": "MapRunStarted", "mapRunStartedEventDetails": {"mapRunArn": "run"}},
    ]
    child = [
        {"id": 1, "type": "ExecutionStarted"},
        {"id": 2, "previousEventId": 0, "type": "PassStateEntered", "stateEnteredEventDetails": {"name": "Inner"}},
    ]

    class Paginator:
        def __init__(self, operation: str) -> None:
            self.operation = operation

        def paginate(self, **request: Any) -> list[dict[str, Any]]:
            if self.operation == "get_execution_history":
                return [{"events": child if request["executionArn"].startswith("child") else parent}]
            if "mapRunArn" in request:
                return [{"executions": [{"executionArn": f"child-{n}"} for n in range(2)]}]
            return [{"executions": [{"executionArn": "parent", "startDate": 0}]}]

    class StepFunctions:
        class meta:  # botocore's attribute name
            endpoint_url = "http://127.0.0.1:4570"

        def get_paginator(self, operation: str) -> Paginator:
            return Paginator(operation)

    coverage = Coverage(Model.from_asl(definition))
    collect(lambda service: StepFunctions(), "machine", coverage)
    assert coverage.executions == 1
    assert coverage.to_json()["states"]["items"] == {"Each": 1, "Inner": 2}
    assert coverage.unlisted_map_runs == 0


def test_an_engine_that_cannot_list_map_runs_is_asked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stock LocalStack 4.14.0 answers every map run listing with an error, after the SDK's retries
    (1 to 5 s each): the second and later map runs of that endpoint are counted unlisted
    without asking. A stand-in client counts the listings."""
    from botocore.exceptions import ClientError
    from serverless_testbed import coverage as coverage_module

    monkeypatch.setattr(coverage_module, "_UNLISTING_ENDPOINTS", set())

    class Paginator:
        def __init__(self, client: StepFunctions) -> None:
            self.client = client

        def paginate(self, **request: Any) -> list[dict[str, Any]]:
            if "mapRunArn" in request:
                self.client.map_run_listings += 1
                raise ClientError({"Error": {"Code": "InternalError", "Message": "no"}}, "ListExecutions")
            return [{"executions": [{"executionArn": f"exec-{n}", "startDate": 0} for n in range(3)]}]

    class StepFunctions:
        class meta:  # botocore's attribute name
            endpoint_url = "http://127.0.0.1:4566"

        map_run_listings = 0

        def get_paginator(self, operation: str) -> Paginator:
            return Paginator(self)

    client = StepFunctions()
    history = [{"id": 1, "type": "MapRunStarted", "mapRunStartedEventDetails": {"mapRunArn": "run"}}]
    monkeypatch.setattr(coverage_module, "_history", lambda sfn, arn: history)
    coverage = Coverage(Model.from_asl(RECORDED["definition"]))
    coverage_module.collect(lambda service: client, "machine", coverage)
    assert client.map_run_listings == 1, "the endpoint is asked once"
    assert coverage.unlisted_map_runs == 3, "every map run is still counted as unlisted"


def test_coverages_of_two_test_processes_merge_into_the_whole() -> None:
    """pytest-xdist: each worker sends its coverage as JSON; the sum is what one process would count."""
    model = Model.from_asl(RECORDED["definition"])
    one, other, whole = Coverage(model), Coverage(model), Coverage(model)
    one.add_history(RECORDED["history"])
    other.add_history(RECORDED["history"])
    whole.add_history(RECORDED["history"])
    whole.add_history(RECORDED["history"])

    merged = Coverage.from_json(json.loads(json.dumps(one.to_json())))
    merged.merge(Coverage.from_json(json.loads(json.dumps(other.to_json()))))
    assert merged.to_json() == whole.to_json()
    assert report({"m": merged}) == report({"m": whole})
    assert table({"m": merged}) == table({"m": whole})
