"""Runs the LocalStack process and guarantees nothing of it outlives the engine.

`python -m serverless_testbed.engine.supervisor [--die-with-parent] [--cleanup-dir=DIR] [--exit-file=F] -- COMMAND...`

The supervisor leads its own process group and is a child subreaper, so every process
LocalStack starts stays below it in the process tree even when it starts a session of its
own (kinesis-mock does) or its parent dies. On SIGTERM or SIGINT, or when its parent dies
with `--die-with-parent`, it asks LocalStack to stop, waits a few seconds, then kills what
is left. When LocalStack itself dies (killed, crashed), the supervisor kills every
remaining descendant and exits too: no child outlives the engine. Why LocalStack ended
goes to the log (its standard output) and, as JSON, to `--exit-file`.
When the parent died, nobody else will remove the engine's directory: `--cleanup-dir` does.
"""

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import threading

from serverless_testbed.errors import WaitTimeout
from serverless_testbed.procfs import descendants
from serverless_testbed.waiting import wait_for

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
GRACE_SECONDS = 8.0
# SIGKILL cannot be refused; only a process stuck in the kernel takes longer.
KILL_TIMEOUT = 10.0


def _die_with_parent(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _option(options: list[str], name: str) -> str | None:
    return next((option.split("=", 1)[1] for option in options if option.startswith(f"--{name}=")), None)


def exit_reason(code: int, requested: bool) -> str:
    """Why LocalStack ended, in words."""
    if code < 0:
        how = f"was killed by signal {signal.Signals(-code).name.removeprefix('SIG')}"
    else:
        how = f"exited with code {code}"
    return f"LocalStack {how}" + (" after a stop request" if requested else " unexpectedly (the engine crashed)")


def main() -> int:
    args = sys.argv[1:]
    split = args.index("--")
    options, command = args[:split], args[split + 1 :]
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    parent = int(os.environ.get("TESTBED_PARENT_PID", os.getppid()))
    if "--die-with-parent" in options:
        _die_with_parent(parent)
    cleanup_dir = _option(options, "cleanup-dir")
    exit_file = _option(options, "exit-file")
    # Orphans of LocalStack (kinesis-mock in its own session) become our children, not init's.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)

    child = subprocess.Popen(command)
    code: int | None = None
    while code is None and not stop.is_set():
        try:
            code = child.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
    requested = code is None
    if code is None:
        child.send_signal(signal.SIGTERM)
        try:
            code = child.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
    reason = exit_reason(code, requested)
    left = _kill_the_rest()
    print(f"testbed supervisor: {reason}; stopped {left} remaining process(es)", flush=True)
    if exit_file:
        with contextlib.suppress(OSError), open(exit_file, "w") as out:
            json.dump({"code": code, "requested": requested, "reason": reason}, out)
    # A live parent removes the directory itself (after reading the log, if start failed).
    if cleanup_dir and os.getppid() != parent:
        shutil.rmtree(cleanup_dir, ignore_errors=True)
    return code if code >= 0 else 128 - code


def _kill_the_rest() -> int:
    """SIGKILL every descendant and group member until none is left; how many there were."""
    killed: set[int] = set()

    def none_left() -> bool:
        _reap()
        alive = set(descendants(os.getpid())) | set(_group_members())
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed.update(alive)
        return not alive

    with contextlib.suppress(WaitTimeout):
        wait_for(
            none_left, timeout=KILL_TIMEOUT, interval=0.02, max_interval=0.2, what="the engine's processes to exit"
        )
    return len(killed)


def _reap() -> None:
    """Collect the exit status of ended children (orphans adopted as subreaper included)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _group_members() -> list[int]:
    """Every other process in this process group."""
    me, group = os.getpid(), os.getpgrp()
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":  # fields after the name: state, ppid, pgrp
            members.append(int(entry))
    return members


if __name__ == "__main__":
    sys.exit(main())
