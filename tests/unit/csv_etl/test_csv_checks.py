"""The runner's checks must see differences: a checker that passes everything proves nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from serverless_testbed.executions import Execution

from fixtures.csv_files import generate_csv_file
from infra.runs.csv_etl import load_id, scheduled_attempts, target_row_problems


def stored_like(expected: dict[str, Any]) -> dict[str, Any]:
    """A target row as DynamoDB gives it back: numbers as Decimal, trailing zeros gone."""
    numbers = ("quantity", "unit_price", "amount", "amount_usd", "source_line")
    return {k: Decimal(str(v)).normalize() if k in numbers else v for k, v in expected.items()}


def test_a_stored_row_equal_in_value_passes_and_any_difference_is_named() -> None:
    expected = {**generate_csv_file(5, 0, seed=3).loaded[0].record["target"], "source_file": "source/a.csv"}
    assert target_row_problems(expected, stored_like(expected)) == []
    assert target_row_problems(expected, None) == ["expected in the target table, not there"]
    wrong = {**stored_like(expected), "amount": Decimal(expected["amount"]) + Decimal("0.01"), "extra": "x"}
    problems = target_row_problems(expected, wrong)
    assert len(problems) == 2, problems
    assert problems[0].startswith("amount: expected"), problems
    assert problems[1] == "unexpected attributes ['extra']", problems


def test_load_ids_follow_the_content() -> None:
    assert load_id("source/a.csv", b"x") == load_id("source/a.csv", b"x")
    assert load_id("source/a.csv", b"x") != load_id("source/a.csv", b"y")


def entered(name: str) -> dict[str, Any]:
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}}


def test_attempts_are_counted_inside_their_state_only() -> None:
    history = [
        entered("ValidateFile"),
        {"type": "TaskScheduled"},
        {"type": "TaskStateExited"},
        entered("LoadStage"),
        {"type": "TaskScheduled"},
        {"type": "TaskFailed"},
        {"type": "TaskScheduled"},
        {"type": "TaskSucceeded"},
        {"type": "TaskStateExited"},
    ]
    execution = Execution(arn="a", status="SUCCEEDED", path=[], history=history)
    assert len(scheduled_attempts(execution, "LoadStage")) == 2
    assert len(scheduled_attempts(execution, "ValidateFile")) == 1
