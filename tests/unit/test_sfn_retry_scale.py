"""TESTBED_SFN_RETRY_SCALE: read and checked on the host, handed to the engine, which scales
only the retrier's waits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from serverless_testbed.engine.embedded import localstack_environment
from serverless_testbed.errors import BadInput
from serverless_testbed.localstack_plugins.sfn_retry_scale import RETRY_SCALE_VAR, ScaledSleep, retry_scale


def test_real_time_unless_asked() -> None:
    assert retry_scale({}) == 1.0
    assert retry_scale({RETRY_SCALE_VAR: " "}) == 1.0
    assert retry_scale({RETRY_SCALE_VAR: "0.01"}) == 0.01
    assert retry_scale({RETRY_SCALE_VAR: "1"}) == 1.0


@pytest.mark.parametrize("value", ["0", "-1", "2", "fast", "nan", "inf"])
def test_anything_but_a_factor_up_to_one_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(BadInput, match=f"{RETRY_SCALE_VAR}='{value}' is not a factor between 0"):
        retry_scale({RETRY_SCALE_VAR: value})


def test_the_engine_is_started_with_the_setting(tmp_path: Path) -> None:
    assert localstack_environment("e1", 4566, tmp_path, host_environ={})[RETRY_SCALE_VAR] == "1"
    started = localstack_environment("e1", 4566, tmp_path, host_environ={RETRY_SCALE_VAR: "0.05"})
    assert started[RETRY_SCALE_VAR] == "0.05"


def test_only_sleep_is_scaled(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    scaled = ScaledSleep(0.01)
    scaled.sleep(4)
    assert slept == [0.04]
    assert scaled.time is time.time, "the rest of the time module is the real one"
