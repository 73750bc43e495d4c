"""`testbed new workflow invoices` in a copy of the project gives a workflow that works.

The checkout's files (tracked and new, as git lists them; no .venv) are copied into a
temporary folder; the scaffold runs there as a user runs it; then the new files must pass
ruff and mypy, and pytest, run in the copy with this venv, must pass the new unit and
integration tests, and no test of the unit suite may fail that passes without the scaffold
(which catches a registry, an ASL rule or a test that a sixth workflow breaks).
The copy's root comes first on sys.path (PYTHONPATH), so the copy's `infra` and
`fixtures` are the ones imported, not this checkout's (the venv's editable install
points here).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
NAME = "invoices"
NEW_FILES = [
    "asl/invoices.asl.json",
    "src/invoices_validate/handler.py",
    "src/invoices_validate/rules.py",
    "infra/workflows/invoices.py",
    "fixtures/invoices.py",
    "infra/runs/invoices.py",
    "tests/unit/invoices/test_invoices_rules.py",
    "tests/integration/invoices/test_invoices.py",
]


def copy_checkout(into: Path) -> Path:
    """The checkout's tracked and untracked-but-not-ignored files, as they are on disk, in a
    repository of their own."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for relative in filter(None, listed.split("\0")):
        source = ROOT / relative
        if not source.is_file():  # deleted in the working tree, not yet in git
            continue
        target = into / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    # A checkout is a git repository (tests list its files with git): the copy's index
    # holds the copied files, and the scaffold's files are new to it, as to a user's.
    for command in (["init", "-q"], ["add", "--all"]):
        subprocess.run(["git", *command], cwd=into, capture_output=True, check=True)
    return into


def target_of(config: pytest.Config) -> str | None:
    """The target this session runs against, to run the copy's tests against the same."""
    for option in ("--testbed-target", "--target"):
        chosen = config.getoption(option, default=None)
        if chosen:
            return str(chosen)
    return os.environ.get("TESTBED_TARGET")


def run(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return done, time.monotonic() - started


def pytest_command(junit: Path, *tests: str) -> list[str]:
    """pytest in the copy, with this venv, writing a JUnit report to read the outcomes from."""
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *tests]


def outcomes(junit: Path) -> dict[str, str]:
    """Each test of a JUnit report ("file::name") and how it ended: passed, skipped, failed."""
    found: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        ended = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                ended = "failed"
            elif child.tag == "skipped" and ended == "passed":
                ended = "skipped"
        found[f"{case.get('classname')}::{case.get('name')}"] = ended
    return found


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_scaffolded_workflow_passes_lint_and_its_tests(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    target = target_of(request.config)
    if target == "aws":
        pytest.skip("the scaffolded workflow's integration test does not run against real AWS")
    copy = copy_checkout(tmp_path / "project")
    env = {key: value for key, value in os.environ.items() if key == "PYTEST_ADDOPTS" or not key.startswith("PYTEST_")}
    env |= {"PYTHONPATH": str(copy), "TESTBED_PROJECT_ROOT": str(copy), "COLUMNS": "200"}
    env |= {"TESTBED_STATE_DIR": str(tmp_path / "state")} | ({"TESTBED_TARGET": target} if target else {})
    times: dict[str, float] = {}

    scaffolded, times["scaffold"] = run(
        [sys.executable, "-m", "serverless_testbed.cli", "new", "workflow", NAME], copy, env, 60
    )
    assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr
    assert f"created workflow {NAME} in {copy}" in scaffolded.stdout
    for path in NEW_FILES:
        assert (copy / path).is_file(), f"{path} was not written"
        assert not (ROOT / path).exists(), f"{path} was written into this checkout"

    python_files = [path for path in NEW_FILES if path.endswith(".py")]
    lint = {
        "ruff check": [str(BIN / "ruff"), "check", *python_files],
        "ruff format": [str(BIN / "ruff"), "format", "--check", *python_files],
        # As `make lint` checks the project's own code (the package is checked by plain `mypy`).
        "mypy": [
            sys.executable,
            "-m",
            "mypy",
            "--no-explicit-package-bases",
            *[p for p in python_files if p.startswith(("infra/", "fixtures/"))],
        ],
    }
    for what, command in lint.items():
        done, times[what] = run(command, copy, env, 300)
        assert done.returncode == 0, f"{what} on the scaffolded files:\n{done.stdout}{done.stderr}"

    after = tmp_path / "after.xml"
    done, times["tests"] = run(pytest_command(after, "tests/unit", f"tests/integration/{NAME}"), copy, env, 900)
    ended = outcomes(after)
    own = {test: how for test, how in ended.items() if test.startswith(f"tests.integration.{NAME}.")}
    assert len(own) == 5, f"expected the 5 integration tests of {NAME}, the report has {sorted(own)}"
    unit = {test: how for test, how in ended.items() if test.startswith(f"tests.unit.{NAME}.")}
    assert unit, f"the unit tests of {NAME} did not run"
    assert set(own.values()) | set(unit.values()) == {"passed"}, f"{own} {unit}\n{done.stdout[-6000:]}"
    failed = {test for test, how in ended.items() if how == "failed"}
    # A test that fails without the scaffold too (another change in progress in this
    # checkout) is not the scaffold's doing: the unit suite runs in an untouched copy only
    # when something failed, to tell the two apart.
    baseline_failures: set[str] = set()
    if failed:
        before = tmp_path / "before.xml"
        untouched = copy_checkout(tmp_path / "untouched")
        untouched_env = env | {"PYTHONPATH": str(untouched), "TESTBED_PROJECT_ROOT": str(untouched)}
        run(pytest_command(before, "tests/unit"), untouched, untouched_env, 900)
        baseline_failures = {test for test, how in outcomes(before).items() if how == "failed"}
    broken = failed - baseline_failures
    assert not broken, f"tests that pass without the scaffold fail with it: {sorted(broken)}\n{done.stdout[-6000:]}"
    if baseline_failures:
        print(f"failing before the scaffold already (not its doing): {sorted(baseline_failures)}")
    print("times (s): " + ", ".join(f"{what} {seconds:.1f}" for what, seconds in times.items()))
