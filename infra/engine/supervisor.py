"""Runs the LocalStack process and guarantees nothing of it outlives the engine.

`python -m infra.engine.supervisor [--die-with-parent] [--cleanup-dir=DIR] -- COMMAND...`

The supervisor leads its own process group; LocalStack and what LocalStack spawns
(kinesis-mock, npm) stay in it. On SIGTERM or SIGINT, or when its parent dies with
`--die-with-parent`, it asks LocalStack to stop, waits a few seconds, then kills the
whole group. Lambda workers hold a lifeline pipe to LocalStack and exit with it.
When the parent died, nobody else will remove the engine's directory: `--cleanup-dir` does.
"""

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading

PR_SET_PDEATHSIG = 1
GRACE_SECONDS = 8.0


def _die_with_parent(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


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
    cleanup_dir = next(
        (option.split("=", 1)[1] for option in options if option.startswith("--cleanup-dir=")),
        None,
    )

    child = subprocess.Popen(command)
    code: int | None = None
    while code is None and not stop.is_set():
        try:
            code = child.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
    if code is None:
        child.send_signal(signal.SIGTERM)
        try:
            code = child.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            code = -signal.SIGKILL
    # Whatever LocalStack left in the group (kinesis-mock, npm) goes with it.
    for pid in _group_members():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    # A live parent removes the directory itself (after reading the log, if start failed).
    if cleanup_dir and os.getppid() != parent:
        shutil.rmtree(cleanup_dir, ignore_errors=True)
    return code if code >= 0 else 128 - code


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
        if int(fields[2]) == group:  # fields after the name: state, ppid, pgrp
            members.append(int(entry))
    return members


if __name__ == "__main__":
    sys.exit(main())
