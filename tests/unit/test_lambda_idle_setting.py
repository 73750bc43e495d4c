"""TESTBED_LAMBDA_IDLE_SECONDS: how long an idle Lambda worker lives, handed to LocalStack
as LAMBDA_KEEPALIVE_MS (its timer stops the idle execution environment and its worker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from serverless_testbed.engine.embedded import LAMBDA_IDLE_DEFAULT_SECONDS, LAMBDA_IDLE_VAR, localstack_environment
from serverless_testbed.errors import BadInput


def keepalive(tmp_path: Path, host: dict[str, str]) -> str:
    return localstack_environment("e1", 4566, tmp_path, host_environ=host)["LAMBDA_KEEPALIVE_MS"]


def test_unset_is_the_default_of_a_few_minutes(tmp_path: Path) -> None:
    assert keepalive(tmp_path, {}) == str(round(LAMBDA_IDLE_DEFAULT_SECONDS * 1000))
    assert keepalive(tmp_path, {LAMBDA_IDLE_VAR: " "}) == str(round(LAMBDA_IDLE_DEFAULT_SECONDS * 1000))


@pytest.mark.parametrize(("seconds", "milliseconds"), [("2", "2000"), ("0.5", "500"), ("900", "900000")])
def test_a_positive_number_of_seconds_becomes_milliseconds(tmp_path: Path, seconds: str, milliseconds: str) -> None:
    assert keepalive(tmp_path, {LAMBDA_IDLE_VAR: seconds}) == milliseconds


@pytest.mark.parametrize("value", ["0", "-5", "soon", "inf", "nan"])
def test_anything_else_is_refused_naming_the_variable(tmp_path: Path, value: str) -> None:
    with pytest.raises(BadInput, match=f"{LAMBDA_IDLE_VAR}='{value}' is not a positive number of seconds"):
        keepalive(tmp_path, {LAMBDA_IDLE_VAR: value})
