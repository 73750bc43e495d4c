"""A function runs in an execution environment like AWS's where code can tell: AWS's payload
limits, a crash is a crash even with a child alive, and no process it started outlives the
environment (setsid, exec'd or double-forked). AWS's behaviour is the Lambda API reference
(Invoke, InvokeAsync) and the Lambda runtime environment documentation."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from serverless_testbed.procfs import is_running
from serverless_testbed.waiting import wait_for

FUNCTIONS = Path(__file__).parent / "functions" / "sandbox.py"
MB = 1024 * 1024
# Environments end within the executor's kill (a sweep of /proc) after the crash or update.
GONE_TIMEOUT = 15


def payload_of(size: int) -> bytes:
    """A JSON event of exactly `size` bytes."""
    overhead = len(json.dumps({"data": ""}))
    return json.dumps({"data": "x" * (size - overhead)}).encode()


def invoke(aws, name: str, event: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    answer = aws("lambda").invoke(
        FunctionName=name, Payload=json.dumps(event or {}).encode(), LogType="Tail", **options
    )
    answer["body"] = json.loads(answer["Payload"].read() or b"null")
    answer["log"] = base64.b64decode(answer.get("LogResult", "")).decode(errors="replace")
    return answer


@pytest.mark.embedded_only(reason="stock LocalStack 4.14.0 runs oversized requests (a fidelity fix)")
@pytest.mark.parametrize(
    ("how", "limit"),
    [({}, 6 * MB), ({"InvocationType": "Event"}, MB)],
    ids=["synchronous 6 MB", "asynchronous 1 MB"],
)
def test_a_request_over_the_payload_limit_is_refused_as_aws_does(
    make_function: Callable[..., str], aws, how: dict[str, str], limit: int
):
    name = make_function(FUNCTIONS, "sandbox.echo_size")
    with pytest.raises(ClientError) as refused:
        aws("lambda").invoke(FunctionName=name, Payload=payload_of(limit + 1), **how)
    error = refused.value.response
    assert error["Error"]["Code"] == "RequestEntityTooLargeException", error
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert f"Request must be smaller than {limit} bytes" in error["Error"]["Message"]
    accepted = aws("lambda").invoke(FunctionName=name, Payload=payload_of(limit), **how)
    assert accepted["StatusCode"] == (202 if how else 200)
    if not how:  # the whole event reached the function: the check did not consume it
        assert json.loads(accepted["Payload"].read())["size"] == limit - len(payload_of(0))


@pytest.mark.embedded_only(reason="reads the environment's processes in /proc")
def test_a_crash_with_a_live_child_is_an_exit_error_at_once(make_function: Callable[..., str], aws):
    """The child holds the worker's result pipe open; the crash must still be seen as one, not
    waited out as a 20 s timeout, and the child ends with its environment."""
    name = make_function(FUNCTIONS, "sandbox.fork_then_crash", timeout=20)
    child = invoke(aws, name)["body"]["child"]
    assert is_running(child)
    crashed = invoke(aws, name, {"crash": True})
    assert crashed.get("FunctionError") == "Unhandled", crashed
    assert crashed["body"]["errorType"] == "Runtime.ExitError", f"expected Runtime.ExitError, saw {crashed['body']}"
    assert "exit status 1" in crashed["body"]["errorMessage"]
    wait_for(lambda: not is_running(child), timeout=GONE_TIMEOUT, what=f"the forked child {child} to end")
    assert invoke(aws, name)["body"]["child"] > 0, "a new environment serves the next invoke"


def started_in(log: str) -> dict[str, int]:
    line = next(line for line in log.splitlines() if line.startswith("STARTED "))
    return json.loads(line.removeprefix("STARTED "))


@pytest.mark.embedded_only(reason="reads the environment's processes in /proc")
def test_processes_in_sessions_of_their_own_end_with_their_environment(make_function: Callable[..., str], aws):
    name = make_function(FUNCTIONS, "sandbox.start_daemons", timeout=20)
    first = invoke(aws, name)["body"]
    assert all(is_running(pid) for pid in first.values()), first
    crashed = invoke(aws, name, {"crash": True})
    assert crashed["body"]["errorType"] == "Runtime.ExitError"
    second = started_in(crashed["log"])
    for what, pid in [*first.items(), *second.items()]:
        wait_for(lambda pid=pid: not is_running(pid), timeout=GONE_TIMEOUT, what=f"the {what} process {pid} to end")


@pytest.mark.embedded_only(reason="reads the environment's processes in /proc")
def test_an_updated_function_ends_its_old_environments_processes(make_function: Callable[..., str], aws):
    name = make_function(FUNCTIONS, "sandbox.start_daemons", timeout=20)
    started = invoke(aws, name)["body"]
    lam = aws("lambda")
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"CHANGED": "1"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    invoke(aws, name)  # served by a new environment
    for what, pid in started.items():
        wait_for(lambda pid=pid: not is_running(pid), timeout=GONE_TIMEOUT, what=f"the {what} process {pid} to end")


def report_memory(log: str) -> tuple[int, int]:
    """(Memory Size, Max Memory Used) from the REPORT line."""
    line = next(line for line in log.splitlines() if line.startswith("REPORT"))
    size = int(line.split("Memory Size: ")[1].split()[0])
    used = int(line.split("Max Memory Used: ")[1].split()[0])
    return size, used


@pytest.mark.embedded_only(reason="the engine's executor watches its workers' memory")
def test_a_function_over_its_memory_size_is_killed_as_on_aws(make_function: Callable[..., str], aws):
    name = make_function(FUNCTIONS, "sandbox.allocate", timeout=30, memory=128)
    within = invoke(aws, name, {"mb": 20})
    assert within["body"]["held_mb"] == 20, within["body"]
    size, used = report_memory(within["log"])
    assert size == 128
    assert 20 < used < 128, f"Max Memory Used {used} MB: the worker's own peak, not the engine's"
    over = invoke(aws, name, {"mb": 600})
    assert over.get("FunctionError") == "Unhandled", over["body"]
    assert over["body"]["errorType"] == "Runtime.OutOfMemory", over["body"]
    assert "Runtime exited with error: signal: killed" in over["body"]["errorMessage"]
    assert report_memory(over["log"]) == (128, 128)
    assert invoke(aws, name, {"mb": 20})["body"]["held_mb"] == 20, "a new environment serves the next invoke"


@pytest.mark.embedded_only(reason="the embedded engine's workers mount their own /tmp")
def test_each_environment_has_its_own_tmp_of_its_ephemeral_storage_size(
    make_function: Callable[..., str], aws, testbed_engine, unique: Callable[[str], str]
):
    if "functions share the machine's /tmp" in testbed_engine.log_path.read_text(errors="replace"):
        pytest.skip("this machine refuses the mount namespace a private /tmp needs (see the engine log)")
    writer = make_function(FUNCTIONS, "sandbox.use_tmp", timeout=20)
    reader = make_function(FUNCTIONS, "sandbox.use_tmp", timeout=20)
    aws("lambda").update_function_configuration(FunctionName=reader, EphemeralStorage={"Size": 1024})
    aws("lambda").get_waiter("function_updated_v2").wait(FunctionName=reader)
    note = unique("note") + ".txt"
    written = invoke(aws, writer, {"write": note})["body"]
    assert note in written["files"]
    assert written["size_mb"] == 512, "EphemeralStorage's default"
    seen = invoke(aws, reader)["body"]
    assert note not in seen["files"], "another function's /tmp is visible"
    assert seen["size_mb"] == 1024
    assert not (Path("/tmp") / note).exists(), "the function wrote into the machine's /tmp"
    assert note in invoke(aws, writer)["body"]["files"], "/tmp lasts as long as its environment"
    assert invoke(aws, writer, {"crash": True})["body"]["errorType"] == "Runtime.ExitError"
    assert note not in invoke(aws, writer)["body"]["files"], "a new environment starts with an empty /tmp"


@pytest.mark.embedded_only(reason="starts an embedded engine of its own")
def test_an_engine_whose_folder_lies_under_tmp_shares_it_and_says_so(tmp_path: Path, unique: Callable[[str], str]):
    """Covering /tmp would hide the engine's own files from its workers: they keep the machine's."""
    import os

    from serverless_testbed.engine.embedded import EmbeddedEngine
    from serverless_testbed.packaging import zip_files
    from serverless_testbed.settings import Settings

    from tests.integration.engine.own_engine import TRUST

    if not tmp_path.resolve().is_relative_to("/tmp"):
        pytest.skip(f"pytest's folders are not under /tmp here ({tmp_path})")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TESTBED_RUN_DIR", str(tmp_path / "run"))
        engine = EmbeddedEngine(Settings(target="embedded")).start()
    note = Path("/tmp") / (unique("shared") + ".txt")
    try:
        role = engine.client("iam").create_role(RoleName="tmp-probe", AssumeRolePolicyDocument=json.dumps(TRUST))
        lam = engine.client("lambda")
        lam.create_function(
            FunctionName="tmp-probe",
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="sandbox.use_tmp",
            Code={"ZipFile": zip_files({FUNCTIONS.name: FUNCTIONS.read_bytes()})},
        )
        lam.get_waiter("function_active_v2").wait(FunctionName="tmp-probe")
        answer = lam.invoke(FunctionName="tmp-probe", Payload=json.dumps({"write": note.name}).encode())
        assert "FunctionError" not in answer, answer["Payload"].read()
        assert note.exists(), "the function's /tmp is the machine's here"
        log = engine.log_path.read_text(errors="replace")
        assert log.count("functions share the machine's /tmp") == 1, log[-2000:]
        assert "lies under /tmp" in log
    finally:
        engine.stop()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(note)
