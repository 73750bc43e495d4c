"""At most TESTBED_LAMBDA_MAX_ENVIRONMENTS workers per function version: more concurrent
invokes than that wait for a free worker and all succeed (infra/serverless_testbed/localstack_plugins/
lambda_environments.py).

An engine of its own, started with the bound at 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from serverless_testbed.engine.embedded import EmbeddedEngine
from serverless_testbed.localstack_plugins.lambda_environments import MAX_ENVIRONMENTS_VAR

from tests.integration.engine.own_engine import create_probe_function, engine_with, invoke_probe

BOUND = 2
CALLS = 6
FUNCTION = "bound-echo"

pytestmark = pytest.mark.embedded_only(
    reason="starts an embedded engine of its own with a worker bound and counts its worker processes"
)


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedEngine]:
    yield from engine_with({MAX_ENVIRONMENTS_VAR: str(BOUND)})


def test_more_concurrent_invokes_than_the_bound_share_its_workers_and_all_succeed(engine: EmbeddedEngine) -> None:
    create_probe_function(engine, FUNCTION, "probes.slow_echo")

    with ThreadPoolExecutor(max_workers=CALLS) as pool:
        results = list(pool.map(lambda n: invoke_probe(engine, FUNCTION, {"n": n, "seconds": 1.0}), range(CALLS)))

    assert sorted(result["event"]["n"] for result in results) == list(range(CALLS)), results
    pids = {result["pid"] for result in results}
    assert len(pids) == BOUND, f"expected {CALLS} invokes on {BOUND} workers, saw {len(pids)}: {sorted(pids)}"
