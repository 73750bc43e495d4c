"""An embedded engine of a test's own, started with some engine settings, and a probe
function on it: what the worker tests (reaping, the bound per function) share."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serverless_testbed.engine.embedded import EmbeddedEngine
from serverless_testbed.packaging import zip_files
from serverless_testbed.settings import Settings
from serverless_testbed.waiting import wait_for

PROBES = Path(__file__).parent / "functions" / "probes.py"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def engine_with(settings: dict[str, str]) -> Iterator[EmbeddedEngine]:
    """An embedded engine started with the environment variables `settings`; stopped after."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setenv(name, value)
        started = EmbeddedEngine(Settings(target="embedded")).start()
    try:
        yield started
    finally:
        started.stop()


def create_probe_function(engine: EmbeddedEngine, name: str, handler: str) -> None:
    """Function `name` running `handler` of functions/probes.py, Active on return."""
    iam, lam = engine.client("iam"), engine.client("lambda")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler=handler,
        Code={"ZipFile": zip_files({PROBES.name: PROBES.read_bytes()})},
    )
    wait_for(
        lambda: lam.get_function(FunctionName=name)["Configuration"]["State"] == "Active",
        timeout=30,
        what=f"function {name} to be Active",
    )


def invoke_probe(engine: EmbeddedEngine, name: str, event: dict[str, Any]) -> dict[str, Any]:
    """The probe's answer to `event`; it must not be a function error."""
    response = engine.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    body: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body
