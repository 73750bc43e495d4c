"""Under pytest-xdist (`make test` runs `-n auto`), each worker is a session of its own; the
controller still prints one coverage table, the sum of the workers', and their pictures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from serverless_testbed.coverage import Coverage, Model

RECORDED = Path(__file__).parent / "coverage_histories" / "parallel_map_retry_catch.json"

SESSION_TESTS = f"""
import json
import os

import pytest

from serverless_testbed.coverage import Coverage, Model
from serverless_testbed.pytest_plugin import COVERAGE_KEY

RECORDED = json.loads(open({str(RECORDED)!r}).read())


@pytest.mark.parametrize("n", range(6))
def test_one_execution(request, n):
    coverages = request.config.stash.setdefault(COVERAGE_KEY, {{}})
    coverages.setdefault("recorded", Coverage(Model.from_asl(RECORDED["definition"]))).add_history(RECORDED["history"])
    with open("workers.txt", "a") as ran:
        print(os.environ["PYTEST_XDIST_WORKER"], file=ran)
"""


def test_the_coverage_of_all_workers_is_reported_once_and_summed(tmp_path: Path):
    (tmp_path / "test_sessions.py").write_text(SESSION_TESTS)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", "test_sessions.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert set((tmp_path / "workers.txt").read_text().split()) == {"gw0", "gw1"}, "the tests ran on two workers"
    recorded = json.loads(RECORDED.read_text())
    whole = Coverage(Model.from_asl(recorded["definition"]))
    for _ in range(6):
        whole.add_history(recorded["history"])
    table = [line for line in done.stdout.splitlines() if line.startswith("recorded ")]
    assert table == [f"recorded  {6:>10}     8/8          3/3      1/2      1/1       3/3"], done.stdout
    written = json.loads((tmp_path / "build" / "testbed" / "coverage.json").read_text())
    assert written["recorded"]["executions"] == 6
    assert written["recorded"]["states"] == whole.to_json()["states"]
