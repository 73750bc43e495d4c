"""A failed test that waited for an execution names a picture of that execution's path.

A throw-away test (outside the suite, run by a pytest of its own with this project's
settings and its own embedded engine) waits for a declined order, which ends in the Fail
state TransactionDeclined, and asserts it succeeded. Its failure report must name an SVG
under --testbed-pictures that shows the path and marks TransactionDeclined as failed;
the session's end must name the coverage picture of the machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
INNER_TIMEOUT = 240  # an engine start, a deploy of the orders workflow, one execution

INNER_TEST = """\
from fixtures.orders import generate_orders
from serverless_testbed.executions import start, wait_execution
from infra.workflows import orders as workflow


def test_a_declined_order_succeeds(deploy, deployer):
    stack = deploy("orders")
    declined = next(dict(g.record) for g in generate_orders(40, 0.5, seed=11) if not g.expected.valid)
    arn = start(deployer.clients, stack.bind(deployer.ctx).arn(workflow.MACHINE), declined)
    execution = wait_execution(deployer.clients, arn)
    assert execution.succeeded, execution.path
"""


@pytest.mark.slow
@pytest.mark.embedded_only("the inner session starts an embedded engine of its own")
def test_a_failed_test_names_the_picture_of_its_execution_path(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TEST))
    pictures = tmp_path / "pictures"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(REPO / "pyproject.toml"),
            "--rootdir",
            str(REPO),
            str(tmp_path / "test_inner.py"),
            "--testbed-pictures",
            str(pictures),
            "-o",
            f"cache_dir={tmp_path / 'cache'}",
            "--testbed-target",
            "embedded",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=INNER_TIMEOUT,
        check=False,
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode == 1, f"expected the inner test to fail, exit {finished.returncode}:\n{output[-3000:]}"
    assert "testbed execution pictures" in output, output[-3000:]
    named = re.findall(r"(/\S+\.svg)\s*$", output, re.M)
    failed = [Path(name) for name in named if "/failed/" in name]
    assert len(failed) == 1, f"expected one path picture named, saw {named}"
    assert failed[0].is_relative_to(pictures)
    svg = failed[0].read_text()
    assert re.search(r'id="[^"]*state&#45;TransactionDeclined" class="node state Fail entered [^"]*failed', svg), (
        "expected TransactionDeclined drawn as the failing state"
    )
    coverage = [Path(name) for name in named if "/coverage/" in name]
    assert len(coverage) == 1, f"expected the session's coverage picture named, saw {named}"
    assert coverage[0].is_file()
    assert "not covered" in coverage[0].read_text()
