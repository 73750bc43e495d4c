"""The edit-test loop: with `testbed up` running, a test session uses that engine in a
slot of its own instead of starting one, and keeps its stacks deployed for the next
session, which deploys nothing unchanged and starts from empty tables and queues.

Starts its own engine with `testbed up` (a private state directory) and runs pytest on
one workflow test twice against it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from serverless_testbed.settings import Settings

from tests.integration.engine.test_lifecycle import ROOT, TESTBED, clean_environment, run

ONE_TEST = ["tests/integration/orders/test_customer_orders.py", "-k", "approved_order_is_kept"]


@pytest.fixture
def engine_up(settings: Settings, tmp_path: Path) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """`testbed up` with a private state directory: (environment, engine record)."""
    if settings.target != "embedded":
        pytest.skip(f"reusing an engine is for the embedded target; target is {settings.target}")
    env = clean_environment(tmp_path)
    run([*TESTBED, "up"], env)
    record = json.loads((tmp_path / "state" / "engine.json").read_text())
    yield env, record
    run([*TESTBED, "down"], env)


def kept_machine(record: dict[str, str]) -> dict[str, object]:
    """The slot's orders state machine as the engine describes it (it stays after a session)."""
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=f"http://127.0.0.1:{record['port']}",
        region_name=record["region"],
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    machines = [m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "tr0-customer-orders"]
    assert len(machines) == 1, f"expected the slot's stack to stay deployed, saw {machines}"
    return dict(machines[0])


def session(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *ONE_TEST, *extra]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"the session failed:\n{result.stdout[-4000:]}{result.stderr[-2000:]}"
    return result


def test_sessions_reuse_the_running_engine_and_keep_their_stack_for_the_next(
    engine_up: tuple[dict[str, str], dict[str, str]],
) -> None:
    env, record = engine_up
    reusing = f"testbed engine: reusing engine {record['engine_id']} at http://127.0.0.1:{record['port']}, slot 0"
    first = session(env)
    assert reusing in first.stdout, f"expected {reusing!r} in the output, saw:\n{first.stdout[-2000:]}"

    machine = kept_machine(record)
    second = session(env)
    assert reusing in second.stdout, f"expected {reusing!r} in the output, saw:\n{second.stdout[-2000:]}"
    assert kept_machine(record) == machine, "the second session must find the stack deployed, not make it again"

    own = session({**env, "TESTBED_OWN_ENGINE": "1"})
    assert "an engine of its own was asked for" in own.stdout, own.stdout[-2000:]
