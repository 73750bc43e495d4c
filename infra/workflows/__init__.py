"""The workflow registry: every module here with a `WORKFLOW` is one workflow.

`WORKFLOWS` maps each workflow's name to its declaration (`infra.workflows.workflow`);
`stack_for()` joins the chosen ones into one stack. A new workflow is a new module in
this package, found without editing this file. Only the standard library and the stack
model are imported here, so the compose init hook can deploy with the LocalStack image's
Python.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence

from infra.errors import BadInput
from infra.stack.stack import Stack
from infra.workflows.workflow import Workflow

_NOT_WORKFLOWS = {"workflow"}


def _discover() -> dict[str, Workflow]:
    found: dict[str, Workflow] = {}
    for module in sorted(info.name for info in pkgutil.iter_modules(__path__)):
        if module in _NOT_WORKFLOWS:
            continue
        declared = getattr(importlib.import_module(f"{__name__}.{module}"), "WORKFLOW", None)
        if not isinstance(declared, Workflow):
            continue
        if declared.name in found:
            raise ValueError(f"two workflows are named {declared.name!r} (infra/workflows/{module}.py)")
        found[declared.name] = declared
    return found


WORKFLOWS: dict[str, Workflow] = _discover()


class UnknownWorkflow(BadInput):
    """A workflow name that no module of infra/workflows declares."""


def workflow(name: str) -> Workflow:
    """The workflow called `name`; UnknownWorkflow lists the known ones."""
    if name not in WORKFLOWS:
        raise UnknownWorkflow(f"unknown workflow {name!r}; choose from {', '.join(WORKFLOWS)}")
    return WORKFLOWS[name]


def stack_for(workflows: Sequence[str] | None = None) -> Stack:
    """One stack holding the chosen workflows (all of them by default)."""
    chosen = [workflow(name) for name in (workflows or WORKFLOWS)]
    return Stack.of(*(item.resources() for item in chosen))
