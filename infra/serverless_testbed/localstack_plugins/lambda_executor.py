"""A LocalStack Lambda runtime executor that runs Python functions as local processes.

LocalStack 4.14.0 only ships a Docker executor. This one is loaded from the entry-point
namespace `localstack.lambda.runtime_executor` (name `local-process`) when the engine sets
`LAMBDA_RUNTIME_EXECUTOR=local-process`. Each execution environment LocalStack creates
gets one worker process (`lambda_worker.py`); invokes travel over pipes instead of HTTP,
which keeps a warm invoke to a few milliseconds. Timeouts, crashes, import errors and
results over the 6 MB response limit come back with the payloads AWS uses, and the
environment replaces its worker so the next invoke works. Each function runs on the
Python of its declared runtime when one is installed (`lambda_python.py`).
"""

from __future__ import annotations

import base64
import json
import logging
import math
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localstack import config
from localstack.services.lambda_.invocation.lambda_models import (
    FunctionVersion,
    InvocationResult,
)
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)
from serverless_testbed.localstack_plugins import faults
from serverless_testbed.localstack_plugins.lambda_process import (
    BASE_PATH,
    OutOfMemory,
    Worker,
    WorkerGone,
    can_take_standby,
    shared_tmp_reason,
    standby,
)
from serverless_testbed.localstack_plugins.lambda_python import (
    aws_site_packages,
    interpreter_for,
    runtime_version,
)
from serverless_testbed.localstack_plugins.lambda_sdk import sdk_folder

LOG = logging.getLogger(__name__)
_shared_tmp_said = threading.Event()


def _say_shared_tmp_once(reason: str) -> None:
    """Once per engine: the machine refused the namespaces a private /tmp needs, so functions
    share the machine's /tmp (docs/fidelity.md)."""
    if not _shared_tmp_said.is_set():
        _shared_tmp_said.set()
        LOG.warning("functions share the machine's /tmp: no mount namespace for their own (%s)", reason)


# Variables LocalStack sets for its Docker init; a real Lambda has none of them.
_ENGINE_ONLY_PREFIXES = ("LOCALSTACK_", "_AWS_XRAY_", "AWS_XRAY_")
_ENGINE_ONLY_NAMES = {"EDGE_PORT", "LAMBDA_RUNTIME_DIR"}


def worker_environment(
    env_vars: dict[str, Any], user_env: dict[str, str], runtime: str, tmp_dir: str
) -> dict[str, str]:
    """The environment of a function process: Lambda's variables, the user's, nothing else;
    LAMBDA_TASK_ROOT and AWS_EXECUTION_ENV as the AWS runtime of `runtime` sets them (the code
    itself lies elsewhere on this host: the worker's working directory)."""
    env = {
        key: str(value)
        for key, value in env_vars.items()
        if key in user_env or (key not in _ENGINE_ONLY_NAMES and not key.startswith(_ENGINE_ONLY_PREFIXES))
    }
    env.setdefault("PATH", BASE_PATH)
    env.setdefault("LANG", "C.UTF-8")
    env["LAMBDA_TASK_ROOT"] = "/var/task"
    env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{runtime}"
    env["HOME"] = env["TMPDIR"] = tmp_dir
    return env


def response_payload(reply: dict[str, Any]) -> tuple[bool, bytes]:
    """(succeeded, payload) of a worker's reply; a result over Lambda's synchronous response
    limit (6 MB: 6,291,556 bytes) becomes the error AWS answers instead."""
    encoded = "payload_base64" in reply  # the handler returned bytes
    payload = base64.b64decode(reply["payload_base64"]) if encoded else reply["payload"].encode()
    limit = config.LAMBDA_LIMITS_MAX_FUNCTION_PAYLOAD_SIZE_BYTES
    if reply["ok"] and len(payload) > limit:
        error = {
            "errorType": "Function.ResponseSizeTooLarge",
            "errorMessage": f"Response payload size exceeded maximum allowed payload size ({limit} bytes).",
        }
        return False, json.dumps(error).encode()
    return reply["ok"], payload


