"""The embedded engine's lifecycle: CLI up/env/down, no orphans, no second download.

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
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.engine.embedded import EmbeddedEngine, EngineRecord, engine_processes, shared_lib_dir
from infra.settings import Settings
from infra.waiting import wait_for

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
    return env


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
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
from infra.engine.embedded import EmbeddedEngine
from infra.packaging import zip_files
from infra.waiting import wait_for

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
    # supervisor, LocalStack and at least one Lambda worker
    assert len(running) >= 3, running

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
