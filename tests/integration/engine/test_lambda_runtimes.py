"""Each Python runtime imports the boto3 its AWS runtime ships, and nothing of the engine's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from serverless_testbed.localstack_plugins.lambda_python import find_interpreter, runtime_version
from serverless_testbed.localstack_plugins.lambda_sdk import RUNTIME_SDK

PROBE = Path(__file__).parent / "functions" / "sdk_probe.py"


@pytest.mark.embedded_only(reason="the local-process executor's SDK folder per runtime (AWS ships its own)")
@pytest.mark.parametrize("runtime", sorted(RUNTIME_SDK, key=lambda name: runtime_version(name) or (0, 0)))
def test_a_function_imports_its_runtimes_boto3_and_nothing_of_the_engine(aws, role_arn, unique, cleanup, runtime):
    version = runtime_version(runtime)
    assert version is not None
    if find_interpreter(version) is None:
        pytest.skip(f"no Python {version[0]}.{version[1]} on this machine (PATH or pyenv)")
    from serverless_testbed.engine.venv import engine_venv
    from serverless_testbed.packaging import zip_files

    lam = aws("lambda")
    name = unique(runtime.replace(".", ""))
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role_arn,
        Handler="sdk_probe.handler",
        Code={"ZipFile": zip_files({"sdk_probe.py": PROBE.read_bytes()})},
        Timeout=30,
    )
    cleanup.add(name, lambda: lam.delete_function(FunctionName=name))
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300})

    response = lam.invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    assert body["boto3"] == RUNTIME_SDK[runtime]
    assert body["botocore"] == RUNTIME_SDK[runtime]
    assert body["version"].startswith(f"{version[0]}.{version[1]}.")
    # botocore needs urllib3 < 2 below Python 3.10 (the engine's 2.x does not import on 3.9).
    assert body["urllib3"].startswith("1.") if version < (3, 10) else body["urllib3"].startswith("2.")
    engine = str(engine_venv().path)
    assert [entry for entry in body["path"] if entry.startswith(engine)] == []
