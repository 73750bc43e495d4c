"""The engine record: scoped to the checkout, trusted only as far as /proc confirms it.

Real processes (`sleep`) stand in for a reused pid; no engine is started here.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serverless_testbed import procfs, state
from serverless_testbed.engine.embedded import ENGINE_ID_VAR, ID_FILE, EngineRecord, RecordUnreadable
from serverless_testbed.engine.supervisor import exit_reason
from serverless_testbed.waiting import wait_for


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process that carries an engine id in its environment."""
    process = subprocess.Popen(["sleep", "300"], env={**os.environ, ENGINE_ID_VAR: "e1"})
    yield process
    process.kill()
    process.wait()


def record(pid: int, root: Path, started: int = 0, engine_id: str = "e1") -> EngineRecord:
    return EngineRecord(engine_id, pid, 4566, str(root), "us-east-1", started)


def test_state_dir_is_the_checkouts_own(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(state.STATE_DIR_VAR, raising=False)
    checkout = Path(__file__).resolve().parents[2]
    assert state.state_dir() == checkout / ".testbed"
    assert str(checkout) in state.scope()
    assert ".testbed/" in (checkout / ".gitignore").read_text().splitlines()


def test_explicit_state_dir_wins_and_is_named_in_the_scope(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv(state.STATE_DIR_VAR, str(tmp_path))
    assert state.record_path() == tmp_path / "engine.json"
    assert str(tmp_path) in state.scope()


def test_start_time_names_one_process(sleeper: subprocess.Popen[bytes]):
    started = procfs.start_time(sleeper.pid)
    assert started is not None
    assert started > 0
    assert procfs.start_time(sleeper.pid) == started
    sleeper.kill()
    sleeper.wait()
    assert procfs.start_time(sleeper.pid) is None


def test_a_zombie_is_not_running(sleeper: subprocess.Popen[bytes]):
    os.kill(sleeper.pid, signal.SIGKILL)
    # Not reaped yet: the pid exists as a zombie until wait().
    os.waitid(os.P_PID, sleeper.pid, os.WEXITED | os.WNOWAIT)
    assert not procfs.is_running(sleeper.pid)


def test_supervisor_identity_needs_start_time_and_engine_id(sleeper: subprocess.Popen[bytes], tmp_path: Path):
    started = procfs.start_time(sleeper.pid)
    assert started is not None
    assert record(sleeper.pid, tmp_path, started).supervisor_is_ours()
    assert not record(sleeper.pid, tmp_path, started - 1).supervisor_is_ours(), "a reused pid passed"
    assert not record(sleeper.pid, tmp_path, started, engine_id="e2").supervisor_is_ours()
    assert not record(os.getpid(), tmp_path).supervisor_is_ours(), "a process without the engine id passed"


def test_a_directory_is_the_engines_only_when_named_for_it_and_holding_its_id(tmp_path: Path):
    root = tmp_path / "testbed-e1-abc"
    root.mkdir()
    assert not record(1, root).root_is_ours(), "no id file"
    (root / ID_FILE).write_text("e1")
    assert record(1, root).root_is_ours()
    assert not record(1, root, engine_id="e2").root_is_ours()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / ID_FILE).write_text("e1")
    assert not record(1, precious).root_is_ours(), "a directory not named for the engine passed"
    link = tmp_path / "testbed-e1-link"
    link.symlink_to(root)
    assert not record(1, link).root_is_ours(), "a symlink passed"


def test_listening_sockets_are_found_with_their_owner():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert procfs.port_listeners_among(port, [os.getpid()]) == (True, True)
        assert procfs.port_listeners_among(port, [1]) == (True, False)
    assert procfs.port_listeners_among(port, [os.getpid()]) == (False, False)


def test_descendants_reach_grandchildren():
    child = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; subprocess.run(['sleep', '300']); sys.exit()"],
    )
    try:
        grandchildren = wait_for(
            lambda: procfs.descendants(child.pid),
            timeout=10,
            what=f"a child of {child.pid}",
        )
        assert set(procfs.descendants(os.getpid())) >= {child.pid, *grandchildren}
    finally:
        for pid in procfs.descendants(child.pid):
            os.kill(pid, signal.SIGKILL)
        child.wait()


def test_the_record_is_written_whole(tmp_path: Path):
    path = tmp_path / "state" / "engine.json"
    first = record(10, tmp_path, 5)
    first.save(path)
    assert EngineRecord.load(path) == first
    assert [p.name for p in path.parent.iterdir()] == ["engine.json"]


def test_exit_reasons_say_who_ended_localstack():
    assert exit_reason(-9, requested=False) == "LocalStack was killed by signal KILL unexpectedly (the engine crashed)"
    assert exit_reason(0, requested=True) == "LocalStack exited with code 0 after a stop request"


def test_an_earlier_versions_directory_is_confirmed_by_its_supervisors_working_directory(tmp_path: Path):
    root = tmp_path / "testbed-e1-old"
    root.mkdir()
    process = subprocess.Popen(["sleep", "300"], cwd=root, env={**os.environ, ENGINE_ID_VAR: "e1"})
    try:
        assert record(process.pid, root).root_is_ours()
        assert not record(process.pid, root, engine_id="e2").root_is_ours()
    finally:
        process.kill()
        process.wait()
    assert not record(process.pid, root).root_is_ours(), "a directory with no live supervisor passed"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "is empty"),
        (b"  \n", "is empty"),
        (b'{"engine_id": "1a', "is not whole JSON"),
        (b"\xff\xfe\x00\x81", "is not UTF-8 text"),
        (b'["a", "list"]', "is not an engine record"),
        (b'{"engine_id": "e", "pid": "12", "port": 1, "root": "/r", "region": "r"}', "of the wrong type"),
    ],
)
def test_a_record_that_cannot_be_used_says_what_is_wrong_and_what_to_do(tmp_path: Path, content: bytes, says: str):
    path = tmp_path / "engine.json"
    path.write_bytes(content)
    with pytest.raises(RecordUnreadable, match=says) as err:
        EngineRecord.load(path)
    assert str(path) in str(err.value)
    assert "`testbed down` stops this project's engine" in str(err.value)
    assert "\n" not in str(err.value)
    assert EngineRecord.load(tmp_path / "absent.json") is None


def test_a_session_does_not_reuse_an_engine_whose_record_is_unreadable(tmp_path: Path, monkeypatch):
    from serverless_testbed.engine.reuse import reuse_running_engine
    from serverless_testbed.settings import Settings

    monkeypatch.setenv("TESTBED_STATE_DIR", str(tmp_path))
    (tmp_path / "engine.json").write_bytes(b"\xff")
    reused, why = reuse_running_engine(Settings(target="embedded"), environ={})
    assert reused is None
    assert why.startswith(f"the engine record {tmp_path / 'engine.json'} is not UTF-8 text")


def test_a_record_that_cannot_be_written_leaves_no_partial_file(tmp_path: Path, monkeypatch):
    path = tmp_path / "state" / "engine.json"

    def full(self: Path, *args: object, **kwargs: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError, match="No space left"):
        record(10, tmp_path, 5).save(path)
    assert list(path.parent.iterdir()) == []
