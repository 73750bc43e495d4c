"""The `embedded_only` marker: a test that needs what only the embedded engine does.

One suite runs on every target. A test that depends on behaviour a stock LocalStack
4.14.0 container does not have (a fidelity patch, the local-process Lambda executor, the
engine's own processes) says so with `@pytest.mark.embedded_only(reason="...")`; it is
skipped, with that reason, on every other target and on the embedded engine in stock
mode (`TESTBED_ENGINE_MODE=stock`), where the engine answers as a stock container does.

Loaded with `-p serverless_testbed.pytest_embedded_only` (pyproject.toml addopts, where the marker is
registered too); kept apart from `serverless_testbed.pytest_plugin` so that each can change on its own.
"""

from __future__ import annotations

import pytest
from serverless_testbed.errors import BadInput
from serverless_testbed.localstack_plugins.scope import ENGINE_MODE_VAR, engine_mode
from serverless_testbed.settings import Settings

MARKER = "embedded_only"
# The target option of the testbed plugin (serverless_testbed.pytest_plugin.OPTION); read by name so that
# this module does not import that one.
TARGET_OPTION = "--testbed-target"


def embedded_only_skip(target: str, mode: str, reason: str) -> str | None:
    """Why a test marked embedded_only is skipped here, or None when it runs."""
    if target != "embedded":
        return f"embedded engine only: {reason} (target is {target})"
    if mode != "full":
        return f"embedded engine only: {reason} ({ENGINE_MODE_VAR}={mode}, as a stock LocalStack container)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every `embedded_only` test where it cannot hold, with its reason."""
    try:
        option = config.getoption(TARGET_OPTION, default=None)
        target = Settings.from_env(target=option).target
        mode = engine_mode()
    except BadInput as err:
        raise pytest.UsageError(str(err)) from err
    for item in items:
        marker = item.get_closest_marker(MARKER)
        if marker is None:
            continue
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
        if not reason:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER} needs a reason (reason='...')")
        if why := embedded_only_skip(target, mode, str(reason)):
            item.add_marker(pytest.mark.skip(reason=why))
