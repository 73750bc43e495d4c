"""Where this project's LocalStack hooks act: only inside an engine the project started.

The hooks are registered as entry points (`localstack.hooks.on_infra_start` in
pyproject.toml), so LocalStack would load them in every LocalStack process of an
environment where this package is installed, a developer's own `localstack start`
included. Each hook is therefore wrapped by `only_in_testbed_engine`: it runs only where
`TESTBED_ENGINE_ID` is set (the embedded engine sets it), and a fidelity patch, which
changes what a client sees, also not in stock mode (`TESTBED_ENGINE_MODE=stock`), where
the embedded engine answers as a stock LocalStack 4.14.0 container does.

Only the standard library is imported here: the test suite and the engine's host side
read the mode without importing LocalStack.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping
from typing import Literal, get_args

LOG = logging.getLogger(__name__)

ENGINE_ID_VAR = "TESTBED_ENGINE_ID"
ENGINE_MODE_VAR = "TESTBED_ENGINE_MODE"
EngineMode = Literal["full", "stock"]
ENGINE_MODES: tuple[str, ...] = get_args(EngineMode)
# The attribute a guarded hook carries: which guard it has ("engine" or "fidelity").
GUARD_ATTRIBUTE = "testbed_guard"


def engine_mode(environ: Mapping[str, str] | None = None) -> EngineMode:
    """`full` (every fidelity patch, the default) or `stock` (none), from TESTBED_ENGINE_MODE."""
    env = os.environ if environ is None else environ
    value = env.get(ENGINE_MODE_VAR) or "full"
    if value == "stock":
        return "stock"
    if value == "full":
        return "full"
    from serverless_testbed.errors import BadInput

    raise BadInput(f"{ENGINE_MODE_VAR}={value!r} is not an engine mode; choose one of {', '.join(ENGINE_MODES)}")


def inside_testbed_engine(environ: Mapping[str, str] | None = None) -> bool:
    """True in a LocalStack process this project started (and only there)."""
    env = os.environ if environ is None else environ
    return bool(env.get(ENGINE_ID_VAR))


def fidelity_patches_on(environ: Mapping[str, str] | None = None) -> bool:
    """True where the fidelity patches apply: inside a testbed engine that is not in stock mode."""
    return inside_testbed_engine(environ) and engine_mode(environ) == "full"


def only_in_testbed_engine(*, fidelity: bool = False) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Wrap an on_infra_start hook so that it runs only inside a testbed engine (and, for a
    fidelity patch, only when the engine is not in stock mode)."""

    def decorate(hook: Callable[[], None]) -> Callable[[], None]:
        @functools.wraps(hook)
        def guarded() -> None:
            applies = fidelity_patches_on() if fidelity else inside_testbed_engine()
            if not applies:
                LOG.debug("testbed hook %s skipped: not a testbed engine, or stock mode", hook.__name__)
                return
            hook()

        setattr(guarded, GUARD_ATTRIBUTE, "fidelity" if fidelity else "engine")
        return guarded

    return decorate
