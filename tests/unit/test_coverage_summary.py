"""The session's coverage summary (`pytest_terminal_summary` in infra/serverless_testbed/pytest_plugin.py) in a
real pytest run of its own: the details JSON lands in the pytest cache, or, when the cache
plugin is off (`-p no:cacheprovider`, where `config.cache` does not exist), under
`build/testbed/` instead of crashing the session's end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# A session that recorded one machine's coverage (as `record_coverage` does before a destroy).
CONFTEST = """
from serverless_testbed.coverage import Coverage, Model
from serverless_testbed.pytest_plugin import COVERAGE_KEY


def pytest_configure(config):
    model = Model.from_asl({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
    config.stash[COVERAGE_KEY] = {"one-pass": Coverage(model)}
"""


def run_session(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_nothing_else.py").write_text("def test_it():\n    assert [1] == [1]\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *options, "test_nothing_else.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("options", "where"),
    [
        (("-p", "no:cacheprovider"), Path("build/testbed/coverage.json")),
        ((), Path(".pytest_cache/d/testbed/coverage.json")),
    ],
    ids=["cache-off", "cache-on"],
)
def test_the_coverage_details_are_written_with_or_without_the_pytest_cache(
    tmp_path: Path, options: tuple[str, ...], where: Path
) -> None:
    done = run_session(tmp_path, *options)

    assert done.returncode == 0, f"the session should pass; it ended {done.returncode}:\n{done.stdout}{done.stderr}"
    assert "INTERNALERROR" not in done.stdout + done.stderr
    assert "state machine coverage (covered/total)" in done.stdout
    assert f"details: {tmp_path / where}" in done.stdout, done.stdout
    details = json.loads((tmp_path / where).read_text())
    assert details["one-pass"]["states"]["total"] == 1
    assert details["one-pass"]["uncovered"]["states"] == ["A"]
