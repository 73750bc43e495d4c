"""Session fixtures: one engine per test session for the chosen target, and boto3 clients.

The target comes from `--target`, else $TESTBED_TARGET, else `embedded`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from infra.engine import Engine, engine_for
from infra.errors import EngineUnavailable
from infra.settings import TARGETS, Settings

# The machine is shared and noisy: property tests check behaviour, never speed.
hypothesis_settings.register_profile("testbed", deadline=None)
hypothesis_settings.load_profile("testbed")

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--target",
        choices=TARGETS,
        default=None,
        help="where integration tests run (default: $TESTBED_TARGET or embedded)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by folder: tests/unit -> unit, tests/integration -> integration."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT).parts
        if "unit" in parts:
            item.add_marker(pytest.mark.unit)
        elif "integration" in parts:
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("aws") and os.environ.get("TESTBED_TARGET") != "aws":
            item.add_marker(pytest.mark.skip(reason="needs real AWS: TESTBED_TARGET=aws"))


@pytest.fixture(scope="session")
def settings(request: pytest.FixtureRequest) -> Settings:
    target = request.config.getoption("--target")
    return Settings.from_env(target=target, prefix=f"t{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    """The engine for this session, started once and stopped at the end."""
    if settings.target == "aws":
        pytest.skip("integration tests do not run against real AWS")
    instance = engine_for(settings)
    try:
        instance.start()
    except EngineUnavailable as err:
        pytest.skip(str(err))
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def aws(engine: Engine) -> Callable[[str], Any]:
    """`aws("s3")` gives a boto3 client pointed at the session's engine."""
    return engine.client


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names that do not collide between tests or parallel runs."""

    def make(stem: str) -> str:
        return f"{stem}-{uuid.uuid4().hex[:8]}"

    return make
