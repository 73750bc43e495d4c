"""Bounded polling: the only way the testbed waits for anything."""

import time
from collections.abc import Callable
from typing import TypeVar

from serverless_testbed.errors import WaitTimeout

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.05,
    max_interval: float = 1.0,
    what: str = "condition",
) -> T:
    """Call `probe` until it returns a truthy value and return that value.

    Exceptions raised by the probe count as "not yet" and are kept as the last state
    seen. Raises WaitTimeout after `timeout` seconds, naming `what` was awaited and the
    last value or exception seen. The interval grows by half each round up to
    `max_interval`, so quick conditions are seen quickly and slow ones cost little.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except Exception as err:  # noqa: BLE001 - "not ready yet" may be any error
            last = f"{type(err).__name__}: {err}"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"timed out after {timeout:.1f} s waiting for {what}; last seen: {last!r}")
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, max_interval)
