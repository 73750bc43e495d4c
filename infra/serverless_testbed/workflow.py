"""What one workflow is, declared once: name, resources, data generator, runner, trigger.

Every module of the project's workflow package (pyproject.toml `[tool.testbed] workflows`)
that holds a `WORKFLOW` is a workflow; the registry (`registry.workflows()`), the data
kinds of `testbed fixtures` (`generators.kinds()`) and the runners of `testbed run`
(`runs.runners()`) all derive from these objects, so one name serves `deploy -w`, `run`
and `fixtures`.

Generators and runners are named as `"module:attribute"` and imported when used: they
need Faker and boto3, and this package must stay importable with the standard library
and the stack model alone (the compose init hook deploys with the image's Python).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from serverless_testbed.errors import BadInput
from serverless_testbed.stack.model import Resource

NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
REFERENCE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


@dataclass(frozen=True)
class Workflow:
    """One workflow, whole: what `deploy`, `run`, `fixtures` and `demo` need of it."""

    name: str  # the one key: `testbed deploy -w NAME`, `testbed run NAME`, `testbed fixtures NAME`
    summary: str  # one line for `--help` (the workflows listed under a command that takes one)
    resources: Callable[[], Iterable[Resource]]
    generator: str  # "module:function" (records, invalid_rate, seed, *, run_id) -> list[Generated]
    runner: str  # "module:function" (deployer, stack, options) -> RunResult
    trigger: str  # how a run starts it, in words
    renderer: str | None = None  # "module:function" (generated, fmt) -> file text, for file kinds
    formats: tuple[str, ...] = ("json",)  # what `testbed fixtures --format` accepts; the first is the default

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name):
            raise ValueError(f"workflow name {self.name!r}: lower-case words joined by '-'")
        for what in ("generator", "runner", "renderer"):
            reference = getattr(self, what)
            if reference is not None and not REFERENCE.fullmatch(reference):
                raise ValueError(f"workflow {self.name}: {what} {reference!r} is not 'module:attribute'")
        if not self.formats:
            raise ValueError(f"workflow {self.name}: at least one format")

    def load_generator(self) -> Any:
        """The data generator (imports it)."""
        return load(self.generator)

    def load_runner(self) -> Any:
        """The runner (imports it)."""
        return load(self.runner)

    def load_renderer(self) -> Any | None:
        """The file renderer, for workflows whose data is a file (imports it)."""
        return load(self.renderer) if self.renderer else None


def load(reference: str) -> Any:
    """The attribute a `"module:attribute"` reference names; BadInput, in one line, when its
    module cannot be imported or lacks it (a package of that name installed in the
    environment hides the project's, a module missing or moved)."""
    module, attribute = reference.split(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except ModuleNotFoundError as err:
        raise BadInput(f"cannot import {reference}: {err}") from err
    except AttributeError as err:
        raise BadInput(f"cannot import {reference}: module {module} has no {attribute!r}") from err
