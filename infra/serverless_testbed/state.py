"""Where `testbed up` records the engine it left running, so later commands find it.

The record belongs to one project: `<project root>/.testbed/engine.json` (the folder
holds a .gitignore of its own), so `testbed up`, `status` and `down` in a second clone or
another project never see or stop the first one's engine. Outside any project the record
is kept per installation, under $XDG_STATE_HOME. `$TESTBED_STATE_DIR` chooses another
place explicitly. Commands
that start or stop the engine hold a lock on the state directory: two `testbed up` at the
same moment start one engine.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from serverless_testbed import procfs
from serverless_testbed.engine.embedded import SCOPE_VAR, EmbeddedEngine, EngineRecord
from serverless_testbed.errors import EngineError, WaitTimeout
from serverless_testbed.localstack_plugins.scope import ENGINE_ID_VAR
from serverless_testbed.project import ProjectNotFound, find_root
from serverless_testbed.settings import Settings
from serverless_testbed.waiting import wait_for

STATE_DIR_VAR = "TESTBED_STATE_DIR"
# `testbed up` waits for a concurrent up or down to finish: one engine start at most.
LOCK_TIMEOUT = 180.0


def project_root() -> Path | None:
    """The project this `testbed` runs in (serverless_testbed.project), None outside any."""
    try:
        return find_root()
    except ProjectNotFound:
        return None


def _installation() -> Path:
    return Path(__file__).resolve().parent


def state_dir() -> Path:
    """$TESTBED_STATE_DIR, else <project root>/.testbed; outside any project, a directory
    under $XDG_STATE_HOME (or ~/.local/state) named for this installation."""
    if explicit := os.environ.get(STATE_DIR_VAR):
        return Path(explicit)
    root = project_root()
    if root is not None:
        return root / ".testbed"
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "testbed" / hashlib.sha256(str(_installation()).encode()).hexdigest()[:16]


def scope() -> str:
    """Whose engine the record is, in words, for `testbed status`."""
    if explicit := os.environ.get(STATE_DIR_VAR):
        return f"${STATE_DIR_VAR} ({explicit})"
    root = project_root()
    return f"this project ({root})" if root is not None else f"this installation ({_installation()})"


def _make_state_dir(path: Path) -> None:
    """Create the state folder; one inside a project ignores itself for git, as .pytest_cache does
    (best effort: a full disk must not stop `down`)."""
    path.mkdir(parents=True, exist_ok=True)
    if path.name == ".testbed" and not os.environ.get(STATE_DIR_VAR):
        ignore = path / ".gitignore"
        if not ignore.exists():
            with contextlib.suppress(OSError):
                ignore.write_text("# Written by testbed: the engine record of this project.\n*\n")


def scope_marker() -> str:
    """What an engine `testbed up` starts carries in its environment (SCOPE_VAR): this scope's
    state folder, so the engine is found again when its record is lost or unreadable."""
    return str(state_dir().resolve())


def orphans(except_engine: str | None = None) -> list[EngineRecord]:
    """Engines of this scope running without a (readable) record: their supervisors, found by
    the scope marker in their environment, rebuilt as records from /proc."""
    marker = f"{SCOPE_VAR}={scope_marker()}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        environ = procfs.environment(int(entry))
        if environ is None or marker not in environ:
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            root = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if b"serverless_testbed.engine.supervisor" not in cmdline:
            continue
        variables = dict(item.decode(errors="replace").split("=", 1) for item in environ if b"=" in item)
        engine_id = variables.get(ENGINE_ID_VAR, "")
        if not engine_id or engine_id == except_engine:
            continue
        port = variables.get("GATEWAY_LISTEN", ":0").rsplit(":", 1)[-1]
        started = procfs.start_time(int(entry)) or 0
        region = variables.get("AWS_DEFAULT_REGION", "us-east-1")
        found.append(EngineRecord(engine_id, int(entry), int(port) if port.isdigit() else 0, root, region, started))
    return found


def record_path() -> Path:
    return state_dir() / "engine.json"


def legacy_record_path() -> Path:
    """Where versions before per-checkout records kept one record for every checkout."""
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "testbed" / "engine.json"


@contextmanager
def state_lock(timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the state directory's lock: one `testbed up` or `down` at a time per scope."""
    path = state_dir() / "lock"
    _make_state_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:

        def locked() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        try:
            wait_for(locked, timeout=timeout, max_interval=0.25, what=f"the lock {path} (another testbed up or down)")
        except WaitTimeout as err:
            raise EngineError(str(err)) from err
        yield
    finally:
        os.close(fd)  # closing releases the lock


@dataclass(frozen=True)
class RecordedEngine:
    """The recorded engine and what became of it.

    state: "up" (answers), "not-answering" (its supervisor runs, the gateway does not
    answer), "crashed" (its supervisor ended by itself; the log is kept), "gone" (neither
    its process nor its directory exists: the machine restarted, or the record is foreign).
    """

    record: EngineRecord
    state: str
    engine: EmbeddedEngine

    def describe(self) -> str:
        """One line for the user: what happened to the engine and where its log is."""
        record = self.record
        if self.state == "up":
            return f"engine {record.engine_id} is up at {record.endpoint_url}"
        if self.state == "not-answering":
            return (
                f"engine {record.engine_id} is running (pid {record.pid}) but does not answer at "
                f"{record.endpoint_url}; log: {record.log_path}"
            )
        if self.state == "crashed":
            reason = record.exit_reason() or "its supervisor ended without saying why"
            return f"engine {record.engine_id} crashed: {reason}; log: {record.log_path}"
        return (
            f"engine {record.engine_id} recorded in {record_path()} is gone "
            f"(pid {record.pid} is not its supervisor and {record.root} is not its directory)"
        )


def recorded_engine(settings: Settings | None = None) -> RecordedEngine | None:
    """The engine the record names, with its state; None when nothing is recorded;
    RecordUnreadable when the record cannot be used."""
    record = EngineRecord.load(record_path())
    if record is None:
        return None
    engine = EmbeddedEngine(settings or Settings(target="embedded", region=record.region), record=record)
    if record.supervisor_is_ours():
        state = "up" if engine.is_healthy() else "not-answering"
    elif record.root_is_ours():
        state = "crashed"
    else:
        state = "gone"
    return RecordedEngine(record, state, engine)


def running_engine(settings: Settings | None = None) -> EmbeddedEngine | None:
    """The embedded engine `testbed up` started, if it is still healthy."""
    found = recorded_engine(settings)
    return found.engine if found is not None and found.state == "up" else None


def save_running(engine: EmbeddedEngine) -> None:
    assert engine.record is not None
    engine.record.save(record_path())


def forget_running() -> None:
    record_path().unlink(missing_ok=True)
