"""Whether the embedded engine enforces IAM (`TESTBED_IAM_ENFORCE`).

Standard library only: the engine's host side reads it without importing LocalStack.
On by default in an embedded engine that is not in stock mode (a stock LocalStack
container enforces nothing); `TESTBED_IAM_ENFORCE=0` turns it off, `1` on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

IAM_ENFORCE_VAR = "TESTBED_IAM_ENFORCE"
_ON = {"1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off"}


def iam_enforcement_on(environ: Mapping[str, str] | None = None, *, default: bool = True) -> bool:
    """The setting of TESTBED_IAM_ENFORCE (`default` when unset or empty)."""
    env = os.environ if environ is None else environ
    value = (env.get(IAM_ENFORCE_VAR) or "").strip().lower()
    if not value:
        return default
    if value in _ON:
        return True
    if value in _OFF:
        return False
    from serverless_testbed.errors import BadInput

    raise BadInput(f"{IAM_ENFORCE_VAR}={value!r} is not a switch; use 1 (enforce IAM) or 0 (do not)")


def enforces_iam(engine: object) -> bool:
    """Whether `engine` checks roles' requests against their policies, as AWS does: an
    embedded engine in full mode with enforcement on (stock containers check nothing)."""
    return (
        getattr(engine, "name", None) == "embedded"
        and bool(getattr(engine, "iam_enforce", False))
        and getattr(engine, "mode", "full") == "full"
    )
