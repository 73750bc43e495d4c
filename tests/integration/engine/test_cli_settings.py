"""The CLI against an engine of its own: `--prefix` falls back to $TESTBED_PREFIX, and
`testbed status` reports every workflow of the registry as deployed or not under a prefix.

It starts its own embedded engine with `testbed up` (the CLI's embedded target talks to
the engine recorded by `up`, not the session's), so it runs on the embedded target only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from serverless_testbed.registry import workflows
from serverless_testbed.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
TESTBED = [str(Path(sys.executable).parent / "testbed")]


@pytest.fixture(autouse=True)
def embedded_only(settings: Settings) -> None:
    if settings.target != "embedded":
        pytest.skip(f"starts its own embedded engine with `testbed up`; target is {settings.target}")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment without AWS or testbed settings, with an engine of its own up."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "TESTBED_"))}
    environ["TESTBED_STATE_DIR"] = str(tmp_path / "state")
    environ["AWS_CONFIG_FILE"] = environ["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-aws-config")
    run_cli("up", env=environ)
    try:
        yield environ
    finally:
        run_cli("down", env=environ)


def run_cli(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([*TESTBED, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"testbed {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


def workflow_rows(status: str) -> dict[str, str]:
    """`workflow NAME: state` lines of status (a list where no terminal shows it)."""
    rows = re.findall(r"^  workflow (\S+): (.+)$", status, re.MULTILINE)
    return dict(rows)


def test_prefix_comes_from_the_environment_and_status_shows_what_is_deployed(env: dict[str, str]):
    prefix = f"p{uuid.uuid4().hex[:6]}"
    with_prefix = {**env, "TESTBED_PREFIX": prefix}

    plan = run_cli("deploy", "-w", "orders", "--plan", env=with_prefix)
    names = re.findall(r"^create\s+\S+\s+(\S+)", plan, re.MULTILINE)
    assert names, f"the plan creates nothing:\n{plan}"
    assert all(name.startswith(f"{prefix}-") for name in names), f"$TESTBED_PREFIX={prefix} not used: {names}"

    run_cli("deploy", "-w", "orders", env=with_prefix)
    assert run_cli("deploy", "-w", "orders", "--plan", env=with_prefix).strip() == "nothing to change"

    rows = workflow_rows(run_cli("status", env=with_prefix))
    assert set(rows) == set(workflows()), f"status does not list every workflow: {rows}"
    assert rows["orders"].startswith("deployed ("), rows
    for name in set(workflows()) - {"orders"}:
        assert rows[name].startswith("not deployed"), rows

    elsewhere = workflow_rows(run_cli("status", "--prefix", f"{prefix}x", env=with_prefix))
    assert elsewhere["orders"].startswith("not deployed"), "--prefix given does not win over $TESTBED_PREFIX"
