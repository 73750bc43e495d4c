"""The embedded engine's lifecycle: CLI up/env/down, no orphans, no second download, and
the engine touches only what is its own (its checkout's record, its verified processes and
directory, one engine per `up`, a port it really holds, nothing left after a crash).

Each test starts its own engines (not the session's), so these run on the embedded
target only.
"""

from __future__ import annotations

import json
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serverless_testbed import procfs
from serverless_testbed.engine.embedded import (
    ENGINE_ID_VAR,
    EmbeddedEngine,
    EngineRecord,
    PortInUse,
    engine_processes,
    free_port,
    shared_lib_dir,
)
from serverless_testbed.errors import EngineError, EngineNotUp
from serverless_testbed.packaging import zip_files
from serverless_testbed.settings import Settings
from serverless_testbed.waiting import wait_for

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
# Engines stop within the supervisor's grace period (8 s) plus LocalStack's shutdown.
GONE_TIMEOUT = 30.0


@pytest.fixture(autouse=True)
def embedded_only(settings: Settings) -> None:
    if settings.target != "embedded":
        pytest.skip(f"lifecycle tests start their own embedded engines; target is {settings.target}")


def clean_environment(tmp_path: Path) -> dict[str, str]:
    """The caller's environment without AWS or testbed settings, with a private state dir."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "TESTBED_", "LOCALSTACK_"))}
    env["TESTBED_STATE_DIR"] = str(tmp_path / "state")
    # No profile of the person running the tests may answer instead of the engine.
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-aws-config")
    # Long paths stay on one line in the CLI's output.
    env["COLUMNS"] = "500"
    return env


def cli(
    command: list[str], env: dict[str, str], cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command to its end, whatever its exit code."""
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def run(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    result = cli(command, env, cwd)
    assert result.returncode == 0, f"{shlex.join(command)} failed:\n{result.stdout}{result.stderr}"
    return result


def parse_exports(text: str) -> dict[str, str]:
    """`export KEY=value` lines, as a shell's eval would read them."""
    exports = {}
    for line in text.splitlines():
        words = shlex.split(line)
        assert words[0] == "export", line
        key, _, value = words[1].partition("=")
        exports[key] = value
    return exports


def no_processes_left(record: EngineRecord | dict[str, Any]) -> None:
    engine_id, root = (
        (record.engine_id, record.root) if isinstance(record, EngineRecord) else (record["engine_id"], record["root"])
    )
    wait_for(
        lambda: not engine_processes(engine_id, root),
        timeout=GONE_TIMEOUT,
        what=f"every process of engine {engine_id} to exit",
    )


def kill_leftovers(engine_id: str, root: str) -> None:
    """After a failed test: leave nothing of that engine behind."""
    for pid in engine_processes(engine_id, root):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    shutil.rmtree(root, ignore_errors=True)


def test_cli_up_env_aws_cli_down(tmp_path: Path):
    testbed, aws = BIN / "testbed", BIN / "aws"
    if not (testbed.exists() and aws.exists()):
        pytest.skip(f"testbed and aws must be installed next to {sys.executable}")
    env = clean_environment(tmp_path)
    run([str(testbed), "up"], env)
    record = EngineRecord.load(tmp_path / "state" / "engine.json")
    assert record is not None, "testbed up recorded no engine"
    down = False
    try:
        exports = parse_exports(run([str(testbed), "env"], env).stdout)
        assert exports["AWS_ENDPOINT_URL"] == record.endpoint_url
        assert {"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= exports.keys()

        listed = run(
            [str(aws), "stepfunctions", "list-state-machines", "--output", "json"],
            {**env, **exports},
        )
        assert "stateMachines" in json.loads(listed.stdout)

        run([str(testbed), "down"], env)
        down = True
        assert not (tmp_path / "state" / "engine.json").exists()
        assert engine_processes(record.engine_id, record.root) == []
        assert not Path(record.root).exists()
    finally:
        if not down:
            kill_leftovers(record.engine_id, record.root)


CHILD = """
import json, sys
from serverless_testbed.engine.embedded import EmbeddedEngine
from serverless_testbed.packaging import zip_files
from serverless_testbed.waiting import wait_for

engine = EmbeddedEngine().start()
lam = engine.client("lambda")
lam.create_function(
    FunctionName="noop", Runtime="python3.12", Handler="noop.handler",
    Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": zip_files(
        {"noop.py": "def handler(event, context):\\n    return 1\\n"})},
)
wait_for(
    lambda: lam.get_function_configuration(FunctionName="noop")["State"] == "Active",
    timeout=60, what="function noop to be Active",
)
lam.invoke(FunctionName="noop")  # a Lambda worker is running now
record = engine.record
print(json.dumps({"engine_id": record.engine_id, "root": record.root}), flush=True)
sys.stdin.read()  # hold the engine until killed
"""


@pytest.fixture
def child_engine() -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """A python process that started an engine (with a warm Lambda worker), and its record."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    ready, _, _ = select.select([child.stdout], [], [], 120)
    line = child.stdout.readline() if ready else ""
    if not line:
        child.kill()
        pytest.fail(f"the child did not start an engine:\n{child.stderr.read()[-3000:]}")
    record: dict[str, Any] = json.loads(line)
    yield child, record
    child.kill()
    child.wait()
    kill_leftovers(record["engine_id"], record["root"])


def test_killing_the_parent_leaves_no_engine_process(
    child_engine: tuple[subprocess.Popen[str], dict[str, Any]],
):
    child, record = child_engine
    running = engine_processes(record["engine_id"], record["root"])
    # supervisor, LocalStack, at least one Lambda worker and the standby interpreter
    assert len(running) >= 4, running
    standby = str(Path(record["root"]) / "tmp").encode()
    commands = [Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for pid in running]
    assert [argv for argv in commands if argv[-2:] == [standby, b""]], f"no standby worker among {commands}"

    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)

    no_processes_left(record)
    # Nobody is left to remove the engine's directory but the supervisor itself.
    wait_for(
        lambda: not Path(record["root"]).exists(),
        timeout=GONE_TIMEOUT,
        what=f"{record['root']} to be removed",
    )


def kinesis_markers() -> list[Path]:
    """The file LocalStack checks to decide that kinesis-local is installed."""
    return list(shared_lib_dir().glob("kinesis-local/*/node_modules/kinesis-local/main.js"))


def use_kinesis(engine: EmbeddedEngine) -> None:
    kinesis = engine.client("kinesis")
    kinesis.create_stream(StreamName="lifecycle", ShardCount=1)

    def active() -> bool:
        summary = kinesis.describe_stream_summary(StreamName="lifecycle")
        return bool(summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE")

    wait_for(active, timeout=60, interval=0.1, what="Kinesis stream lifecycle to be ACTIVE")


def test_a_second_engine_does_not_install_kinesis_again():
    if not kinesis_markers():
        # First use on this machine: one engine installs kinesis-local into the shared dir.
        with EmbeddedEngine() as first:
            use_kinesis(first)
        assert kinesis_markers(), f"kinesis-local was not installed under {shared_lib_dir()}"
    marker = kinesis_markers()[0]
    installed_at = marker.stat().st_mtime_ns

    with EmbeddedEngine() as second:
        use_kinesis(second)
        assert second.record is not None
        npm_home = Path(second.record.root) / "home" / ".npm"
        log = second.log_path.read_text(errors="replace")

    assert not npm_home.exists(), "npm ran in the second engine"
    assert "npm install" not in log
    assert "Installation of" not in log
    assert marker.stat().st_mtime_ns == installed_at


# The engine touches only what is its own.

TESTBED = [sys.executable, "-m", "serverless_testbed.cli"]


def background(command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """A command started and left running; its output (stdout and stderr) on .stdout."""
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def engines_started_by(pids: list[int]) -> list[tuple[str, str]]:
    """(engine id, directory) of every live engine supervisor that one of `pids` started."""
    found = []
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        try:
            environ = dict(
                item.split("=", 1)
                for item in Path(f"/proc/{pid}/environ").read_text(errors="replace").split("\0")
                if "=" in item
            )
            cmdline = Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        started_by_them = environ.get("TESTBED_PARENT_PID") in {str(p) for p in pids}
        if "serverless_testbed.engine.supervisor" in cmdline and started_by_them and procfs.is_running(pid):
            found.append((environ[ENGINE_ID_VAR], cwd))
    return found


def recorded(tmp_path: Path) -> EngineRecord | None:
    return EngineRecord.load(tmp_path / "state" / "engine.json")


def copy_checkout(where: Path) -> Path:
    """A second clone, as far as the CLI can tell: the project's code in another folder."""
    ignore = shutil.ignore_patterns("__pycache__", ".testbed")
    for folder in ("infra", "asl", "src", "fixtures"):
        shutil.copytree(ROOT / folder, where / folder, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", where / "pyproject.toml")
    return where


def test_each_checkout_has_its_own_engine_record(tmp_path: Path):
    first, second = copy_checkout(tmp_path / "first"), copy_checkout(tmp_path / "second")
    env = clean_environment(tmp_path)
    del env["TESTBED_STATE_DIR"]  # the default: the checkout's own record
    run([*TESTBED, "up"], env, cwd=first)
    record = EngineRecord.load(first / ".testbed" / "engine.json")
    assert record is not None, "testbed up recorded no engine in the checkout"
    try:
        status = cli([*TESTBED, "status"], env, cwd=second)
        assert status.returncode == EngineNotUp.exit_code, status.stdout
        assert "no engine is up" in status.stdout
        assert str(second) in status.stdout, "status does not name its scope"
        down = run([*TESTBED, "down"], env, cwd=second)
        assert "nothing is up" in down.stdout
        assert EmbeddedEngine(record=record).is_healthy(), "down in another checkout stopped the engine"

        status = run([*TESTBED, "status"], env, cwd=first)
        assert record.endpoint_url in status.stdout
        assert f"this project ({first})" in status.stdout
        run([*TESTBED, "down"], env, cwd=first)
        no_processes_left(record)
        assert not Path(record.root).exists()
    finally:
        kill_leftovers(record.engine_id, record.root)


def test_a_record_naming_an_unrelated_process_touches_nothing(tmp_path: Path):
    env = clean_environment(tmp_path)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data").write_text("keep me")
    unrelated = subprocess.Popen(["sleep", "300"])
    state = tmp_path / "state" / "engine.json"
    state.parent.mkdir()
    forged = {"engine_id": "0123456789ab", "pid": unrelated.pid, "port": free_port(), "root": str(precious)}
    new_record = None
    try:
        # As a record of an earlier version: no start time, only the pid.
        state.write_text(json.dumps({**forged, "region": "us-east-1"}))
        down = run([*TESTBED, "down"], env)
        assert "nothing stopped or removed" in down.stdout
        assert unrelated.poll() is None, "down signalled an unrelated process"
        assert (precious / "data").read_text() == "keep me"
        assert not state.exists()

        # Even with the right start time: the process is not an engine supervisor.
        started = procfs.start_time(unrelated.pid)
        state.write_text(json.dumps({**forged, "region": "us-east-1", "started": started}))
        up = run([*TESTBED, "up"], env)
        new_record = recorded(tmp_path)
        assert new_record is not None
        assert new_record.engine_id != forged["engine_id"], up.stdout
        assert unrelated.poll() is None, "up signalled an unrelated process"
        assert (precious / "data").read_text() == "keep me"
        run([*TESTBED, "down"], env)
        no_processes_left(new_record)
    finally:
        unrelated.kill()
        unrelated.wait()
        if new_record is not None:
            kill_leftovers(new_record.engine_id, new_record.root)


def test_two_ups_at_once_start_one_engine(tmp_path: Path):
    env = clean_environment(tmp_path)
    ups = [
        subprocess.Popen(
            [*TESTBED, "up"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [up.communicate(timeout=240)[0] for up in ups]
    started = engines_started_by([up.pid for up in ups])
    try:
        assert [up.returncode for up in ups] == [0, 0], outputs
        assert len(started) == 1, f"expected one engine, found {started}:\n{outputs}"
        assert sorted("already up" in output for output in outputs) == [False, True], outputs
        record = recorded(tmp_path)
        assert record is not None
        assert record.engine_id == started[0][0]
        run([*TESTBED, "down"], env)
        no_processes_left(record)
    finally:
        for engine_id, root in started:
            kill_leftovers(engine_id, root)


def test_a_port_in_use_is_reported_as_such(tmp_path: Path):
    env = clean_environment(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        up = subprocess.Popen(
            [*TESTBED, "up", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output = up.communicate(timeout=120)[0]
    assert up.returncode == EngineError.exit_code, output
    assert f"port {port} is in use" in output
    assert "Traceback" not in output
    assert recorded(tmp_path) is None
    assert engines_started_by([up.pid]) == []


def test_a_port_held_by_another_engine_is_in_use():
    # The session's own engine (other tests of this session use it) is started by this process too.
    before = {engine_id for engine_id, _ in engines_started_by([os.getpid()])}
    with EmbeddedEngine() as first:
        assert first.record is not None
        second = EmbeddedEngine(port=first.record.port)
        with pytest.raises(PortInUse, match=f"port {first.record.port} is in use"):
            second.start()
        assert second.record is None
        started = {engine_id for engine_id, _ in engines_started_by([os.getpid()])} - before
        assert started == {first.record.engine_id}, "the failed start left an engine running"
        assert first.is_healthy(), "the failed start disturbed the engine that holds the port"


def localstack_of(record: EngineRecord) -> int:
    """The LocalStack process: the engine supervisor's only child."""
    children = procfs.children(record.pid)
    assert len(children) == 1, f"expected LocalStack alone under supervisor {record.pid}, found {children}"
    return children[0]


def warm_function(engine: EmbeddedEngine) -> None:
    """A function with a running Lambda worker."""
    lam = engine.client("lambda")
    lam.create_function(
        FunctionName="noop",
        Runtime="python3.12",
        Handler="noop.handler",
        Role="arn:aws:iam::000000000000:role/lambda",
        Code={"ZipFile": zip_files({"noop.py": "def handler(event, context):\n    return 1\n"})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="noop")
    lam.invoke(FunctionName="noop")


def test_killing_localstack_leaves_no_process_and_status_says_crashed(tmp_path: Path):
    env = clean_environment(tmp_path)
    run([*TESTBED, "up"], env)
    record = recorded(tmp_path)
    assert record is not None
    try:
        engine = EmbeddedEngine(record=record)
        use_kinesis(engine)  # kinesis-mock runs in a session of its own
        warm_function(engine)
        running = engine_processes(record.engine_id, record.root)
        assert len(running) >= 4, f"expected supervisor, LocalStack, kinesis-mock and a worker: {running}"

        os.kill(localstack_of(record), signal.SIGKILL)
        no_processes_left(record)

        status = cli([*TESTBED, "status"], env)
        assert status.returncode == EngineNotUp.exit_code
        assert f"engine {record.engine_id} crashed" in status.stdout
        assert "killed by signal KILL" in status.stdout
        assert str(record.log_path) in status.stdout
        deploy = cli([*TESTBED, "deploy", "-w", "orders"], env, timeout=60)
        assert deploy.returncode == EngineNotUp.exit_code
        assert f"engine {record.engine_id} crashed" in deploy.stderr
        assert "Traceback" not in deploy.stdout + deploy.stderr

        run([*TESTBED, "down"], env)
        assert recorded(tmp_path) is None
        assert not Path(record.root).exists()
    finally:
        kill_leftovers(record.engine_id, record.root)


def test_a_run_ends_when_the_engine_dies_under_it(tmp_path: Path):
    env = clean_environment(tmp_path)
    run([*TESTBED, "up"], env)
    record = recorded(tmp_path)
    assert record is not None
    command = [*TESTBED, "run", "sales", "--records", "20000"]
    ingest = background(command, env)
    try:
        # The sales file is uploaded: the run is waiting on the engine from now on.
        wait_for(
            lambda: "AWS s3.PutObject" in record.log_path.read_text(errors="replace"),
            timeout=120,
            what="the run to upload its sales file",
        )
        os.kill(localstack_of(record), signal.SIGKILL)
        # Bounded well below the run's own waits (300 s): the run must not wait them out.
        output = ingest.communicate(timeout=60)[0]
        assert ingest.returncode == EngineNotUp.exit_code, output
        assert "the engine stopped while this command ran" in output
        assert f"engine {record.engine_id} crashed" in output
        assert "Traceback" not in output
        no_processes_left(record)
    finally:
        ingest.kill()
        ingest.wait()
        run([*TESTBED, "down"], env)
        kill_leftovers(record.engine_id, record.root)
