"""When a test session reuses the engine `testbed up` left running (infra/serverless_testbed/engine/reuse.py):
the refusals, each saying why, and the session slots that keep two sessions apart."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serverless_testbed.engine.embedded import EmbeddedEngine, EngineRecord
from serverless_testbed.engine.reuse import SLOTS, mismatch, reuse_running_engine, take_slot, wants_own_engine
from serverless_testbed.localstack_plugins.iam_mode import IAM_ENFORCE_VAR
from serverless_testbed.localstack_plugins.scope import ENGINE_MODE_VAR
from serverless_testbed.localstack_plugins.sfn_retry_scale import RETRY_SCALE_VAR
from serverless_testbed.settings import Settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("value", "own"), [("1", True), ("true", True), ("YES", True), ("0", False), ("", False)])
def test_testbed_own_engine_asks_for_a_fresh_engine(value: str, own: bool) -> None:
    assert wants_own_engine({"TESTBED_OWN_ENGINE": value}) is own


def test_other_targets_and_an_explicit_request_never_reuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTBED_STATE_DIR", str(tmp_path))
    assert reuse_running_engine(Settings(target="endpoint")) == (None, "target endpoint")
    reused, why = reuse_running_engine(Settings(target="embedded"), own_engine=True)
    assert reused is None
    assert "an engine of its own was asked for" in why
    reused, why = reuse_running_engine(Settings(target="embedded"), environ={"TESTBED_OWN_ENGINE": "1"})
    assert reused is None
    assert "TESTBED_OWN_ENGINE=1" in why


def test_nothing_recorded_means_a_fresh_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTBED_STATE_DIR", str(tmp_path))
    assert reuse_running_engine(Settings(target="embedded"), environ={}) == (
        None,
        "no engine from `testbed up` is running",
    )


@pytest.fixture
def process_with(request: pytest.FixtureRequest) -> Iterator[int]:
    """A process whose environment holds the engine settings given as the test's param."""
    env = {**os.environ, **request.param}
    script = "import sys; print('ready', flush=True); sys.stdin.read()"
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    # Popen may return before exec has laid out the new environment (/proc/<pid>/environ empty): wait for it to run.
    assert child.stdout.readline() == b"ready\n"
    yield child.pid
    assert child.stdin is not None
    child.stdin.close()
    child.wait(timeout=10)
    child.stdout.close()


def engine_at(pid: int, region: str = "us-east-1") -> EmbeddedEngine:
    record = EngineRecord(engine_id="abc", pid=pid, port=1, root="/nonexistent", region=region)
    return EmbeddedEngine(Settings(target="embedded", region=region), record=record)


@pytest.mark.parametrize(
    "process_with", [{ENGINE_MODE_VAR: "full", IAM_ENFORCE_VAR: "1", RETRY_SCALE_VAR: "1"}], indirect=True
)
def test_an_engine_in_another_mode_region_iam_or_retry_setting_is_not_reused(process_with: int) -> None:
    engine = engine_at(process_with)
    settings = Settings(target="embedded", region="us-east-1")
    assert mismatch(engine, settings, {}) is None
    assert mismatch(engine, settings, {ENGINE_MODE_VAR: "stock"}) == f"it does not run in {ENGINE_MODE_VAR}=stock"
    assert mismatch(engine, settings, {IAM_ENFORCE_VAR: "0"}) == f"its IAM enforcement is not {IAM_ENFORCE_VAR}=0"
    assert mismatch(engine, settings, {RETRY_SCALE_VAR: "0.01"}) == (
        f"its Step Functions Retry intervals are not scaled by {RETRY_SCALE_VAR}=0.01"
    )
    other = Settings(target="embedded", region="eu-west-1")
    assert mismatch(engine, other, {}) == "it runs in us-east-1, the session in eu-west-1"


def test_each_session_takes_a_slot_of_its_own_until_none_is_left(tmp_path: Path) -> None:
    taken = [take_slot(str(tmp_path)) for _ in range(SLOTS)]
    assert [slot for slot, _fd in taken] == list(range(SLOTS))
    assert take_slot(str(tmp_path)) is None, "every slot is held"
    _slot, fd = taken[3]
    os.close(fd)  # that session ended
    again = take_slot(str(tmp_path))
    assert again is not None
    assert again[0] == 3, "a freed slot is taken again, with the prefix (and stacks) it had"
    for _slot, held in [*taken[:3], *taken[4:], again]:
        os.close(held)
