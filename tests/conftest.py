"""What only this repository's suite needs on top of the testbed pytest plugin
(`serverless_testbed.pytest_plugin`, loaded through its `pytest11` entry point): markers by folder,
the hypothesis profile, and the short names `settings` and `engine` its tests use.

The target comes from `--testbed-target`, else $TESTBED_TARGET, else `embedded`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings as hypothesis_settings
from serverless_testbed.pytest_plugin import OPTION
from serverless_testbed.settings import Settings

if TYPE_CHECKING:
    from serverless_testbed.engine import Engine

# The machine is shared and noisy: property tests check behaviour, never speed.
hypothesis_settings.register_profile("testbed", deadline=None)
hypothesis_settings.load_profile("testbed")

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by folder: tests/unit -> unit, tests/integration -> integration. Under
    pytest-xdist, files holding a `slow` test go first: a long file started last would keep
    one worker busy while the others have nothing left to do."""
    target = Settings.from_env(target=config.getoption(OPTION)).target
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT).parts
        if "unit" in parts:
            item.add_marker(pytest.mark.unit)
        elif "integration" in parts:
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("aws") and target != "aws":
            item.add_marker(pytest.mark.skip(reason="needs real AWS: --testbed-target aws or TESTBED_TARGET=aws"))
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the scheduler follows its order
        slow_files = {item.path for item in items if item.get_closest_marker("slow")}
        items.sort(key=lambda item: item.path not in slow_files)  # stable: the order is kept within each group


@pytest.fixture(scope="session")
def settings(testbed_settings: Settings) -> Settings:
    """The plugin's `testbed_settings` under the name this suite's tests use."""
    return testbed_settings


@pytest.fixture(scope="session")
def engine(testbed_engine: Engine) -> Engine:
    """The plugin's `testbed_engine` under the name this suite's tests use."""
    return testbed_engine
