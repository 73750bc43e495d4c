"""A Lambda execution environment for Python handlers, run as a plain process.

Started by `LocalProcessExecutor` with three inherited pipe ends: invokes come in on
one, results go out on another, and the third is a lifeline whose end-of-file means the
engine is gone, so the worker exits even while a handler is stuck. Stdlib only until
the user's module is imported; it mimics the AWS Python runtime (context object,
logging format, error payloads).
"""

import importlib
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from wire import read_frame, write_frame

sys.path.pop(0)


class LambdaContext:
    """The `context` argument AWS passes to a Python handler."""

    def __init__(self, request_id: str, invoked_arn: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class _Capture(io.TextIOBase):
    """Collects what the handler prints, for CloudWatch Logs and LogResult.

    Also copied to the worker's own log file, so that what a handler printed before it
    timed out or crashed can still be reported.
    """

    def __init__(self, tee: Any) -> None:
        self.parts: list[str] = []
        self.lock = threading.Lock()
        self.tee = tee

    def write(self, text: str) -> int:
        with self.lock:
            self.parts.append(text)
            self.tee.write(text)
            self.tee.flush()
        return len(text)

    def writable(self) -> bool:
        return True

    def take(self) -> str:
        with self.lock:
            text, self.parts = "".join(self.parts), []
        return text


class _LambdaLogHandler(logging.Handler):
    """Formats records as the AWS Python runtime does: level, time, request id, message."""

    request_id = ""

    def emit(self, record: logging.LogRecord) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        millis = int(record.msecs)
        message = self.format(record)
        sys.stdout.write(f"[{record.levelname}]\t{stamp}.{millis:03d}Z\t{self.request_id}\t{message}\n")


def _error(error_type: str, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": stack or []}


def _load_handler(handler_spec: str) -> tuple[Any, dict[str, Any] | None]:
    """Import `module.function` the way the AWS runtime does, or describe why it failed."""
    module_name, _, function_name = handler_spec.rpartition(".")
    if not module_name:
        return None, _error("Runtime.MalformedHandlerName", f"Bad handler '{handler_spec}': not enough values")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as err:
        return None, _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {err}")
    except SyntaxError as err:
        return None, _error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {err}")
    except Exception as err:  # noqa: BLE001 - any init failure is reported, as AWS does
        return None, _error(
            type(err).__name__,
            str(err),
            traceback.format_list(traceback.extract_tb(err.__traceback__)),
        )
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, _error("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return handler, None


def _invoke(handler: Any, message: dict[str, Any], log_handler: _LambdaLogHandler) -> dict[str, Any]:
    request_id = message["id"]
    log_handler.request_id = request_id
    context = LambdaContext(request_id, message["arn"], message["deadline_ms"])
    try:
        event = json.loads(message["payload"]) if message["payload"] else {}
        result = handler(event, context)
    except Exception as err:  # noqa: BLE001 - the handler's failure is the invoke's result
        stack = traceback.format_list(traceback.extract_tb(err.__traceback__)[1:])
        body = _error(type(err).__name__, str(err), stack)
        body["requestId"] = request_id
        # The AWS runtime prints unhandled errors to the function's log as well.
        print(f"[ERROR] {type(err).__name__}: {err}", file=sys.stderr)
        return {"ok": False, "payload": json.dumps(body)}
    try:
        return {"ok": True, "payload": json.dumps(result)}
    except (TypeError, ValueError) as err:
        body = _error("Runtime.MarshalError", f"Unable to marshal response: {err}")
        body["requestId"] = request_id
        return {"ok": False, "payload": json.dumps(body)}


def _watch_lifeline(fd: int) -> None:
    """Exit as soon as the engine closes the lifeline (it died or stopped us)."""
    while os.read(fd, 1):
        pass
    os._exit(0)


def main() -> None:
    in_fd, out_fd, lifeline_fd = (int(value) for value in sys.argv[1:4])
    code_dir, *layer_dirs = sys.argv[4:]
    threading.Thread(target=_watch_lifeline, args=(lifeline_fd,), daemon=True).start()
    sys.path[:0] = [code_dir, *layer_dirs]
    os.chdir(code_dir)

    capture = _Capture(sys.__stdout__)
    sys.stdout = sys.stderr = capture
    log_handler = _LambdaLogHandler()
    logging.getLogger().addHandler(log_handler)

    handler, init_error = _load_handler(os.environ.get("_HANDLER", ""))
    write_frame(out_fd, {"ready": True, "logs": capture.take()})
    while (message := read_frame(in_fd)) is not None:
        if init_error is not None:
            # AWS retries a failed init on the next invoke; so do we.
            handler, init_error = _load_handler(os.environ.get("_HANDLER", ""))
        if init_error is not None:
            print(f"[ERROR] {init_error['errorType']}: {init_error['errorMessage']}")
            reply = {"ok": False, "payload": json.dumps(init_error)}
        else:
            reply = _invoke(handler, message, log_handler)
        reply["logs"] = capture.take()
        write_frame(out_fd, reply)


if __name__ == "__main__":
    main()
