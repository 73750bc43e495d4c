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
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from serverless_testbed import procfs
from serverless_testbed.localstack_plugins.wire import read_frame, write_frame

WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
# How many times `kill` sweeps a worker's process tree for processes forked meanwhile.
KILL_SWEEPS = 20
# What a standby interpreter starts with. The interpreter reads the locale once, as it
# starts, so only a function with these locale settings can take a standby.
STANDBY_ENVIRONMENT = {"PATH": BASE_PATH, "LANG": "C.UTF-8"}
_LOCALE_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE")


class WorkerGone(Exception):
    """The worker process ended or stopped answering."""


class OutOfMemory(WorkerGone):
    """The worker went over its function's MemorySize and was killed, as AWS's runtime is."""


# How often a busy worker's memory is looked at (AWS kills at once; this overshoots by what a
# function allocates in this long).
MEMORY_CHECK_S = 0.02
_PAGE = os.sysconf("SC_PAGE_SIZE")


class Worker:
    """One worker process and the parent's ends of its pipes."""

    def __init__(
        self,
        interpreter: str,
        env: Mapping[str, str],
        cwd: str,
        stdout: Any = subprocess.DEVNULL,
        private_tmp: bool = False,
    ) -> None:
        in_r, self.in_w = os.pipe()
        self.out_r, out_w = os.pipe()
        lifeline_r, self.lifeline_w = os.pipe()
        # -I -S: no site-packages, no PYTHONPATH; the function sees its code, layers, the SDK and the stdlib.
        # The command line ends with the folder it starts in, under the engine's directory: that is
        # how the engine's tools find its worker processes (infra/serverless_testbed/engine/embedded.py).
        # private_tmp: the worker covers /tmp with a tmpfs of its own, which only an engine whose
        # folders lie outside /tmp may ask for (`shared_tmp_reason`).
        tmp = "private-tmp" if private_tmp else "shared-tmp"
        command = [interpreter, "-I", "-S", str(WORKER_SCRIPT), str(in_r), str(out_w), str(lifeline_r), tmp, cwd]
        # A process the handler forks (multiprocessing) runs this same command line, wherever it moved.
        self._command_line = b"\0".join(os.fsencode(part) for part in command) + b"\0"
        self._marker: bytes | None = None
        self.process = subprocess.Popen(
            command,
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
        # Readable once the worker's own process has ended, whatever its children still hold
        # open (a child forked by the handler keeps the result pipe open: its end-of-file never comes).
        self._ended: int | None = os.pidfd_open(self.process.pid) if hasattr(os, "pidfd_open") else None

    @classmethod
    def started(
        cls,
        interpreter: str,
        code_dir: str,
        layout: dict[str, Any],
        env: dict[str, str],
        log_path: Path,
        private_tmp: bool = False,
    ) -> Worker:
        """A new worker, started with the function's environment and bound to it."""
        with open(log_path, "ab") as log:
            worker = cls(interpreter, env, code_dir, stdout=log, private_tmp=private_tmp)
        worker.bind(code_dir, layout, env, log_path)
        return worker

    def bind(self, code_dir: str, layout: dict[str, Any], env: dict[str, str], log_path: Path) -> None:
        """Give the worker its function: it takes `env` as its whole environment, writes its
        output to `log_path`, and loads the handler from `code_dir`.

        `layout` says what goes on sys.path after `code_dir` and where AWS keeps it:
        {"layers": [[local, aws], ...], "sdk": [local, aws]}.
        """
        self.send({"code_dir": code_dir, "layout": layout, "env": env, "log_path": str(log_path)})
        # The execution environment's own TMPDIR: what the function starts inherits it.
        self._marker = f"TMPDIR={env['TMPDIR']}".encode() if env.get("TMPDIR") else None

    def send(self, message: dict[str, Any]) -> None:
        try:
            write_frame(self.in_w, message)
        except OSError as err:
            raise WorkerGone(str(err)) from err

    def receive(self, timeout: float, memory_limit_mb: int | None = None) -> dict[str, Any] | None:
        """The next message, None on timeout; WorkerGone as soon as the worker's process ended
        (or closed its pipe), even while a child of it holds the pipe open; OutOfMemory (the
        worker killed) once its resident memory goes over `memory_limit_mb`."""
        deadline = time.monotonic() + max(timeout, 0)
        while True:
            left = max(deadline - time.monotonic(), 0)
            watched = [self.out_r] if self._ended is None else [self.out_r, self._ended]
            # Without a pidfd, the process is looked at every 50 ms; with a memory limit, every 20 ms.
            wait = left if self._ended is not None else min(left, 0.05)
            ready, _, _ = select.select(watched, [], [], wait if memory_limit_mb is None else min(wait, MEMORY_CHECK_S))
            if self.out_r in ready:
                message = read_frame(self.out_r)
                if message is None:
                    raise WorkerGone("worker closed its pipe")
                return message
            if ready or self.process.poll() is not None:
                raise WorkerGone("worker exited")
            if memory_limit_mb is not None and self.resident_mb() > memory_limit_mb:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process.pid, signal.SIGKILL)
                raise OutOfMemory(f"over {memory_limit_mb} MB")
            if time.monotonic() >= deadline:
                return None

    def resident_mb(self) -> float:
        """The worker's resident memory now, in MB (0 once it is gone)."""
        try:
            resident_pages = int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return 0
        return resident_pages * _PAGE / (1024 * 1024)

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

    def _forks(self) -> list[int]:
        """Processes this worker's function started (forks run its command line; what they exec
        carries the environment's own TMPDIR), wherever they are in the process tree now."""
        return _strays(self._command_line, self._marker, besides=self.process.pid)

    def kill(self) -> None:
        """End the execution environment: every process of it, its own children, what they
        started in sessions of their own (setsid, double forks, daemons: the worker is their
        subreaper, so they stay below it), then the worker itself."""
        pid = self.process.pid
        for _ in range(KILL_SWEEPS):
            tree = procfs.descendants(pid) if self.process.poll() is None else []
            if not tree:
                break
            for child in tree:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
        # A worker that died first left its children to the engine's supervisor: its forks are
        # still known by their command line, the rest by the process group below.
        for child in self._forks():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self.process.wait()
        for fd in (self.in_w, self.out_r, self.lifeline_w, *([self._ended] if self._ended is not None else [])):
            os.close(fd)