class LocalProcessExecutor(RuntimeExecutor):
    """Runs one Lambda execution environment as a local Python process."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._worker: Worker | None = None
        self._env: dict[str, str] = {}
        self._lock = threading.Lock()
        self._tmp_dir = Path(tempfile.mkdtemp(prefix=f"lambda-{id[:8]}-"))
        self._log_path = self._tmp_dir / "worker.log"
        self._pending_logs = ""
        self._interpreter = sys.executable
        self._layout: dict[str, Any] = {}

    # lifecycle

    def start(self, env_vars: dict[str, str]) -> None:
        runtime = self.function_version.config.runtime or ""
        user_env = self.function_version.config.environment or {}
        work_tmp = self._tmp_dir / "tmp"
        work_tmp.mkdir(exist_ok=True)
        self._env = worker_environment(env_vars, user_env, runtime, str(work_tmp))
        self._interpreter = interpreter_for(runtime)
        sdk = sdk_folder(runtime, self._interpreter)  # the boto3 of the runtime, built when the function was created
        storage = self.function_version.config.ephemeral_storage
        self._layout = {
            "layers": self._layer_dirs(),
            "sdk": [str(sdk), aws_site_packages(runtime_version(runtime) or sys.version_info[:2])],
            "tmp_mb": int(getattr(storage, "size", 0) or 512),  # EphemeralStorage: the size of its /tmp
        }
        with self._lock:
            self._spawn()

    def stop(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.kill()
                self._worker = None
        shutil.rmtree(self._tmp_dir, ignore_errors=True)

    def _spawn(self) -> None:
        code_dir = str(self.function_version.config.code.get_unzipped_code_location())
        shared_tmp = shared_tmp_reason()
        if shared_tmp:
            _say_shared_tmp_once(shared_tmp)
        worker = self._from_standby(code_dir) or Worker.started(
            self._interpreter, code_dir, self._layout, self._env, self._log_path, private_tmp=not shared_tmp
        )
        timeout = config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT
        try:
            ready = worker.receive(timeout)
        except WorkerGone as err:
            reason = worker.exit_reason()
            worker.kill()
            raise LambdaRuntimeException(f"worker exited during init: {reason}") from err
        if ready is None:
            worker.kill()
            raise LambdaRuntimeException(f"worker not ready after {timeout} s")
        self._pending_logs = ready.get("logs", "")
        self._worker = worker
        if ready.get("shared_tmp"):
            _say_shared_tmp_once(str(ready["shared_tmp"]))

    def _from_standby(self, code_dir: str) -> Worker | None:
        """The standby interpreter of this runtime (lambda_process.py), bound to this function;
        None when there is none or the function's locale differs from the standby's."""
        if not can_take_standby(self._env):
            return None
        worker = standby().take(self._interpreter)
        if worker is None:
            return None
        try:
            worker.bind(code_dir, self._layout, self._env, self._log_path)
        except WorkerGone:
            worker.kill()
            return None
        return worker

    def _layer_dirs(self) -> list[list[str]]:
        """Each layer's folders for sys.path, with where AWS extracts them (/opt): python/lib/python3.x/
        site-packages before python/, as AWS's Python runtimes put them (developer guide, "Layer paths
        for each Lambda runtime")."""
        version = runtime_version(self.function_version.config.runtime or "") or sys.version_info[:2]
        site = f"python/lib/python{version[0]}.{version[1]}/site-packages"
        dirs = []
        for layer in self.function_version.config.layers:
            root = Path(layer.code.get_unzipped_code_location())
            dirs += [[str(root / site), f"/opt/{site}"], [str(root / "python"), "/opt/python"], [str(root), "/opt"]]
        return dirs

    # invoking

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        timeout = float(self.function_version.config.timeout)
        started = time.monotonic()
        injected = faults.function_fault(self.function_version.id.function_name, request_id, timeout)
        if injected is not None:
            return self._injected(injected, request_id, started)
        with self._lock:
            if self._worker is not None and not self._worker.is_alive():
                # Died while idle (killed, OOM): no invocation was running, so none fails.
                LOG.warning(
                    "worker of %s exited while idle (%s); starting a new one", self.id, self._worker.exit_reason()
                )
                self._discard(self._worker)
            if self._worker is None:
                self._spawn()  # the previous worker timed out or crashed: a new sandbox
            worker = self._worker
            assert worker is not None
            log_offset = self._log_size()
            message = {
                "id": request_id,
                "arn": payload["invoked-function-arn"],
                "payload": payload["payload"],
                "deadline_ms": int((time.time() + timeout) * 1000),
            }
            memory_size = int(self.function_version.config.memory_size or 128)
            try:
                worker.send(message)
                reply = worker.receive(timeout - (time.monotonic() - started), memory_limit_mb=memory_size)
            except OutOfMemory:
                reply = self._out_of_memory(worker, request_id, log_offset, memory_size)
            except WorkerGone:
                reply = self._crashed(worker, request_id, log_offset)
            if reply is None:
                reply = self._timed_out(worker, request_id, timeout, log_offset)
            elapsed_ms = (time.monotonic() - started) * 1000
            logs = self._pending_logs + reply.get("logs", "")
            self._pending_logs = ""
            # The worker says its peak itself; a crashed or timed-out one is read from /proc.
            memory = reply["max_rss_kb"] // 1024 if "max_rss_kb" in reply else worker.max_memory_mb()
        ok, result = response_payload(reply)
        return InvocationResult(
            request_id=request_id,
            payload=result,
            is_error=not ok,
            logs=self._frame_logs(request_id, logs, elapsed_ms, memory),
        )

    def _injected(self, injected: faults.InjectedFailure, request_id: str, started: float) -> InvocationResult:
        """The answer of a fault rule (localstack_plugins/faults.py) instead of running the function."""
        if injected.resets_sandbox:
            with self._lock:
                if self._worker is not None:
                    self._discard(self._worker)  # a timed-out or crashed sandbox is not reused
        elapsed_ms = (time.monotonic() - started) * 1000
        return InvocationResult(
            request_id=request_id,
            payload=injected.payload.encode(),
            is_error=True,
            logs=self._frame_logs(request_id, injected.logs, elapsed_ms, 0),
        )

    def _crashed(self, worker: Worker, request_id: str, log_offset: int) -> dict[str, Any]:
        return self._runtime_exited(worker, request_id, log_offset, worker.exit_reason(), "Runtime.ExitError")

    def _out_of_memory(self, worker: Worker, request_id: str, log_offset: int, memory_size: int) -> dict[str, Any]:
        """What AWS answers when the runtime goes over MemorySize: it is killed, the environment
        replaced, and REPORT says the whole size was used."""
        reply = self._runtime_exited(worker, request_id, log_offset, "signal: killed", "Runtime.OutOfMemory")
        reply["logs"] += "Runtime.OutOfMemory\n"
        return {**reply, "max_rss_kb": memory_size * 1024}

    def _runtime_exited(
        self, worker: Worker, request_id: str, log_offset: int, reason: str, error_type: str
    ) -> dict[str, Any]:
        """The environment ended under an invoke: discarded, and the invoke failed as AWS says it."""
        self._discard(worker)
        error = f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
        return {
            "ok": False,
            "payload": json.dumps({"errorType": error_type, "errorMessage": error}),
            "logs": self._log_since(log_offset) + error + "\n",
        }

    def _timed_out(self, worker: Worker, request_id: str, timeout: float, log_offset: int) -> dict[str, Any]:
        self._discard(worker)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        message = f"Task timed out after {timeout:.2f} seconds"
        return {
            "ok": False,
            "payload": json.dumps(
                {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: {message}",
                }
            ),
            "logs": self._log_since(log_offset) + f"{stamp} {request_id} {message}\n",
        }

    def _discard(self, worker: Worker) -> None:
        worker.kill()
        self._worker = None

    def _log_size(self) -> int:
        try:
            return self._log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def _log_since(self, offset: int) -> str:
        """What a worker wrote to its own stdout since `offset` (its output before a crash)."""
        try:
            with open(self._log_path, "rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _frame_logs(self, request_id: str, logs: str, elapsed_ms: float, memory: int) -> str:
        version = self.function_version.id.qualifier
        size = self.function_version.config.memory_size
        if logs and not logs.endswith("\n"):
            logs += "\n"
        return (
            f"START RequestId: {request_id} Version: {version}\n{logs}"
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(elapsed_ms)} ms\tMemory Size: {size} MB\t"
            f"Max Memory Used: {memory} MB\t\n"
        )

    # addresses: everything is on this host

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://127.0.0.1:{port}/_localstack_lambda/{self.id}"

    def get_logs(self) -> str:
        return self._log_since(0)

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        runtime = function_version.config.runtime or ""
        if not runtime.startswith("python"):
            raise LambdaRuntimeException(
                f"runtime {runtime or 'image'} is not supported by the local-process executor;"
                " use a python3.x runtime or the container target"
            )
        # Finds it (or warns) when the function is created, and starts its standby interpreter.
        interpreter = interpreter_for(runtime)
        standby().prepare(interpreter)
        try:
            sdk_folder(runtime, interpreter)  # the runtime's boto3: installed once per machine, here, not at invoke
        except Exception as err:
            raise LambdaRuntimeException(f"cannot install the AWS SDK of runtime {runtime}: {err}") from err
        function_version.config.code.prepare_for_execution()
        for layer in function_version.config.layers:
            layer.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass


class LocalProcessExecutorPlugin(RuntimeExecutorPlugin):
    """Entry point `localstack.lambda.runtime_executor:local-process`."""

    name = "local-process"

    def load(self, *args: Any, **kwargs: Any) -> type[RuntimeExecutor]:
        from localstack.services.lambda_.invocation import assignment
        from serverless_testbed.localstack_plugins import lambda_environments

        lambda_environments.install(assignment)  # at most N workers per function version
        return LocalProcessExecutor
