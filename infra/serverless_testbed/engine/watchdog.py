"""Ends a command whose engine dies under it, instead of letting it poll a dead endpoint.

Commands such as `testbed run` wait for executions and messages with bounded polls that
count connection errors as "not yet"; against a dead engine they would wait out their
whole timeout (minutes). The watchdog waits on a pidfd of the engine's supervisor (no
polling), and when it ends, interrupts the main thread with a clear message.
"""

from __future__ import annotations

import os
import select
import signal
import threading
from collections.abc import Callable
from types import FrameType

from serverless_testbed.engine.embedded import EngineRecord


def exit_when_engine_dies(record: EngineRecord, report: Callable[[], None]) -> bool:
    """From now on, if the engine's supervisor ends, call `report` and exit with code 1.

    Only from the main thread (signals are delivered there); returns whether it watches.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        pidfd = os.pidfd_open(record.pid)
    except OSError:
        return False
    # Opened first, checked second: the pidfd now names the process that was verified.
    if not record.supervisor_is_ours():
        os.close(pidfd)
        return False
    main = threading.main_thread().ident
    assert main is not None

    def interrupted(signum: int, frame: FrameType | None) -> None:
        report()
        # SystemExit passes through the polls' `except Exception` and runs `finally` blocks.
        raise SystemExit(1)

    signal.signal(signal.SIGUSR1, interrupted)

    def watch() -> None:
        select.select([pidfd], [], [])  # readable once the supervisor has exited
        signal.pthread_kill(main, signal.SIGUSR1)

    threading.Thread(target=watch, name="engine-watchdog", daemon=True).start()
    return True
