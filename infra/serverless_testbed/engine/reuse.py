"""A test session on the engine `testbed up` left running, instead of an engine of its own.

The edit-test loop: with `testbed up` running, `pytest tests/integration/orders` starts no
engine and deploys only what changed since the last session. A session reuses the engine
when all of these hold (else it starts its own, and `why` says which one failed):

- the target is `embedded` and neither `--testbed-own-engine` nor TESTBED_OWN_ENGINE=1 asks
  for an engine of its own (`make test` asks: the whole suite runs on a fresh engine);
- this checkout's record names an engine that is up (infra/serverless_testbed/state.py);
- that engine runs in the mode, with the IAM enforcement and the Step Functions Retry scale
  this session would start one with (TESTBED_ENGINE_MODE, TESTBED_IAM_ENFORCE,
  TESTBED_SFN_RETRY_SCALE) and in the session's region.

Isolation: the session takes a slot, a lock file `<state dir>/sessions/slot-N.lock` held
for the whole session; its prefix is `trN`, so two sessions at once never share a
resource. The slot's stacks stay deployed when the session ends: the next session in that
slot deploys again, which changes only what changed (a function whose code changed gets
only its code updated). When a session first deploys a stack, its tables, queues and
buckets are emptied (infra/serverless_testbed/stack/reset.py), so it starts from what a fresh deploy gives.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping
from dataclasses import dataclass

from serverless_testbed import procfs
from serverless_testbed.engine.embedded import EmbeddedEngine
from serverless_testbed.localstack_plugins.iam_mode import IAM_ENFORCE_VAR, iam_enforcement_on
from serverless_testbed.localstack_plugins.scope import ENGINE_MODE_VAR, engine_mode
from serverless_testbed.localstack_plugins.sfn_retry_scale import RETRY_SCALE_VAR, retry_scale
from serverless_testbed.settings import Settings

OWN_ENGINE_VAR = "TESTBED_OWN_ENGINE"
SLOTS = 8


@dataclass
class Reused:
    """The running engine a session uses, and the slot (prefix and held lock) it took."""

    engine: EmbeddedEngine
    prefix: str
    lock_fd: int

    def release(self) -> None:
        """Give the slot back (closing the file releases its lock); the engine keeps running."""
        os.close(self.lock_fd)


def wants_own_engine(environ: Mapping[str, str]) -> bool:
    return (environ.get(OWN_ENGINE_VAR) or "").strip().lower() in ("1", "true", "yes")


def mismatch(engine: EmbeddedEngine, settings: Settings, environ: Mapping[str, str]) -> str | None:
    """Why the running engine is not the one this session would start, or None."""
    record = engine.record
    assert record is not None
    mode = engine_mode(environ)
    enforce = "1" if iam_enforcement_on(environ) and mode == "full" else "0"
    if not procfs.has_variable(record.pid, ENGINE_MODE_VAR, mode):
        return f"it does not run in {ENGINE_MODE_VAR}={mode}"
    if not procfs.has_variable(record.pid, IAM_ENFORCE_VAR, enforce):
        return f"its IAM enforcement is not {IAM_ENFORCE_VAR}={enforce}"
    scale = f"{retry_scale(environ):g}"
    if not procfs.has_variable(record.pid, RETRY_SCALE_VAR, scale):
        return f"its Step Functions Retry intervals are not scaled by {RETRY_SCALE_VAR}={scale}"
    if record.region != settings.region:
        return f"it runs in {record.region}, the session in {settings.region}"
    return None


def take_slot(sessions_dir: str) -> tuple[int, int] | None:
    """(slot number, held lock fd) of the first free slot, or None when all are taken."""
    os.makedirs(sessions_dir, exist_ok=True)
    for slot in range(SLOTS):
        fd = os.open(os.path.join(sessions_dir, f"slot-{slot}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return slot, fd
    return None


def reuse_running_engine(
    settings: Settings, own_engine: bool = False, environ: Mapping[str, str] | None = None
) -> tuple[Reused | None, str]:
    """The running engine with a slot taken, or None; and one line saying why."""
    from serverless_testbed.engine.embedded import RecordUnreadable
    from serverless_testbed.state import recorded_engine, state_dir

    environ = os.environ if environ is None else environ
    if settings.target != "embedded":
        return None, f"target {settings.target}"
    if own_engine or wants_own_engine(environ):
        return None, f"an engine of its own was asked for (--testbed-own-engine or {OWN_ENGINE_VAR}=1)"
    try:
        found = recorded_engine(Settings(target="embedded", region=settings.region))
    except RecordUnreadable as err:  # the session starts its own engine; the line says why
        return None, str(err)
    if found is None or found.state != "up":
        return None, "no engine from `testbed up` is running" if found is None else found.describe()
    if reason := mismatch(found.engine, settings, environ):
        return None, f"the running engine {found.record.engine_id} is not reused: {reason}"
    slot = take_slot(str(state_dir() / "sessions"))
    if slot is None:
        return None, f"all {SLOTS} session slots of the running engine are taken"
    number, fd = slot
    prefix = f"tr{number}"
    why = f"reusing engine {found.record.engine_id} at {found.record.endpoint_url}, slot {number} (prefix {prefix})"
    return Reused(found.engine, prefix, fd), why
