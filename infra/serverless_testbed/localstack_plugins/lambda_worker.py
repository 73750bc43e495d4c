"""A Lambda execution environment for Python handlers, run as a plain process.

Started by `lambda_process.Worker`, possibly ahead of need, with three inherited pipe
ends: the first message on one binds it to a function (code, environment, log file), then
invokes come in on it; results go out on another, and the third is a lifeline whose
end-of-file means the engine is gone, so the worker exits even while a handler is stuck.
Stdlib only until the user's module is imported; it mimics the AWS Python runtime (context object,
logging format, error payloads, the JSON encoding of results) and shows the code where
AWS keeps it (/var/task, /opt for layers, /var/lang for Python) in stack traces.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import math
import os
import re
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

# Only what every invoke needs is imported up front (the cold start pays for each module);
# base64, decimal and traceback are imported where a result or an error needs them.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
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


class Paths:
    """Where AWS keeps what runs here, for the file names stack traces show."""

    def __init__(self, places: list[tuple[str, str]]) -> None:
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        places = [*places, (os.path.dirname(os.__file__), f"/var/lang/lib/{version}")]  # the stdlib
        # Longest first: a code folder may lie under the interpreter's prefix, or the reverse.
        self.places = sorted(((local.rstrip("/") + "/", aws + "/") for local, aws in places), key=lambda p: -len(p[0]))

    def show(self, filename: str) -> str:
        """`filename` as it is on AWS (/var/task/handler.py), or unchanged."""
        for local, aws in self.places:
            if filename.startswith(local):
                return aws + filename[len(local) :]
        return filename

    def stack(self, tb: Any, skip_file: str = "") -> list[str]:
        """A traceback formatted as the AWS runtime does, without this worker's own frames."""
        import traceback

        frames = [
            (frame.filename, frame.lineno, frame.name, frame.line)
            for frame in traceback.extract_tb(tb)
            if frame.filename != skip_file
        ]
        return traceback.format_list([(self.show(name), line, func, text) for name, line, func, text in frames])


PATHS = Paths([])
_ENSURE_ASCII_OFF = {"AWS_Lambda_python3.12", "AWS_Lambda_python3.13"}


class _Encoder(json.JSONEncoder):
    """awslambdaric's marshaller: a Decimal is written as its own digits (NaN as NaN), and
    the python3.12/3.13 runtimes write non-ASCII characters as they are."""

    def __init__(self) -> None:
        super().__init__(ensure_ascii=os.environ.get("AWS_EXECUTION_ENV") not in _ENSURE_ASCII_OFF, allow_nan=True)
        self.marker = f"decimal-{os.urandom(16).hex()}-"
        self.decimals: list[str] = []

    def default(self, o: Any) -> Any:
        import decimal

        if isinstance(o, decimal.Decimal):
            if o.is_nan():
                return math.nan
            # A placeholder string, replaced by the digits below: json writes no raw text.
            self.decimals.append(str(o))
            return f"{self.marker}{len(self.decimals) - 1}"
        return super().default(o)

    def encode(self, o: Any) -> str:
        text = super().encode(o)
        if not self.decimals:
            return text
        return re.sub(f'"{self.marker}(\\d+)"', lambda match: self.decimals[int(match[1])], text)


def to_json(value: Any) -> str:
    """`value` as the AWS Python runtime encodes a result or an error."""
    return _Encoder().encode(value)


def _error(error_type: str, message: str, stack: list[str] | None = None, request_id: str = "") -> dict[str, Any]:
    """The AWS runtime's error object; an init error has an empty request id."""
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack or []}


def _log_error(error: dict[str, Any]) -> None:
    """Print an error to the function's log as the AWS runtime does (one record, \\r between lines)."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}", "Traceback (most recent call last):"]
    for frame in error["stackTrace"]:
        for line in frame.splitlines():
            stripped = line.lstrip(" ")
            lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    sys.stdout.write("\r".join(lines) + "\n")


def _load_handler(handler_spec: str) -> tuple[Any, dict[str, Any] | None]:
    """Import `module.function` the way the AWS runtime does, or describe why it failed."""
    try:
        module_name, function_name = handler_spec.rsplit(".", 1)
    except ValueError as err:
        return None, _error("Runtime.MalformedHandlerName", f"Bad handler '{handler_spec}': {err}")
    if module_name.split(".")[0] in sys.builtin_module_names:
        message = f"Cannot use built-in module {module_name} as a handler module"
        return None, _error("Runtime.BuiltInModuleConflict", message)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as err:
        return None, _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {err}")
    except SyntaxError as err:
        trace = [f'  File "{PATHS.show(err.filename or "")}" Line {err.lineno}\n    {err.text}']
        return None, _error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {err}", trace)
    except Exception as err:  # noqa: BLE001 - any init failure is reported, as AWS does
        return None, _error(type(err).__name__, str(err), PATHS.stack(err.__traceback__, skip_file=__file__))
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
        body = _error(type(err).__name__, str(err), PATHS.stack(err.__traceback__, skip_file=__file__), request_id)
        # The AWS runtime prints unhandled errors to the function's log as well.
        _log_error(body)
        return {"ok": False, "payload": to_json(body)}
    if isinstance(result, bytes):
        # The AWS runtime sends bytes as they are (content type application/unknown).
        import base64

        return {"ok": True, "payload_base64": base64.b64encode(result).decode()}
    try:
        return {"ok": True, "payload": to_json(result)}
    except Exception as err:  # noqa: BLE001 - the runtime turns any encoding failure into a MarshalError
        body = _error("Runtime.MarshalError", f"Unable to marshal response: {err}", None, request_id)
        _log_error(body)
        return {"ok": False, "payload": to_json(body)}


def _peak_rss_kb() -> int:
    """This process's peak resident memory since it started its program (VmHWM). Not
    getrusage's ru_maxrss: Linux carries that over an exec, so a worker would report the
    engine's own size, which its process was forked from."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _watch_lifeline(fd: int) -> None:
    """Exit as soon as the engine closes the lifeline (it died or stopped us)."""
    while os.read(fd, 1):
        pass
    os._exit(0)


