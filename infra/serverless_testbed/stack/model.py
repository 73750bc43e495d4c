"""The stack as data, as a workflow writes it: every resource kind and the values they
take, in one import (`from serverless_testbed.stack.model import Function, Table, Ref`).

The kinds live one module each in `serverless_testbed.stack.kinds`, registered there;
what every kind is, in `serverless_testbed.stack.resource`.
"""

from __future__ import annotations

from serverless_testbed.stack import kinds
from serverless_testbed.stack.kinds import *  # noqa: F403 - every registered kind, by the registry's __all__
from serverless_testbed.stack.resource import (
    ARCHITECTURES,
    Context,
    Ref,
    Resource,
    Statement,
    Value,
    canonical_json,
    host_architecture,
)

__all__ = [
    "ARCHITECTURES",
    "Context",
    "Ref",
    "Resource",
    "Statement",
    "Value",
    "canonical_json",
    "host_architecture",
]
__all__ += kinds.__all__
