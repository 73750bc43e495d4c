"""TESTBED_LAMBDA_MAX_ENVIRONMENTS: the setting, handed to the engine, and the bound itself
(infra/serverless_testbed/localstack_plugins/lambda_environments.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from serverless_testbed.engine.embedded import localstack_environment
from serverless_testbed.errors import BadInput
from serverless_testbed.localstack_plugins.lambda_environments import (
    MAX_ENVIRONMENTS_DEFAULT,
    MAX_ENVIRONMENTS_VAR,
    Bound,
    max_environments,
)

pytestmark = pytest.mark.unit


def test_unset_is_the_default_and_a_positive_number_is_the_bound(tmp_path: Path) -> None:
    assert max_environments({}) == MAX_ENVIRONMENTS_DEFAULT == min(4, max(2, os.cpu_count() or 2))
    default = localstack_environment("e1", 4566, tmp_path, host_environ={})[MAX_ENVIRONMENTS_VAR]
    assert default == str(MAX_ENVIRONMENTS_DEFAULT)
    assert (
        localstack_environment("e1", 4566, tmp_path, host_environ={MAX_ENVIRONMENTS_VAR: "2"})[MAX_ENVIRONMENTS_VAR]
        == "2"
    )


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_anything_else_stops_the_engine_start_naming_the_variable(tmp_path: Path, value: str) -> None:
    with pytest.raises(BadInput, match=f"{MAX_ENVIRONMENTS_VAR}='{value}' is not a positive whole number"):
        localstack_environment("e1", 4566, tmp_path, host_environ={MAX_ENVIRONMENTS_VAR: value})


def test_the_bound_lets_n_invocations_of_a_version_hold_at_once_and_the_next_waits() -> None:
    bound = Bound(2)
    entered, release = threading.Barrier(3), threading.Event()

    def hold() -> None:
        with bound.held("fn-v1", "fn", timeout_s=5):
            entered.wait()
            release.wait(5)

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for thread in holders:
        thread.start()
    entered.wait(5)
    with (
        pytest.raises(TimeoutError, match=f"at most 2 at once: {MAX_ENVIRONMENTS_VAR}"),
        bound.held("fn-v1", "fn", 0.05),
    ):
        pass
    with bound.held("other-v1", "other", timeout_s=0.05):
        pass  # another function version has permits of its own
    release.set()
    for thread in holders:
        thread.join(5)
    with bound.held("fn-v1", "fn", timeout_s=0.05):
        pass  # a finished invocation gives its permit back
