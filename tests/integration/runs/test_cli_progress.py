"""What a person sees of the real `testbed` command: a run on a terminal speaks at once and
its progress moves; a log gets whole lines; deploy says each change once; status sees a
resource that differs from the model.

It starts its own embedded engine with `testbed up` (the CLI's embedded target talks to
the engine recorded by `up`, not the session's), so it runs on the embedded target only.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from serverless_testbed.registry import stack_for, workflows
from serverless_testbed.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
TESTBED = [str(Path(sys.executable).parent / "testbed")]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(autouse=True)
def embedded_only(settings: Settings) -> None:
    if settings.target != "embedded":
        pytest.skip(f"starts its own embedded engine with `testbed up`; target is {settings.target}")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """An environment without AWS or testbed settings, run from a folder of its own (the
    reports go there) on this project, with an engine of its own up."""
    home = tmp_path_factory.mktemp("cli")
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "TESTBED_"))}
    environ |= {
        "TESTBED_STATE_DIR": str(home / "state"),
        "TESTBED_PROJECT_ROOT": str(ROOT),
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-config"),
        "CWD": str(home),
    }
    run_cli(environ, "up")
    try:
        yield environ
    finally:
        run_cli(environ, "down")


def run_cli(env: dict[str, str], *args: str) -> str:
    """Run `testbed ARGS` with its output going to a pipe (not a terminal); its output."""
    done = subprocess.run([*TESTBED, *args], env=env, cwd=env["CWD"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"testbed {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


def on_a_terminal(env: dict[str, str], *args: str, columns: int = 160) -> tuple[list[tuple[float, str]], float, int]:
    """Run `testbed ARGS` on a pseudo-terminal `columns` wide: every piece of output with
    when it came (seconds after the start), when the command ended, and its exit code."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    started = time.monotonic()
    process = subprocess.Popen(
        [*TESTBED, *args],
        # The terminal's size, said the way rich reads it first too: a COLUMNS left in the environment
        # (by the shell, or a test before this one) would otherwise win over the terminal's own.
        env={**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": "50"},
        cwd=env["CWD"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    pieces: list[tuple[float, str]] = []
    deadline = started + 600
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # the other end closed: the command ended
                break
            if not data:
                break
            pieces.append((time.monotonic() - started, data.decode(errors="replace")))
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    return pieces, time.monotonic() - started, code


def test_a_run_on_a_terminal_speaks_at_once_and_its_progress_moves(env: dict[str, str]) -> None:
    prefix = f"t{uuid.uuid4().hex[:6]}"
    pieces, ended, code = on_a_terminal({**env, "TESTBED_PREFIX": prefix}, "run", "sales", "--records", "20000")
    text = ANSI.sub("", "".join(piece for _, piece in pieces))
    assert code == 0, text[-3000:]

    first_at, first = pieces[0]
    assert ANSI.sub("", first).startswith("run sales: 20,000 record(s)"), first
    assert first_at < ended / 2, f"the first output came {first_at:.1f} s into a {ended:.1f} s run"

    # The Distributed Map's batches, as the bar counted them while the execution ran (10,000 records a file).
    counted = [
        (at, int(done)) for at, piece in pieces for done in re.findall(r"(\d+)/40(?![\d,])", ANSI.sub("", piece))
    ]
    summary_at = next(at for at, piece in pieces if "sales (run " in ANSI.sub("", piece))
    moving = sorted({done for at, done in counted if at < summary_at and done < 40})
    assert len(moving) >= 2, f"the batch count did not move while the run went on: {counted}"

    order = [
        text.index("run sales: 20,000 record(s)"),
        text.index(f"sales is not deployed (prefix {prefix}): deploying it first"),
        text.index("sales json: batches validated and stored: 40 batches done in"),
        text.index("sales (run "),
    ]
    assert order == sorted(order), text[-3000:]
    assert re.search(r"sales \(run \w+\): records 20,000, stored 18,000, rejected 2,000 in [\d.]+ s, as expected", text)
    report = re.search(r"report: (testbed-reports/sales-\w+\.html)", text)
    assert report, text[-1000:]
    assert (Path(env["CWD"]) / report.group(1)).is_file()


def test_a_log_gets_each_workflow_in_one_whole_line_at_80_columns(env: dict[str, str]) -> None:
    """The demo through a pipe at COLUMNS=80: each workflow's run summary is one line, with
    its counts named in words, whatever its length; no control characters."""
    output = run_cli({**env, "COLUMNS": "80"}, "demo", "--records", "10")
    lines = output.splitlines()
    assert "\x1b" not in output
    for name in workflows():
        summaries = [line for line in lines if line.startswith(f"{name} (run ")]
        assert len(summaries) == 1, f"{name}: {summaries}\n{output}"
        assert re.search(r" in [\d.]+ s, as expected$", summaries[0]), summaries[0]
        assert "_" not in summaries[0].split(": ", 1)[1], f"a count named as a key: {summaries[0]}"
    assert any(len(line) > 80 for line in lines), "no line was long enough to show that none is broken"


def test_deploy_says_each_change_once_with_its_result(env: dict[str, str]) -> None:
    with_prefix = {**env, "TESTBED_PREFIX": f"d{uuid.uuid4().hex[:6]}"}
    planned = re.findall(r"^create\s+(\S+)\s+(\S+)$", run_cli(with_prefix, "deploy", "-w", "orders", "--plan"), re.M)
    assert planned

    output = run_cli(with_prefix, "deploy", "-w", "orders")

    made = re.findall(r"^created\s+(\S+)\s+(\S+)\s+[\d.]+ s$", output, re.M)
    assert sorted(made) == sorted(planned), output
    assert not re.search(r"^create ", output, re.M), f"the plan was printed before the changes:\n{output}"
    assert len(output.splitlines()) == len(planned) + 2, output  # the first line, the changes, the last line


def test_status_sees_a_resource_that_differs_from_the_model(env: dict[str, str]) -> None:
    prefix = f"s{uuid.uuid4().hex[:6]}"
    with_prefix = {**env, "TESTBED_PREFIX": prefix}
    run_cli(with_prefix, "deploy", "-w", "orders")
    resources = len(stack_for(["orders"]).resources)
    assert f"  workflow orders: deployed ({resources} resources)" in run_cli(with_prefix, "status")
    exports = dict(re.findall(r"^export (\w+)=(\S+)$", run_cli(with_prefix, "env"), re.M))
    session = boto3.session.Session(
        aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
        region_name=exports["AWS_REGION"],
    )
    iam = session.client("iam", endpoint_url=exports["AWS_ENDPOINT_URL"])
    role = f"{prefix}-check-transaction-role"
    policy = iam.list_role_policies(RoleName=role)["PolicyNames"][0]
    allow = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}'
    iam.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=allow)
    lam = session.client("lambda", endpoint_url=exports["AWS_ENDPOINT_URL"])
    lam.update_function_configuration(FunctionName=f"{prefix}-check-transaction", Timeout=17)

    status = run_cli(with_prefix, "status")

    assert f"  workflow orders: partly deployed: {resources} present, 2 differ (testbed deploy)" in status, status
