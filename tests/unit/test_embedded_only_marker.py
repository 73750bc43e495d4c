"""The `embedded_only` marker (infra/serverless_testbed/pytest_embedded_only.py): a marked test runs on the
embedded engine in full mode only, and is skipped with its reason everywhere else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from serverless_testbed.pytest_embedded_only import embedded_only_skip

ROOT = Path(__file__).resolve().parents[2]

SAMPLE = """
import pytest

@pytest.mark.embedded_only(reason="needs the sample patch")
def test_marked():
    pass

def test_plain():
    pass
"""


def run_pytest(tmp_path: Path, source: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(source)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\naddopts = --strict-markers -rs -p serverless_testbed.pytest_embedded_only\nmarkers =\n"
        "    embedded_only(reason): embedded engine only\n"
    )
    clean = {key: value for key, value in os.environ.items() if not key.startswith("TESTBED_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", str(tmp_path / "test_sample.py"), *args],
        cwd=tmp_path,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_reason_says_why_and_where():
    assert embedded_only_skip("embedded", "full", "r") is None
    assert embedded_only_skip("container", "full", "r") == "embedded engine only: r (target is container)"
    assert embedded_only_skip("embedded", "stock", "r") == (
        "embedded engine only: r (TESTBED_ENGINE_MODE=stock, as a stock LocalStack container)"
    )


def test_marked_tests_run_on_the_embedded_engine(tmp_path: Path):
    result = run_pytest(tmp_path, SAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


@pytest.mark.parametrize(
    ("env", "where"),
    [
        ({"TESTBED_TARGET": "container"}, "(target is container)"),
        ({"TESTBED_TARGET": "compose"}, "(target is compose)"),
        ({"TESTBED_ENGINE_MODE": "stock"}, "(TESTBED_ENGINE_MODE=stock, as a stock LocalStack container)"),
    ],
)
def test_marked_tests_are_skipped_elsewhere_with_their_reason(tmp_path: Path, env: dict[str, str], where: str):
    result = run_pytest(tmp_path, SAMPLE, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert f"embedded engine only: needs the sample patch {where}" in result.stdout


def test_a_marker_without_reason_is_a_usage_error(tmp_path: Path):
    result = run_pytest(tmp_path, "import pytest\n\n@pytest.mark.embedded_only\ndef test_x():\n    pass\n")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "needs a reason" in result.stderr


def test_an_unknown_engine_mode_is_a_usage_error(tmp_path: Path):
    result = run_pytest(tmp_path, SAMPLE, TESTBED_ENGINE_MODE="stok")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "TESTBED_ENGINE_MODE='stok' is not an engine mode" in result.stderr