def _bind(init: dict[str, Any]) -> None:
    """Become the function's process: its whole environment, its log file as stdout and
    stderr, its code folder as the working directory."""
    log_fd = os.open(init["log_path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.environ.clear()
    os.environ.update(init["env"])
    time.tzset()  # TZ as the function sets it
    os.chdir(init["code_dir"])


# Linux constants (sched.h, sys/mount.h, sys/prctl.h).
_CLONE_NEWNS, _CLONE_NEWUSER = 0x00020000, 0x10000000
_MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_REC, _MS_PRIVATE = 2, 4, 32, 16384, 1 << 18
_PR_SET_CHILD_SUBREAPER = 36
# Why the environment shares the machine's /tmp though the engine asked for its own ("" otherwise).
PRIVATE_TMP = False  # whether this environment's /tmp is its own, mounted here
SHARED_TMP = ""


def _sandbox(private_tmp: bool) -> None:
    """Make this process an execution environment of its own, before any thread starts (a user
    namespace needs a single thread): the subreaper of everything its handler starts (a process
    that leaves its session stays below this one, so ending the environment ends it), and its
    own /tmp, an empty tmpfs in a mount namespace of its own (as root; else in a user namespace
    too, where the machine allows one) when the engine asks for it. Done while a standby waits:
    ctypes costs a few ms."""
    global PRIVATE_TMP, SHARED_TMP
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if not private_tmp:  # the engine said its files lie under /tmp (it logged why)
        return
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(_CLONE_NEWNS if uid == 0 else _CLONE_NEWNS | _CLONE_NEWUSER) != 0:
        SHARED_TMP = f"unshare: {os.strerror(ctypes.get_errno())}"
        return
    try:
        if uid != 0:  # the same ids inside as outside
            for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
                with open(f"/proc/self/{name}", "w") as mapping:
                    mapping.write(text)
    except OSError as err:
        SHARED_TMP = f"user namespace maps: {err.strerror}"
        return
    if (
        libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0
        or libc.mount(b"tmpfs", b"/tmp", b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=512m,mode=1777") != 0
    ):
        SHARED_TMP = f"mount: {os.strerror(ctypes.get_errno())}"
        return
    PRIVATE_TMP = True


def _size_tmp(megabytes: int) -> None:
    """The environment's /tmp holds what its function's EphemeralStorage says (512 to 10,240 MB)."""
    if not PRIVATE_TMP or not megabytes:  # never the machine's own /tmp
        return
    import ctypes

    options = f"size={int(megabytes)}m,mode=1777".encode()
    ctypes.CDLL(None, use_errno=True).mount(b"tmpfs", b"/tmp", b"tmpfs", _MS_REMOUNT | _MS_NOSUID | _MS_NODEV, options)


def main() -> None:
    global PATHS
    in_fd, out_fd, lifeline_fd = (int(value) for value in sys.argv[1:4])  # argv[5]: the folder it started in
    _sandbox(private_tmp=sys.argv[4] == "private-tmp")
    threading.Thread(target=_watch_lifeline, args=(lifeline_fd,), daemon=True).start()
    # Started unbound (possibly ahead of need): the function comes in the first message.
    init = read_frame(in_fd)
    if init is None:
        return
    _bind(init)
    _size_tmp(init["layout"].get("tmp_mb", 0))
    code_dir = init["code_dir"]
    # {"layers": [[local, aws], ...], "sdk": [local, aws]}: what else is on sys.path, and its AWS place.
    layout = init["layout"]
    places = [(code_dir, "/var/task"), *[tuple(layer) for layer in layout["layers"]], tuple(layout["sdk"])]
    PATHS = Paths(places)
    sys.path[:0] = [local for local, _ in places]

    capture = _Capture(sys.__stdout__)
    sys.stdout = sys.stderr = capture
    log_handler = _LambdaLogHandler()
    logging.getLogger().addHandler(log_handler)

    handler, init_error = _load_handler(os.environ.get("_HANDLER", ""))
    write_frame(out_fd, {"ready": True, "logs": capture.take(), "shared_tmp": SHARED_TMP})
    while (message := read_frame(in_fd)) is not None:
        if init_error is not None:
            # AWS retries a failed init on the next invoke; so do we.
            handler, init_error = _load_handler(os.environ.get("_HANDLER", ""))
        if init_error is not None:
            _log_error(init_error)
            reply = {"ok": False, "payload": to_json(init_error)}
        else:
            reply = _invoke(handler, message, log_handler)
        reply["logs"] = capture.take()
        reply["max_rss_kb"] = _peak_rss_kb()  # REPORT's Max Memory Used
        write_frame(out_fd, reply)


if __name__ == "__main__":
    main()
