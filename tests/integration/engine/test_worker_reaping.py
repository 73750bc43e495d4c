"""Idle Lambda workers are reaped, as AWS reclaims idle sandboxes, and the next invoke
still works (on a new worker: a cold start).

An engine of its own, started with TESTBED_LAMBDA_IDLE_SECONDS short, so the wait is
seconds rather than the default minutes; LocalStack's keep-alive timer stops the idle
execution environment and the executor's stop() ends its worker process.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from serverless_testbed.engine.embedded import LAMBDA_IDLE_VAR, EmbeddedEngine
from serverless_testbed.errors import WaitTimeout
from serverless_testbed.waiting import wait_for

from tests.integration.engine.own_engine import create_probe_function, engine_with, invoke_probe
from tests.integration.engine.test_lambda_runtime import dead, function_workers

IDLE_SECONDS = 2
FUNCTION = "reaping-echo"

pytestmark = pytest.mark.embedded_only(
    reason="starts an embedded engine of its own with a short idle time and watches its worker processes"
)


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedEngine]:
    yield from engine_with({LAMBDA_IDLE_VAR: str(IDLE_SECONDS)})


def test_an_idle_worker_is_reaped_and_the_next_invoke_starts_a_new_one(engine: EmbeddedEngine) -> None:
    create_probe_function(engine, FUNCTION, "probes.echo")

    first = invoke_probe(engine, FUNCTION, {"n": 1})
    assert first["event"] == {"n": 1}
    assert function_workers(engine, FUNCTION) == [first["pid"]], "the invoke's worker is the function's only one"

    try:
        wait_for(
            lambda: dead(first["pid"]) and not function_workers(engine, FUNCTION),
            timeout=IDLE_SECONDS + 30,
            what=f"worker {first['pid']} of {FUNCTION} to be reaped after {IDLE_SECONDS} s idle",
        )
    except WaitTimeout as err:
        pytest.fail(f"{err}; workers of {FUNCTION} still running: {function_workers(engine, FUNCTION)}")

    second = invoke_probe(engine, FUNCTION, {"n": 2})
    assert second["event"] == {"n": 2}
    assert second["pid"] != first["pid"]
    assert function_workers(engine, FUNCTION) == [second["pid"]]
