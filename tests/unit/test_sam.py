"""`testbed deploy --template`: what it checks before it reaches for an engine or SAM."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from serverless_testbed.cli import app
from serverless_testbed.sam import python_path
from typer.testing import CliRunner

pytestmark = pytest.mark.unit


def test_a_template_without_a_stack_name_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TESTBED_STATE_DIR", str(tmp_path / "state"))
    result = CliRunner().invoke(app, ["deploy", "--template", "template.yaml"], prog_name="testbed")
    assert result.exit_code == 2
    assert "--template and --stack-name go together" in result.stderr


def test_sam_finds_each_installed_runtime_python_by_its_name(tmp_path: Path):
    path = python_path(tmp_path / "pythons", dict(os.environ))
    assert path.split(os.pathsep)[0] == str(tmp_path / "pythons")
    linked = sorted((tmp_path / "pythons").iterdir())
    assert linked, "this machine has no Python 3.9 to 3.14 at all"
    for link in linked:
        version = subprocess.run([link, "-c", "import sys; print(sys.version_info[1])"], capture_output=True, text=True)
        assert link.name == f"python3.{version.stdout.strip()}"
