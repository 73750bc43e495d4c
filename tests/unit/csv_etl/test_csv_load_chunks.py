"""The load's chunk size setting: a bounded number of rows per invocation, read from the
function's environment, and a clear error for a setting that is not a positive number."""

from __future__ import annotations

import pytest
from serverless_testbed.lambda_code import load

load_step = load("csv_etl", "load")


def test_unset_means_only_the_time_budget_bounds_a_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROWS_PER_INVOCATION", raising=False)
    assert load_step.rows_per_invocation() is None
    monkeypatch.setenv("ROWS_PER_INVOCATION", " ")
    assert load_step.rows_per_invocation() is None


def test_a_positive_number_is_the_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROWS_PER_INVOCATION", "5000")
    assert load_step.rows_per_invocation() == 5000


@pytest.mark.parametrize("setting", ["0", "-5", "1e3", "many"])
def test_anything_else_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv("ROWS_PER_INVOCATION", setting)
    with pytest.raises(ValueError, match="ROWS_PER_INVOCATION must be a positive whole number"):
        load_step.rows_per_invocation()
