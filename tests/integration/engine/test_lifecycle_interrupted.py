"""The engine's lifecycle when things go wrong: `testbed up` interrupted (Ctrl-C, SIGTERM) at
several points, a full disk under its record, a record that is empty, cut short or not
text, an engine whose record was lost. Whatever happens, an engine is recorded or stopped,
every command says what is wrong in one line, and `testbed down` stops the project's engine.

(The happy paths are in test_lifecycle.py; its helpers are used here.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from serverless_testbed.engine.embedded import SCOPE_VAR
from serverless_testbed.errors import EngineError, EngineNotUp
from serverless_testbed.waiting import wait_for

from tests.integration.engine.test_lifecycle import GONE_TIMEOUT, ROOT, TESTBED, clean_environment, cli

# As the console script runs it (serverless_testbed/__main__.py: Ctrl-C while loading exits 130).
TESTBED_MAIN = [sys.executable, "-m", "serverless_testbed"]
# The command run with Ctrl-C's default action (a background job of a shell ignores SIGINT).
WITH_DEFAULT_SIGINT = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])",
]


@pytest.fixture(autouse=True)
def embedded_only(settings) -> None:
    if settings.target != "embedded":
        pytest.skip(f"lifecycle tests start their own embedded engines; target is {settings.target}")


def scoped_engines(state: Path) -> list[int]:
    """Pids of live engine supervisors that belong to the state folder `state` (its scope marker)."""
    marker = f"{SCOPE_VAR}={state.resolve()}".encode()
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if marker in environ and b"serverless_testbed.engine.supervisor" in cmdline:
            found.append(int(entry))
    return found


def engine_folders(engine_ids: set[str]) -> list[Path]:
    tmp = Path(os.environ.get("TMPDIR") or "/tmp")
    return [path for path in tmp.glob("testbed-*") if path.name.split("-")[1] in engine_ids]


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, saw:\n{result.stderr}"
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = clean_environment(tmp_path)
    yield environment
    state = Path(environment["TESTBED_STATE_DIR"])
    cli([*TESTBED, "down"], environment)  # whatever a failed test left
    assert scoped_engines(state) == [], "an engine of this test is still running after `testbed down`"


def record_of(env: dict[str, str]) -> Path:
    return Path(env["TESTBED_STATE_DIR"]) / "engine.json"


WHEN: dict[str, Callable[[subprocess.Popen[str], dict[str, str]], object]] = {
    # Python is still loading the command line.
    "while loading": lambda process, env: True,
    # The supervisor exists; the record may not be written yet.
    "once the engine exists": lambda process, env: scoped_engines(Path(env["TESTBED_STATE_DIR"])),
    # Written, LocalStack not yet answering.
    "once its record is written": lambda process, env: record_of(env).exists(),
}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
@pytest.mark.parametrize("when", list(WHEN))
def test_up_interrupted_leaves_no_engine_unrecorded(env: dict[str, str], when: str, signum: int):
    state = Path(env["TESTBED_STATE_DIR"])
    process = subprocess.Popen(
        [*WITH_DEFAULT_SIGINT, *TESTBED_MAIN, "up"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: WHEN[when](process, env) or process.poll() is not None,
            timeout=60,
            interval=0.005,
            max_interval=0.005,
            what=f"`testbed up` to reach the point {when!r}",
        )
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    if process.returncode == 0:  # it finished before the signal came: then it is recorded and up
        assert cli([*TESTBED, "status"], env).returncode == 0
        return
    assert "Traceback" not in stderr, stderr
    wait_for(lambda: not scoped_engines(state), timeout=GONE_TIMEOUT, what="no engine of the interrupted up")
    assert not record_of(env).exists(), "a record of an engine that was stopped"
    status = cli([*TESTBED, "status"], env)
    assert "no engine is up" in status.stdout, status.stdout + status.stderr


def test_a_full_disk_under_the_record_stops_the_engine_and_says_so(tmp_path: Path):
    """A 1 MB tmpfs, filled, as the state folder (in a mount namespace of its own)."""
    namespace = next(
        (
            cmd
            for cmd in (["unshare", "-m"], ["unshare", "-Urm"])
            if shutil.which("unshare")
            and subprocess.run([*cmd, "true"], capture_output=True, check=False).returncode == 0
        ),
        None,
    )
    if namespace is None:
        pytest.skip("no mount namespace here (unshare -m and -Urm refused) to make a full disk in")
    full = tmp_path / "full"
    full.mkdir()
    env = clean_environment(tmp_path)
    env["TESTBED_STATE_DIR"] = str(full / "state")
    script = textwrap.dedent(
        f"""\
        mount -t tmpfs -o size=1m tmpfs {full} || exit 99
        dd if=/dev/zero of={full}/fill bs=4k 2>/dev/null
        {" ".join(TESTBED)} up
        echo "exit=$?"
        ls -A {full}/state
        """
    )
    done = subprocess.run(
        [*namespace, "sh", "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    if "exit=" not in done.stdout:
        pytest.skip(f"could not mount a tmpfs in the namespace: {done.stderr.strip()}")
    assert f"exit={EngineError.exit_code}" in done.stdout, done.stdout + done.stderr
    line = one_error_line(done)
    assert "cannot write the engine record" in line
    assert "No space left on device" in line
    assert "the engine was stopped" in line
    assert done.stdout.split("exit=")[1].split()[1:] == ["lock"], f"left in the state folder: {done.stdout}"
    wait_for(lambda: not scoped_engines(full / "state"), timeout=GONE_TIMEOUT, what="no engine left running")


BROKEN = {"empty": b"", "cut short": b'{"engine_id": "1a2b', "not text": b"\xff\xfe\x00garbage\x81"}


@pytest.mark.parametrize("content", list(BROKEN))
def test_a_broken_record_is_one_line_everywhere_and_down_still_stops_the_engine(env: dict[str, str], content: str):
    state = Path(env["TESTBED_STATE_DIR"])
    assert cli([*TESTBED, "up"], env).returncode == 0
    (engine,) = scoped_engines(state)
    record_of(env).write_bytes(BROKEN[content])
    for command in (["status"], ["up"], ["env"], ["faults", "list"]):
        result = cli([*TESTBED, *command], env)
        assert result.returncode == EngineError.exit_code, f"testbed {' '.join(command)}: {result.stderr}"
        line = one_error_line(result)
        assert str(record_of(env)) in line
        assert "`testbed down` stops this project's engine" in line
    assert scoped_engines(state) == [engine], "`up` started a second engine beside the first"
    down = cli([*TESTBED, "down"], env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "it ran without a record" in down.stdout
    assert "removed the unreadable engine record" in down.stdout
    wait_for(lambda: not scoped_engines(state), timeout=GONE_TIMEOUT, what="the engine to stop")
    assert not record_of(env).exists()


def test_an_engine_whose_record_was_lost_is_found_refused_twice_and_stopped(env: dict[str, str]):
    state = Path(env["TESTBED_STATE_DIR"])
    assert cli([*TESTBED, "up"], env).returncode == 0
    (engine,) = scoped_engines(state)
    record_of(env).unlink()
    status = cli([*TESTBED, "status"], env)
    assert status.returncode == EngineNotUp.exit_code
    assert f"(pid {engine}," in status.stdout
    assert "runs without a record; testbed down stops it" in " ".join(status.stdout.split())
    up = cli([*TESTBED, "up"], env)
    assert up.returncode == EngineError.exit_code
    assert "runs without a record" in one_error_line(up)
    assert scoped_engines(state) == [engine], "a second engine started beside the first"
    down = cli([*TESTBED, "down"], env)
    assert down.returncode == 0, down.stderr
    assert "it ran without a record) stopped" in " ".join(down.stdout.split())
    wait_for(lambda: not scoped_engines(state), timeout=GONE_TIMEOUT, what="the engine to stop")
