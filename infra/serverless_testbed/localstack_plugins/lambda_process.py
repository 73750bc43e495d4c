"""Worker processes of the local-process Lambda executor, and the standby interpreters that
make a cold start cheap.

A worker (`lambda_worker.py`) is started unbound: an interpreter with the runtime's stdlib
modules imported, waiting on its pipe. `Worker.bind` hands it one function's code, layers,
environment and log file; only then does it import the handler and answer "ready". Most of
a cold start is the interpreter's own start (about 10 ms) and its imports (about 15 ms),
so one unbound worker per Python version is kept started ahead (`Standby`): a new execution
environment takes it, binds it, and a replacement starts in the background. AWS does the
same with its pools of prepared sandboxes; the function's own init (importing its module)
still runs at each cold start, in a process no other function has used.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from serverless_testbed.localstack_plugins.wire import read_frame, write_frame

WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
# What a standby interpreter starts with. The interpreter reads the locale once, as it
# starts, so only a function with these locale settings can take a standby.
STANDBY_ENVIRONMENT = {"PATH": BASE_PATH, "LANG": "C.UTF-8"}
_LOCALE_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE")


class WorkerGone(Exception):
    """The worker process ended or stopped answering."""


class Worker:
    """One worker process and the parent's ends of its pipes."""

    def __init__(self, interpreter: str, env: Mapping[str, str], cwd: str, stdout: Any = subprocess.DEVNULL) -> None:
        in_r, self.in_w = os.pipe()
        self.out_r, out_w = os.pipe()
        lifeline_r, self.lifeline_w = os.pipe()
        # -I -S: no site-packages, no PYTHONPATH; the function sees its code, layers, the SDK and the stdlib.
        # The command line ends with the folder it starts in, under the engine's directory: that is
        # how the engine's tools find its worker processes (infra/serverless_testbed/engine/embedded.py).
        self.process = subprocess.Popen(
            [interpreter, "-I", "-S", str(WORKER_SCRIPT), str(in_r), str(out_w), str(lifeline_r), cwd],
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            pass_fds=(in_r, out_w, lifeline_r),
            start_new_session=True,
        )
        for fd in (in_r, out_w, lifeline_r):
            os.close(fd)

    @classmethod
    def started(
        cls, interpreter: str, code_dir: str, layout: dict[str, Any], env: dict[str, str], log_path: Path
    ) -> Worker:
        """A new worker, started with the function's environment and bound to it."""
        with open(log_path, "ab") as log:
            worker = cls(interpreter, env, code_dir, stdout=log)
        worker.bind(code_dir, layout, env, log_path)
        return worker

    def bind(self, code_dir: str, layout: dict[str, Any], env: dict[str, str], log_path: Path) -> None:
        """Give the worker its function: it takes `env` as its whole environment, writes its
        output to `log_path`, and loads the handler from `code_dir`.

        `layout` says what goes on sys.path after `code_dir` and where AWS keeps it:
        {"layers": [[local, aws], ...], "sdk": [local, aws]}.
        """
        self.send({"code_dir": code_dir, "layout": layout, "env": env, "log_path": str(log_path)})

    def send(self, message: dict[str, Any]) -> None:
        try:
            write_frame(self.in_w, message)
        except OSError as err:
            raise WorkerGone(str(err)) from err

    def receive(self, timeout: float) -> dict[str, Any] | None:
        """The next message, None on timeout; WorkerGone when the process ended."""
        ready, _, _ = select.select([self.out_r], [], [], max(timeout, 0))
        if not ready:
            return None
        message = read_frame(self.out_r)
        if message is None:
            raise WorkerGone("worker closed its pipe")
        return message

    def is_alive(self) -> bool:
        """False once the process ended (it is reaped here) or closed its result pipe."""
        if self.process.poll() is not None:
            return False
        # An idle worker writes nothing: a readable result pipe means end-of-file.
        readable, _, _ = select.select([self.out_r], [], [], 0)
        return not readable

    def exit_reason(self) -> str:
        code = self.process.wait(timeout=5)
        if code < 0:
            return f"signal: {signal.Signals(-code).name.removeprefix('SIG').lower()}"
        return f"exit status {code}"

    def max_memory_mb(self) -> int:
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
        return 0

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for fd in (self.in_w, self.out_r, self.lifeline_w):
            os.close(fd)


def can_take_standby(env: Mapping[str, str]) -> bool:
    """True when a function with environment `env` may run in a standby interpreter: its
    locale settings are the ones the standby started with."""
    return all(env.get(name) == STANDBY_ENVIRONMENT.get(name) for name in _LOCALE_VARIABLES)


class Standby:
    """At most one started, unbound worker per interpreter, kept for the next cold start."""

    def __init__(self, cwd: str) -> None:
        self._cwd = cwd
        self._lock = threading.Lock()
        self._waiting: dict[str, Worker] = {}
        self._closed = False

    def prepare(self, interpreter: str) -> None:
        """Start a standby for `interpreter` unless one is waiting already."""
        with self._lock:
            if self._closed or interpreter in self._waiting:
                return
            self._waiting[interpreter] = Worker(interpreter, STANDBY_ENVIRONMENT, self._cwd)

    def take(self, interpreter: str) -> Worker | None:
        """The waiting standby of `interpreter`, if it is alive; a replacement starts in the
        background either way."""
        with self._lock:
            worker = self._waiting.pop(interpreter, None)
        threading.Thread(target=self.prepare, args=(interpreter,), name="lambda-standby", daemon=True).start()
        if worker is not None and not worker.is_alive():
            worker.kill()
            return None
        return worker

    def close(self) -> None:
        """Stop every waiting standby; none is started after this."""
        with self._lock:
            self._closed = True
            waiting, self._waiting = list(self._waiting.values()), {}
        for worker in waiting:
            worker.kill()


_standby: Standby | None = None
_standby_lock = threading.Lock()


def standby() -> Standby:
    """The engine's standby interpreters. Each exits with the engine, whose end closes its
    lifeline (the engine leaves without running atexit: infra/serverless_testbed/engine/localstack_main.py); the
    atexit hook stops them in any other process that uses this module."""
    global _standby
    with _standby_lock:
        if _standby is None:
            _standby = Standby(cwd=tempfile.gettempdir())  # the engine's own tmp folder
            atexit.register(_standby.close)
        return _standby
