"""A function process sees Lambda's variables and its own, never the engine's."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from serverless_testbed.localstack_plugins.lambda_executor import worker_environment
from serverless_testbed.localstack_plugins.lambda_process import Standby, Worker

ENDPOINT = "http://127.0.0.1:45123"


def localstack_variables(user_env: dict[str, str]) -> dict[str, Any]:
    """What LocalStack 4.14.0's ExecutionEnvironment.get_environment_variables hands over."""
    return {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "AWS_LAMBDA_FUNCTION_NAME": "fn-orders",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": 128,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn-orders",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/22/[$LATEST]abc",
        "AWS_ACCESS_KEY_ID": "LSIAQAAAAAAAexample",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "token",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "_AWS_XRAY_DAEMON_PORT": "2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "TZ": ":UTC",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": 3,
        "LOCALSTACK_HOSTNAME": "127.0.0.1",
        "EDGE_PORT": "45123",
        "LOCALSTACK_RUNTIME_ID": "0123456789abcdef",
        "LOCALSTACK_RUNTIME_ENDPOINT": f"{ENDPOINT}/_localstack_lambda/0123456789abcdef",
        "LOCALSTACK_FUNCTION_ACCOUNT_ID": "000000000000",
        "AWS_ENDPOINT_URL": ENDPOINT,
        "_HANDLER": "handler.main",
        "AWS_EXECUTION_ENV": "AWS_Lambda_rapid",
        **user_env,
    }


USER_ENV = {"ORDERS_TABLE": "orders", "LOCALSTACK_STYLE_NAME": "kept: the user set it"}
ENGINE_ONLY = {
    "LOCALSTACK_HOSTNAME",
    "LOCALSTACK_RUNTIME_ID",
    "LOCALSTACK_RUNTIME_ENDPOINT",
    "LOCALSTACK_FUNCTION_ACCOUNT_ID",
    "EDGE_PORT",
    "LAMBDA_RUNTIME_DIR",
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return worker_environment(localstack_variables(USER_ENV), USER_ENV, "python3.12", str(tmp_path / "tmp"))


def test_localstack_variables_do_not_reach_the_function(env: dict[str, str]):
    assert not ENGINE_ONLY & env.keys()
    assert not [key for key in env if key.startswith(("_AWS_XRAY_", "AWS_XRAY_"))]


def test_the_functions_own_variables_pass_even_with_an_engine_prefix(env: dict[str, str]):
    assert env["ORDERS_TABLE"] == "orders"
    assert env["LOCALSTACK_STYLE_NAME"] == "kept: the user set it"


def test_credentials_region_and_endpoint_for_the_engine_are_present(env: dict[str, str]):
    assert env["AWS_ACCESS_KEY_ID"] == "LSIAQAAAAAAAexample"
    assert env["AWS_SECRET_ACCESS_KEY"] == "secret"
    assert env["AWS_SESSION_TOKEN"] == "token"
    assert env["AWS_ENDPOINT_URL"] == ENDPOINT
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["_HANDLER"] == "handler.main"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn-orders"


def test_paths_are_the_aws_ones_and_a_private_tmp(env: dict[str, str], tmp_path: Path):
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["HOME"] == env["TMPDIR"] == str(tmp_path / "tmp")
    assert env["PATH"]
    assert env["LANG"] == "C.UTF-8"


def test_every_value_is_a_string(env: dict[str, str]):
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert all(isinstance(value, str) for value in env.values())


def test_the_engines_own_process_environment_is_not_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for name in ("GATEWAY_LISTEN", "TESTBED_ENGINE_ID", "PROVIDER_OVERRIDE_DYNAMODB", "PYTHONPATH"):
        monkeypatch.setenv(name, "engine-only")
    env = worker_environment(localstack_variables({}), {}, "python3.12", str(tmp_path))
    assert "engine-only" not in env.values()


def test_a_user_path_wins_over_the_default(tmp_path: Path):
    user = {"PATH": "/opt/bin:/usr/bin"}
    env = worker_environment(localstack_variables(user), user, "python3.12", str(tmp_path))
    assert env["PATH"] == "/opt/bin:/usr/bin"


def bound_worker(how: str, code: Path, layout: dict[str, Any], env: dict[str, str], log: Path) -> Worker:
    """A worker bound to the function in `code`: started for it, or a standby taken and bound."""
    if how == "started":
        return Worker.started(sys.executable, str(code), layout, env, log)
    pool = Standby(cwd="/")
    pool.prepare(sys.executable)
    worker = pool.take(sys.executable)
    pool.close()
    assert worker is not None, "a prepared standby is taken"
    worker.bind(str(code), layout, env, log)
    return worker


def invoke_once(worker: Worker) -> dict[str, Any]:
    """Wait for the worker's "ready", invoke it once with {}, and return its reply."""
    try:
        ready = worker.receive(timeout=10)
        assert ready is not None, "the worker said ready within 10 s"
        assert ready["ready"], ready
        worker.send(
            {
                "id": "req-1",
                "arn": "arn:aws:lambda:eu-west-1:000000000000:function:fn-orders",
                "payload": json.dumps({}),
                "deadline_ms": int((time.time() + 10) * 1000),
            }
        )
        reply = worker.receive(timeout=10)
    finally:
        worker.kill()
    assert reply is not None, "the worker answered within 10 s"
    assert reply["ok"], reply
    return reply


@pytest.mark.parametrize("how", ["started", "standby"])
def test_the_worker_process_sees_exactly_that_environment(
    how: str, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TESTBED_ENGINE_ID", "leak-check")
    code = tmp_path / "code"
    (tmp_path / "tmp").mkdir()
    code.mkdir()
    (code / "handler.py").write_text("import os\n\ndef main(event, context):\n    return dict(os.environ)\n")
    layout = {"layers": [], "sdk": [str(tmp_path), "/var/lang/lib/python3.12/site-packages"]}
    reply = invoke_once(bound_worker(how, code, layout, env, tmp_path / "worker.log"))
    seen = json.loads(reply["payload"])
    seen.pop("LC_CTYPE", None)  # Python's C locale coercion may add it
    assert seen == env
