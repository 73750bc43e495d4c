"""The local-process Lambda executor behaves as Lambda does."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from serverless_testbed.waiting import wait_for

PROBES = Path(__file__).parent / "functions" / "probes.py"
BROKEN_INIT = Path(__file__).parent / "functions" / "broken_init.py"
# AWS Lambda's synchronous response limit: 6 MiB and 100 bytes (config.LAMBDA_LIMITS_MAX_FUNCTION_PAYLOAD_SIZE_BYTES).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100


def invoke(lam: Any, name: str, event: dict[str, Any] | None = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kwargs)
    return response, json.loads(response["Payload"].read() or b"null")


def test_sync_invoke_returns_the_handler_result(aws, make_function):
    name = make_function(PROBES, "probes.echo")
    response, body = invoke(aws("lambda"), name, {"order": 7})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert body["event"] == {"order": 7}
    assert body["request_id"] == response["ResponseMetadata"]["RequestId"]


def test_event_invoke_runs_in_the_background(aws, make_function, make_queue, receive_messages):
    sink = make_queue()
    name = make_function(PROBES, "probes.record", env={"SINK_QUEUE_URL": sink})
    response = aws("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=b'{"async": 1}')
    assert response["StatusCode"] == 202
    assert receive_messages(sink, 1) == [{"async": 1}]


@pytest.mark.embedded_only(reason="process ids of local-process workers; Lambda containers have pid namespaces")
def test_concurrent_invokes_run_in_separate_workers(aws, make_function):
    # Two: the least bound on workers per function (TESTBED_LAMBDA_MAX_ENVIRONMENTS, test_worker_bound.py).
    name = make_function(PROBES, "probes.slow_echo")
    lam = aws("lambda")
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: invoke(lam, name, {"seconds": 1.0})[1], range(2)))
    assert len({result["pid"] for result in results}) == 2


def test_raising_handler_is_an_unhandled_function_error(aws, make_function):
    name = make_function(PROBES, "probes.fail")
    response, body = invoke(aws("lambda"), name, {"order_id": "o-1"})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad order o-1"
    assert any("raise ValueError" in frame for frame in body["stackTrace"])


def test_logs_reach_log_result_and_cloudwatch(aws, make_function):
    name = make_function(PROBES, "probes.chatty")
    response, _ = invoke(aws("lambda"), name, {"marker": "m-123"}, LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "printed line m-123" in tail
    assert "[INFO]" in tail
    assert "logged line m-123" in tail
    assert tail.startswith("START RequestId:")
    assert "REPORT RequestId:" in tail
    used = re.search(r"Max Memory Used: (\d+) MB", tail)
    assert used is not None, tail
    assert int(used[1]) > 0, f"the REPORT line must carry the worker's peak memory: {tail}"

    logs = aws("logs")

    def logged_lines() -> list[str]:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        return [event["message"] for event in events if "m-123" in event["message"]]

    lines = wait_for(logged_lines, timeout=20, what="the invoke's lines in CloudWatch Logs")
    assert any("printed line m-123" in line for line in lines)


def test_megabytes_printed_reach_cloudwatch_whole_and_in_order(aws, make_function):
    """More than one PutLogEvents batch (1 MB at most, AWS's limit): every line is stored, in order."""
    name = make_function(PROBES, "probes.print_megabytes", timeout=30)
    response, _ = invoke(aws("lambda"), name, {"mb": 3})
    assert "FunctionError" not in response
    pages = aws("logs").get_paginator("filter_log_events")

    def numbered() -> list[int]:
        events = [e for page in pages.paginate(logGroupName=f"/aws/lambda/{name}") for e in page["events"]]
        lines = [int(e["message"][:8]) for e in events if e["message"][:8].isdigit()]
        return lines if len(lines) >= 3 * 1024 else []

    lines = wait_for(numbered, timeout=30, what="3,072 printed lines in CloudWatch Logs")
    first_wrong = next((i for i, n in enumerate(lines) if n != i), None)
    assert lines == list(range(3 * 1024)), f"{len(lines)} lines, first out of order at {first_wrong}"


def test_timeout_is_sandbox_timedout_and_the_next_invoke_works(aws, make_function):
    name = make_function(PROBES, "probes.sleepy", timeout=1)
    lam = aws("lambda")
    response, body = invoke(lam, name, {"seconds": 5}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "going to sleep" in tail
    assert "Task timed out" in tail
    response, body = invoke(lam, name, {"seconds": 0})
    assert "FunctionError" not in response
    assert body == "woke up"


def test_crashed_worker_is_runtime_exit_error_and_the_next_invoke_works(aws, make_function):
    name = make_function(PROBES, "probes.crash")
    lam = aws("lambda")
    response, body = invoke(lam, name, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in body["errorMessage"]
    assert "about to crash" in base64.b64decode(response["LogResult"]).decode()
    lam.update_function_configuration(FunctionName=name, Handler="probes.echo")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    response, body = invoke(lam, name, {"after": "crash"})
    assert "FunctionError" not in response
    assert body["event"] == {"after": "crash"}


def test_bad_handler_path_is_import_module_error_and_a_fix_works(aws, make_function):
    name = make_function(PROBES, "missing_module.handler")
    lam = aws("lambda")
    for _ in range(2):  # the error repeats cleanly: the environment is not wedged
        response, body = invoke(lam, name)
        assert response["FunctionError"] == "Unhandled"
        assert body["errorType"] == "Runtime.ImportModuleError"
        assert "Unable to import module 'missing_module'" in body["errorMessage"]
    lam.update_function_configuration(FunctionName=name, Handler="probes.echo")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    response, body = invoke(lam, name, {"fixed": True})
    assert "FunctionError" not in response
    assert body["event"] == {"fixed": True}


def test_function_environment_has_its_variables_and_nothing_of_the_engine(aws, make_function, engine):
    name = make_function(PROBES, "probes.environment", env={"ORDERS_TABLE": "orders"})
    _, env = invoke(aws("lambda"), name)
    assert env["ORDERS_TABLE"] == "orders"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_ACCESS_KEY_ID"]
    assert env["AWS_SECRET_ACCESS_KEY"]
    assert env["AWS_SESSION_TOKEN"]
    assert env["AWS_REGION"] == engine.region
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    if engine.name == "embedded":
        assert env["AWS_ENDPOINT_URL"] == engine.endpoint_url
        leaked = sorted(
            key
            for key in env
            if key.startswith(("LOCALSTACK_", "TESTBED_", "GATEWAY_", "PROVIDER_OVERRIDE", "PYTHON"))
            or key in {"FILESYSTEM_ROOT", "CONFIG_DIR", "XDG_CACHE_HOME", "EDGE_PORT", "DNS_ADDRESS"}
        )
        assert leaked == []


def test_lambda_reads_and_writes_dynamodb_through_boto3(aws, make_function, make_orders_table):
    table = make_orders_table()
    name = make_function(PROBES, "probes.table_roundtrip", env={"TABLE_NAME": table})
    response, body = invoke(aws("lambda"), name, {"customerID": "c-1", "orderID": "o-9"})
    assert "FunctionError" not in response, body
    assert body == {"customerID": "c-1", "orderID": "o-9", "total": 42}
    item = aws("dynamodb").get_item(TableName=table, Key={"customerID": {"S": "c-1"}, "orderID": {"S": "o-9"}})["Item"]
    assert item["total"] == {"N": "42"}


@pytest.mark.embedded_only(reason="only the local-process executor refuses runtimes other than Python")
@pytest.mark.parametrize("runtime", ["nodejs20.x"])
def test_unsupported_runtime_is_reported_not_hung(aws, role_arn, unique, cleanup, runtime, engine):
    if engine.name != "embedded":
        pytest.skip("only the embedded executor limits runtimes")
    from serverless_testbed.packaging import zip_files

    lam = aws("lambda")
    name = unique("node")
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role_arn,
        Handler="index.handler",
        Code={"ZipFile": zip_files({"index.js": "exports.handler = async () => 1;"})},
    )
    cleanup.add(name, lambda: lam.delete_function(FunctionName=name))

    def settled() -> dict[str, Any] | None:
        config = lam.get_function_configuration(FunctionName=name)
        return None if config["State"] == "Pending" else config

    config = wait_for(settled, timeout=20, what="the function to leave Pending")
    assert config["State"] == "Failed"
    assert "not supported by the local-process executor" in config["StateReason"]


def function_workers(engine: Any, name: str) -> list[int]:
    """Live worker processes of function `name`, found in the engine's process tree."""
    workers = []
    for pid in engine.processes():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            # A worker works in its function's code folder (a standby, in none yet).
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except (FileNotFoundError, ProcessLookupError):
            continue
        is_worker = any(arg.endswith(b"lambda_worker.py") for arg in argv)
        if is_worker and f"/{name}-" in cwd and not dead(pid):
            workers.append(pid)
    return workers


def dead(pid: int) -> bool:
    """True once `pid` no longer runs: gone, or a zombie its parent has not reaped yet whose
    threads have all exited. A killed worker's main thread shows Z while its other thread
    still exits; until then its parent can neither reap it nor see its pipes closed."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        threads = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z" and threads == [str(pid)]


def only_worker(engine: Any, name: str) -> int:
    workers = function_workers(engine, name)
    assert len(workers) == 1, f"expected one worker of {name} in the engine's process tree, found {workers}"
    return workers[0]


def handler_output(pid: int) -> str:
    """What the worker's handlers printed so far: its stdout is the environment's log file."""
    return Path(f"/proc/{pid}/fd/1").read_text(errors="replace")


@pytest.mark.embedded_only(reason="kills a function worker in the embedded engine's process tree")
def test_a_worker_killed_while_idle_costs_no_invocation(aws, make_function, engine):
    if engine.name != "embedded":
        pytest.skip(f"killing a function worker needs the embedded engine's process tree; target is {engine.name}")
    name = make_function(PROBES, "probes.echo")
    lam = aws("lambda")
    _, first = invoke(lam, name, {"n": 1})
    worker = only_worker(engine, name)
    assert first["pid"] == worker
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: dead(worker), timeout=10, what=f"worker {worker} to die after SIGKILL")

    for n in range(2, 5):
        response, body = invoke(lam, name, {"n": n})
        assert "FunctionError" not in response, body
        assert body["event"] == {"n": n}
        assert body["pid"] != worker


@pytest.mark.embedded_only(reason="kills a function worker in the embedded engine's process tree")
def test_a_worker_killed_during_an_invocation_is_runtime_exit_error(aws, make_function, engine):
    if engine.name != "embedded":
        pytest.skip(f"killing a function worker needs the embedded engine's process tree; target is {engine.name}")
    name = make_function(PROBES, "probes.sleepy", timeout=120)
    lam = aws("lambda")
    invoke(lam, name, {"seconds": 0})
    worker = only_worker(engine, name)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(invoke, lam, name, {"seconds": 60})
        # The second "going to sleep" is this invocation's handler running.
        wait_for(
            lambda: handler_output(worker).count("going to sleep") == 2,
            timeout=20,
            what=f"worker {worker} to be inside the second invocation's handler",
        )
        os.kill(worker, signal.SIGKILL)
        response, body = pending.result(timeout=60)
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert "signal: kill" in body["errorMessage"]
    response, body = invoke(lam, name, {"seconds": 0})
    assert "FunctionError" not in response, body
    assert body == "woke up"


def test_bytes_are_returned_as_they_are(aws, make_function):
    name = make_function(PROBES, "probes.raw_bytes")
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps({"bytes": [0, 255, 10, 65]}))
    assert "FunctionError" not in response
    assert response["Payload"].read() == bytes([0, 255, 10, 65])


def test_decimals_are_encoded_as_json_numbers_like_the_aws_runtime(aws, make_function):
    name = make_function(PROBES, "probes.decimals")
    response = aws("lambda").invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in response
    # awslambdaric's marshaller: a Decimal's own digits, NaN for NaN, no \u escapes on python3.12.
    assert response["Payload"].read().decode() == (
        '{"total": 42, "price": 3.14159, "big": 12345678901234567890.000000000001, '
        '"exp": 1E+2, "nan": NaN, "city": "Zürich"}'
    )


def test_an_item_read_through_boto3_can_be_returned(aws, make_function, make_orders_table):
    table = make_orders_table()
    name = make_function(PROBES, "probes.table_item", env={"TABLE_NAME": table})
    response, body = invoke(aws("lambda"), name, {"customerID": "c-1", "orderID": "o-2"})
    assert "FunctionError" not in response, body
    assert body == {"customerID": "c-1", "orderID": "o-2", "total": 19.9, "quantity": 3}


def test_bytes_inside_a_result_are_a_marshal_error(aws, make_function):
    name = make_function(PROBES, "probes.nested_bytes")
    response, body = invoke(aws("lambda"), name)
    assert response["FunctionError"] == "Unhandled"
    assert body == {
        "errorMessage": "Unable to marshal response: Object of type bytes is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": response["ResponseMetadata"]["RequestId"],
        "stackTrace": [],
    }


def test_stack_traces_show_the_code_under_var_task(aws, make_function):
    name = make_function(PROBES, "probes.fail")
    _, body = invoke(aws("lambda"), name, {"order_id": "o-1"})
    assert body["stackTrace"][0].startswith('  File "/var/task/probes.py", line ')
    assert all("/var/task/" in frame for frame in body["stackTrace"]), body["stackTrace"]


def test_a_catch_passes_on_the_cause_with_var_task_paths(aws, make_function, make_state_machine, wait_execution):
    name = make_function(PROBES, "probes.fail")
    arn = aws("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    machine = make_state_machine(
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": arn,
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
                    "End": True,
                },
                "Caught": {"Type": "Pass", "End": True},
            },
        }
    )
    sfn = aws("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"order_id": "o-5"}))
    described = wait_execution(execution["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    error = json.loads(described["output"])["error"]
    assert error["Error"] == "ValueError"
    cause = json.loads(error["Cause"])
    assert cause["errorMessage"] == "bad order o-5"
    assert cause["stackTrace"][0].startswith('  File "/var/task/probes.py", line ')


def test_a_response_over_6_mb_is_response_size_too_large(aws, make_function):
    name = make_function(PROBES, "probes.sized")
    lam = aws("lambda")
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"bytes": MAX_RESPONSE_BYTES}))
    assert "FunctionError" not in response
    assert len(response["Payload"].read()) == MAX_RESPONSE_BYTES
    response, body = invoke(lam, name, {"bytes": MAX_RESPONSE_BYTES + 1})
    assert response["FunctionError"] == "Unhandled"
    assert body == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
    }


def test_a_state_output_over_256_kib_is_states_data_limit_exceeded(
    aws, make_function, make_state_machine, wait_execution
):
    name = make_function(PROBES, "probes.sized")
    arn = aws("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    machine = make_state_machine(
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                    "OutputPath": "$.Payload",
                    "Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "ResultPath": "$.error", "Next": "TooBig"}],
                    "End": True,
                },
                "TooBig": {"Type": "Pass", "End": True},
            },
        }
    )
    sfn = aws("stepfunctions")
    small = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"bytes": 1000}))
    big = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"bytes": 300 * 1024}))
    described = wait_execution(small["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == "A" * 998
    described = wait_execution(big["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["error"]["Error"] == "States.DataLimitExceeded"


def test_an_init_error_carries_an_empty_request_id_and_var_task_paths(aws, make_function):
    name = make_function(BROKEN_INIT, "broken_init.handler")
    response, body = invoke(aws("lambda"), name)
    assert response["FunctionError"] == "Unhandled"
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert body["errorType"] == "KeyError"
    assert body["errorMessage"] == "'table'"
    assert body["requestId"] == ""
    assert body["stackTrace"][-1].startswith('  File "/var/task/broken_init.py", line 4, in <module>')
    assert not [frame for frame in body["stackTrace"] if "lambda_worker" in frame or "/tmp/" in frame]


def test_an_import_error_payload_is_the_aws_one(aws, make_function):
    name = make_function(PROBES, "missing_module.handler")
    response, body = invoke(aws("lambda"), name)
    assert response["FunctionError"] == "Unhandled"
    assert body == {
        "errorMessage": "Unable to import module 'missing_module': No module named 'missing_module'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }


def test_a_python312_function_runs_on_python312_with_boto3_and_nothing_of_the_engine(aws, make_function):
    name = make_function(PROBES, "probes.interpreter")
    _, body = invoke(aws("lambda"), name, {"modules": ["boto3", "botocore", "localstack", "moto", "faker"]})
    assert body["version"] == [3, 12]
    assert body["importable"] == {"boto3": True, "botocore": True, "localstack": False, "moto": False, "faker": False}


@pytest.mark.embedded_only(reason="the local-process executor's fallback when a runtime's Python is not installed")
def test_a_runtime_without_its_python_runs_on_the_engines_and_says_so_once(aws, role_arn, unique, cleanup, engine):
    from serverless_testbed.packaging import zip_files

    lam = aws("lambda")
    name = unique("py314")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.14",
        Role=role_arn,
        Handler="probes.interpreter",
        Code={"ZipFile": zip_files({"probes.py": PROBES.read_bytes()})},
    )
    cleanup.add(name, lambda: lam.delete_function(FunctionName=name))
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    import sys

    engine_python = list(sys.version_info[:2])  # the engine runs on the venv's interpreter, as the tests do
    for _ in range(2):
        _, body = invoke(lam, name)
        assert body["version"] == engine_python
    warnings = [
        line
        for line in engine.log_path.read_text(errors="replace").splitlines()
        if "no Python 3.14 found for runtime python3.14" in line
    ]
    assert len(warnings) == 1, warnings
    assert f"running it on Python {engine_python[0]}.{engine_python[1]}" in warnings[0]


@pytest.mark.embedded_only(reason="function URLs are path-style on the embedded engine (no DNS needed)")
def test_a_function_url_answers_over_http_from_the_host(aws, make_function):
    import urllib.request

    name = make_function(PROBES, "probes.url_echo")
    lam = aws("lambda")
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    lam.add_permission(
        FunctionName=name,
        StatementId="public-url",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    assert lam.get_function_url_config(FunctionName=name)["FunctionUrl"] == url
    assert url.endswith("/")
    with urllib.request.urlopen(f"{url}orders/7?verbose=1", timeout=30) as answer:
        assert answer.status == 201
        assert json.loads(answer.read()) == {"path": "/orders/7", "query": "verbose=1", "method": "GET"}


def test_code_files_open_relative_to_the_working_directory_and_module(aws, make_function, engine):
    name = make_function(PROBES, "probes.own_file")
    _, body = invoke(aws("lambda"), name)
    assert body["same"] is True
    if engine.name == "embedded":
        # The code lies in the engine's folder, not under /var/task: LAMBDA_TASK_ROOT names no folder here.
        assert body["cwd"] != "/var/task"
        assert body["task_root_readable"] is False
    else:
        assert body == {"same": True, "cwd": "/var/task", "task_root_readable": True}
