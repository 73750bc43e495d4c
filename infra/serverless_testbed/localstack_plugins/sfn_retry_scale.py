"""TESTBED_SFN_RETRY_SCALE: Step Functions Retry intervals, scaled for a fast edit-test loop.

Off by default: an engine waits out every Retry interval as AWS does (IntervalSeconds,
times BackoffRate per attempt, up to MaxDelaySeconds). A test of a retry path then waits
that long for real: the customer-orders fault tests wait 1 + 2 + 4 s twice. With
`TESTBED_SFN_RETRY_SCALE=0.01` the engine waits a hundredth of each interval; the attempts,
their order, the errors and the Catch that follows are unchanged. Only the clock is
faster, so the histories' timestamps show the shorter waits. Wait states keep real time.

`make test` runs with real intervals. A session reuses a `testbed up` engine only when
both have the same scale (infra/serverless_testbed/engine/reuse.py).

Standard library only: the engine's host side reads the setting without importing LocalStack;
the engine installs it from an on_infra_start hook (sfn_retry_hook.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

RETRY_SCALE_VAR = "TESTBED_SFN_RETRY_SCALE"


def retry_scale(environ: Mapping[str, str] | None = None) -> float:
    """The factor from TESTBED_SFN_RETRY_SCALE: 1 when unset; a number in (0, 1] else refused,
    naming the variable."""
    value = ((os.environ if environ is None else environ).get(RETRY_SCALE_VAR) or "").strip()
    if not value:
        return 1.0
    try:
        scale = float(value)
    except ValueError:
        scale = 0.0  # refused below
    if not 0 < scale <= 1:  # NaN included
        from serverless_testbed.errors import BadInput

        raise BadInput(f"{RETRY_SCALE_VAR}={value!r} is not a factor between 0 (excluded) and 1")
    return scale


class ScaledSleep:
    """Stands in for the `time` module of LocalStack's retrier: `sleep` waits `scale` of the time."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * self.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def install() -> None:
    """Inside the engine (sfn_retry_hook.py): the retrier waits `retry_scale()` of each
    interval; nothing changes at the default of 1."""
    scale = retry_scale()
    if scale == 1:
        return
    from localstack.services.stepfunctions.asl.component.common.retry import retrier_decl

    retrier_decl.time = ScaledSleep(scale)