def _strays(command_line: bytes, variable: bytes | None, besides: int) -> list[int]:
    """Processes that run `command_line` (forks of a worker) or carry `variable` (NAME=value)
    in their environment (what it started with exec, which inherits the function's environment)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == besides:
            continue
        with contextlib.suppress(OSError):
            if Path(f"/proc/{entry}/cmdline").read_bytes() == command_line or (
                variable is not None and variable in (procfs.environment(int(entry)) or [])
            ):
                found.append(int(entry))
    return found


def shared_tmp_reason() -> str:
    """Why this engine's workers must share the machine's /tmp, "" when they may cover it with one
    of their own (everything they read lies outside /tmp: the engine's folder, `engines_dir`)."""
    for name, folder in (
        ("TMPDIR", tempfile.gettempdir()),
        ("FILESYSTEM_ROOT", os.environ.get("FILESYSTEM_ROOT", "/")),
    ):
        if Path(folder).resolve().is_relative_to("/tmp"):
            return f"the engine's {name} ({folder}) lies under /tmp"
    return ""


def can_take_standby(env: Mapping[str, str]) -> bool:
    """True when a function with environment `env` may run in a standby interpreter: its
    locale settings are the ones the standby started with."""
    return all(env.get(name) == STANDBY_ENVIRONMENT.get(name) for name in _LOCALE_VARIABLES)


class Standby:
    """At most one started, unbound worker per interpreter, kept for the next cold start."""

    def __init__(self, cwd: str, private_tmp: bool = False) -> None:
        self._cwd = cwd
        self._private_tmp = private_tmp
        self._lock = threading.Lock()
        self._waiting: dict[str, Worker] = {}
        self._closed = False

    def prepare(self, interpreter: str) -> None:
        """Start a standby for `interpreter` unless one is waiting already."""
        with self._lock:
            if self._closed or interpreter in self._waiting:
                return
            self._waiting[interpreter] = Worker(
                interpreter, STANDBY_ENVIRONMENT, self._cwd, private_tmp=self._private_tmp
            )

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
            # The engine's own tmp folder; a /tmp of their own where the engine's folder allows it.
            _standby = Standby(cwd=tempfile.gettempdir(), private_tmp=not shared_tmp_reason())
            atexit.register(_standby.close)
        return _standby
