"""A resource kind is one module: its class is named in its own module and the registry
(`stack/kinds/__init__.py`, which `stack/model.py` re-exports whole), and in no other file
of the stack package. The planner, executor, policies and CloudFormation export go
through the methods every kind has."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import serverless_testbed.stack.resource as resource_module
from serverless_testbed.stack.kinds import KINDS
from serverless_testbed.stack.resource import Resource

PACKAGE = Path(resource_module.__file__).parent


def _identifiers(path: Path) -> set[str]:
    """Every name the code of `path` uses or imports (not strings, not docstrings)."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
    return names


FILES = {path.relative_to(PACKAGE).as_posix(): _identifiers(path) for path in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_each_kind_is_named_in_its_module_and_the_registry_only(kind: type[Resource]) -> None:
    naming = sorted(path for path, names in FILES.items() if kind.__name__ in names)
    assert naming == sorted(["kinds/__init__.py", f"kinds/{kind.__module__.rsplit('.', 1)[-1]}.py"])


def test_the_model_offers_every_kind() -> None:
    from serverless_testbed.stack import model

    assert all(getattr(model, kind.__name__) is kind for kind in KINDS)


def test_the_machinery_names_no_kind() -> None:
    machinery = ["planner.py", "executor.py", "remote.py", "policies.py", "cloudformation.py", "stack.py", "reset.py"]
    kinds = {kind.__name__ for kind in KINDS}
    for path in machinery:
        assert not FILES[path] & kinds, f"{path} names {sorted(FILES[path] & kinds)}"


def test_every_kind_is_registered() -> None:
    modules = {path.removeprefix("kinds/").removesuffix(".py") for path in FILES if path.startswith("kinds/")}
    registered = {kind.__module__.rsplit(".", 1)[-1] for kind in KINDS}
    assert modules - {"__init__"} == registered
