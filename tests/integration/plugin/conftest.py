"""What the plugin's tests share: an environment with nothing of this checkout in it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def outside_env(tmp_path: Path) -> dict[str, str]:
    """The caller's environment without AWS, testbed or Python path settings, so a
    subprocess sees only what is installed and what its own directory holds."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "TESTBED_", "LOCALSTACK_", "PYTEST_")) and key != "PYTHONPATH"
    }
    env["TESTBED_STATE_DIR"] = str(tmp_path / "state")
    # No profile of the person running the tests may answer instead of the engine.
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-aws-config")
    # Long paths stay on one line in the CLI's output.
    env["COLUMNS"] = "500"
    return env
