"""Where `testbed up` records the engine it left running, so later commands find it."""

from __future__ import annotations

import os
from pathlib import Path

from infra.engine.embedded import EmbeddedEngine, EngineRecord
from infra.settings import Settings


def state_dir() -> Path:
    """$TESTBED_STATE_DIR, else $XDG_STATE_HOME/testbed, else ~/.local/state/testbed."""
    if explicit := os.environ.get("TESTBED_STATE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "testbed"


def record_path() -> Path:
    return state_dir() / "engine.json"


def running_engine(settings: Settings | None = None) -> EmbeddedEngine | None:
    """The embedded engine `testbed up` started, if it is still healthy."""
    record = EngineRecord.load(record_path())
    if record is None:
        return None
    engine = EmbeddedEngine(settings or Settings(target="embedded", region=record.region), record=record)
    if engine.is_healthy():
        return engine
    return None


def save_running(engine: EmbeddedEngine) -> None:
    assert engine.record is not None
    engine.record.save(record_path())


def forget_running() -> None:
    record_path().unlink(missing_ok=True)


def stale_record() -> EngineRecord | None:
    """A record whose engine no longer answers (crashed, or the machine restarted)."""
    record = EngineRecord.load(record_path())
    if record is None:
        return None
    engine = EmbeddedEngine(Settings(target="embedded"), record=record)
    return None if engine.is_healthy() else record
