"""The workflow registry: the workflows of the project the testbed runs in.

A project names the package of its workflow declarations in pyproject.toml
(`[tool.testbed] workflows = "..."`, see `serverless_testbed.project`); every module of
that package holding a `WORKFLOW` (`serverless_testbed.workflow.Workflow`) is one workflow,
found without any list to edit. `workflows()` maps each name to its declaration, read
anew on each call (modules are imported once); `stack_for()` joins the chosen ones into
one stack. Only the standard library and the stack model are imported here, so the
compose init hook can deploy with the LocalStack image's Python.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from serverless_testbed.errors import BadInput
from serverless_testbed.project import PYPROJECT, find_root, project_config
from serverless_testbed.stack.stack import Stack
from serverless_testbed.workflow import Workflow


class UnknownWorkflow(BadInput):
    """A workflow name that the project does not declare."""


class NoWorkflows(BadInput):
    """The project declares no workflow at all."""


def _comes_from(module: ModuleType, root: Path) -> bool:
    """Whether `module` (a package) was imported from under `root` (paths as found, not resolved)."""
    places = [getattr(module, "__file__", None), *getattr(module, "__path__", [])]
    return any(place and Path(os.path.abspath(place)).is_relative_to(root) for place in places)


@contextmanager
def project_imports(root: Path, package: str) -> Iterator[None]:
    """Import `package` of the project at `root`: `root` first on sys.path. When a package of
    the same top-level name is already imported from another project (a test holding two
    projects), it is set aside for the length of the block and put back after."""
    top = package.split(".")[0]
    imported = sys.modules.get(top)
    foreign = imported is not None and not _comes_from(imported, root)
    aside = {name: sys.modules.pop(name) for name in list(sys.modules) if foreign and _within(name, top)}
    added = str(root) not in sys.path or foreign
    if added:
        sys.path.insert(0, str(root))
    importlib.invalidate_caches()  # a module written since the last look (testbed new workflow)
    try:
        yield
    finally:
        if foreign:
            for name in [name for name in sys.modules if _within(name, top)]:
                del sys.modules[name]
            sys.modules.update(aside)
            sys.path.remove(str(root))


def _within(name: str, top: str) -> bool:
    return name == top or name.startswith(f"{top}.")


def _import(root: Path, package: str) -> ModuleType:
    try:
        module = importlib.import_module(package)
    except ModuleNotFoundError as err:
        if err.name and _within(package, err.name):
            raise BadInput(
                f"{root / PYPROJECT} [tool.testbed] names package {package!r}, which {root} does not hold"
            ) from err
        raise
    top = sys.modules[package.split(".")[0]]
    if not _comes_from(top, root):
        raise BadInput(
            f"package {top.__name__!r} is imported from {getattr(top, '__file__', None) or list(top.__path__)}, "
            "not from "
            f"the project {root}: an installed package of that name hides the project's; rename the project's package "
            "in pyproject.toml [tool.testbed]"
        )
    return module


def workflows(root: Path | None = None) -> dict[str, Workflow]:
    """Every workflow the project at `root` (default: `find_root()`) declares, by name, in
    module order; empty when the project declares none."""
    root = Path(os.path.abspath(root or find_root()))
    config = project_config(root)
    if config is None:
        return {}
    found: dict[str, Workflow] = {}
    with project_imports(root, config.workflows):
        package = _import(root, config.workflows)
        for module in sorted(info.name for info in pkgutil.iter_modules(getattr(package, "__path__", []))):
            declared = getattr(importlib.import_module(f"{config.workflows}.{module}"), "WORKFLOW", None)
            if not isinstance(declared, Workflow):
                continue
            if declared.name in found:
                raise BadInput(f"two workflows are named {declared.name!r} ({config.workflows}.{module} is the second)")
            found[declared.name] = declared
    return found


def no_workflows_message(root: Path | None = None) -> str:
    """What to tell a user whose project declares no workflow."""
    root = root or find_root()
    return (
        f"the project {root} declares no workflow: start one with `testbed new workflow NAME`, "
        "or name your workflow package in pyproject.toml [tool.testbed] workflows"
    )


def workflow(name: str) -> Workflow:
    """The workflow called `name`; UnknownWorkflow lists the known ones."""
    known = workflows()
    if not known:
        raise NoWorkflows(no_workflows_message())
    if name not in known:
        raise UnknownWorkflow(f"unknown workflow {name!r}; choose from {', '.join(known)}")
    return known[name]


def stack_for(chosen: Sequence[str] | None = None, root: Path | None = None) -> Stack:
    """One stack holding the chosen workflows of the project at `root` (default: `find_root()`;
    all of its workflows by default); NoWorkflows, in one line, when it declares none."""
    root = Path(os.path.abspath(root or find_root()))
    declared = workflows(root)
    if not declared:
        raise NoWorkflows(no_workflows_message(root))
    for name in chosen or []:
        if name not in declared:
            raise UnknownWorkflow(f"unknown workflow {name!r}; choose from {', '.join(declared)}")
    config = project_config(root)
    assert config is not None  # it declares workflows
    with project_imports(root, config.workflows):  # their resources are read in that project
        return Stack.of(*(declared[name].resources() for name in (chosen or declared)))
