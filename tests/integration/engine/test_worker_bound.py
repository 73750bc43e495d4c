"""At most TESTBED_LAMBDA_MAX_ENVIRONMENTS workers per function version: more concurrent
invokes than that wait for a free worker and all succeed (infra/localstack_plugins/
lambda_environments.py).

An engine of its own, started with the bound at 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from infra.engine.embedded import EmbeddedEngine
from infra.localstack_plugins.lambda_environments import MAX_ENVIRONMENTS_VAR
from infra.packaging import zip_files
from infra.settings import Settings
from infra.waiting import wait_for

PROBES = Path(__file__).parent / "functions" / "probes.py"
BOUND = 2
CALLS = 6
FUNCTION = "bound-echo"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

pytestmark = pytest.mark.embedded_only(
    reason="starts an embedded engine of its own with a worker bound and counts its worker processes"
)


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedEngine]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MAX_ENVIRONMENTS_VAR, str(BOUND))
        started = EmbeddedEngine(Settings(target="embedded")).start()
    try:
        yield started
    finally:
        started.stop()


def test_more_concurrent_invokes_than_the_bound_share_its_workers_and_all_succeed(engine: EmbeddedEngine) -> None:
    iam, lam = engine.client("iam"), engine.client("lambda")
    role = iam.create_role(RoleName=f"{FUNCTION}-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    lam.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="probes.slow_echo",
        Code={"ZipFile": zip_files({PROBES.name: PROBES.read_bytes()})},
    )
    wait_for(
        lambda: lam.get_function(FunctionName=FUNCTION)["Configuration"]["State"] == "Active",
        timeout=30,
        what=f"function {FUNCTION} to be Active",
    )

    def call(n: int) -> dict[str, Any]:
        client = engine.client("lambda")
        response = client.invoke(FunctionName=FUNCTION, Payload=json.dumps({"n": n, "seconds": 1.0}))
        body: dict[str, Any] = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, body
        return body

    with ThreadPoolExecutor(max_workers=CALLS) as pool:
        results = list(pool.map(call, range(CALLS)))

    assert sorted(result["event"]["n"] for result in results) == list(range(CALLS)), results
    pids = {result["pid"] for result in results}
    assert len(pids) == BOUND, f"expected {CALLS} invokes on {BOUND} workers, saw {len(pids)}: {sorted(pids)}"
